"""Limit: keep only the first or last N items."""

from flowbox.node import Context, Item, Param, node


@node(type="limit", display_name="Limit", group="transform", icon="scissors",
      description="Keep only the first or last N items",
      params=[
          Param("max", "number", 1, min=0, required=True),
          Param("keep", "options", "first", options=("first", "last")),
      ])
async def limit(ctx: Context, items: list[Item]) -> list[list[Item]]:
    n = int(ctx.param("max"))
    if n < 0:
        raise ctx.error(f"max must be 0 or more, got {n}")
    kept = items[:n] if ctx.param("keep") == "first" else items[max(0, len(items) - n):]
    return [kept]
