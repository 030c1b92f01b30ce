"""Limit: keep only the first or last N items."""

from typing import Any

from flowbox.node import Context, Item, N8n, N8nNotes, Param, node
from flowbox.nodes._n8n import Params, bad


def from_n8n(params: dict[str, Any], version: float) -> tuple[dict[str, Any], N8nNotes]:
    """n8n's Limit: `maxItems` (default 1), `keep` firstItems (default) | lastItems."""
    p = Params(params, version)
    keep = p.take("keep", "firstItems")
    if keep not in ("firstItems", "lastItems"):
        raise bad("keep", f"must be 'firstItems' or 'lastItems'; got {keep!r}")
    return p.done({"max": p.take("maxItems", 1), "keep": "first" if keep == "firstItems" else "last"})


N8N = N8n(types=("n8n-nodes-base.limit",), versions=(1,), convert=from_n8n)


@node(n8n=N8N, type="limit", display_name="Limit", group="transform", icon="scissors",
      description="Keep only the first or last N items",
      params=[
          Param("max", "number", 1, min=0, required=True, integer=True),
          Param("keep", "options", "first", options=("first", "last")),
      ])
async def limit(ctx: Context, items: list[Item]) -> list[list[Item]]:
    n = ctx.param("max")
    if n < 0:
        raise ctx.error(f"max must be 0 or more, got {n}")
    kept = items[:n] if ctx.param("keep") == "first" else items[max(0, len(items) - n):]
    return [kept]
