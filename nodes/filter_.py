"""Filter: keep only the items for which the condition holds."""

from flowbox.conditions import CONDITION_PARAMS, item_passes
from flowbox.node import Context, Item, ItemErrors, node


@node(type="filter", display_name="Filter", group="flow", icon="filter", output_names=("kept",),
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
