"""Filter: keep only the items for which the condition holds."""

from typing import Any

from flowbox.conditions import CONDITION_PARAMS, item_passes
from flowbox.node import Context, Item, ItemErrors, N8n, N8nNotes, node
from flowbox.nodes._n8n import conditions_from_n8n


def from_n8n(params: dict[str, Any], version: float) -> tuple[dict[str, Any], N8nNotes]:
    """n8n's Filter: the same condition layouts as If (v1 groups, v2.x `conditions`)."""
    return conditions_from_n8n(params, version)


N8N = N8n(types=("n8n-nodes-base.filter",), versions=(1, 2, 2.1, 2.2), convert=from_n8n)


@node(n8n=N8N, type="filter", display_name="Filter", group="flow", icon="filter", output_names=("kept",),
      description="Keep items where the condition holds; drop the rest", params=CONDITION_PARAMS)
async def filter_(ctx: Context, items: list[Item]) -> list[list[Item]]:
    kept: list[Item] = []
    errors = ItemErrors(ctx)
    for i, item in enumerate(items):
        try:
            if item_passes(ctx, i):
                kept.append(item)
        except Exception as exc:
            errors.fail(item, i, exc, kept)
    return errors.outputs(kept)
