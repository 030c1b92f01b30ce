"""Code: run Python on the items, isolated in a worker process (time and memory limits)."""

from flowbox.node import Context, Item, Param, node

EXAMPLE = """# `items` is the list of the input items' json; return a list of dicts
return [{**item, "seen": True} for item in items]
"""


@node(type="code", display_name="Code", group="transform", icon="code",
      description="Run Python code on all items at once or on each item; isolated in a worker process",
      params=[
          Param("language", "options", "python", options=("python",)),
          Param("mode", "options", "allItems", options=("allItems", "eachItem"),
                description="allItems: `items` -> list of dicts; eachItem: `item` -> one dict (None drops it)"),
          Param("code", "code", EXAMPLE, required=True),
          Param("timeout", "number", 30, min=0.1, max=3600, description="Seconds before the code is stopped"),
      ])
async def code(ctx: Context, items: list[Item]) -> list[list[Item]]:
    mode = ctx.param("mode")
    results = await ctx.run_code(ctx.raw_param("code") or "", mode, items, float(ctx.param("timeout") or 30))
    logs = getattr(results, "logs", "")
    if logs:
        ctx.log(logs.rstrip())
    out: list[Item] = []
    for i, result in enumerate(results):
        paired = result.get("pairedItem")
        if paired is None and len(results) == len(items):
            paired = i
        if paired is None and len(items) == 1:
            paired = 0
        source = items[paired] if isinstance(paired, int) and 0 <= paired < len(items) else None
        binary = result.get("binary") or (source.binary if source is not None and mode == "eachItem" else None)
        out.append(Item(result["json"], binary, source))
    return [out]
