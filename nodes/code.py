"""Code: run Python on the items, isolated in a worker process (time and memory limits)."""

from typing import Any

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
    source = ctx.raw_param("code") or ""
    results = await ctx.run_code(source, mode, items, float(ctx.param("timeout") or 30))
    out: list[Item] = []
    for i, value in enumerate(results):
        if value is None:
            continue
        if isinstance(value, dict) and isinstance(value.get("json"), dict) and set(value) <= {"json", "binary"}:
            data, binary = value["json"], value.get("binary")
        elif isinstance(value, dict):
            data, binary = value, None
        else:
            raise ctx.error(f"the code returned {type(value).__name__} {value!r:.60} where an object was expected")
        source = _source(items, i, mode, len(results))
        out.append(Item(data, binary or (source.binary if source and mode == "eachItem" else None), source))
    return [out]


def _source(items: list[Item], i: int, mode: str, n: int) -> Any:
    if mode == "eachItem" or n == len(items):
        return items[i] if i < len(items) else None
    return items[0] if len(items) == 1 else None
