"""If: route each item to output 0 (true) or output 1 (false)."""

from flowbox.conditions import CONDITION_PARAMS, item_passes
from flowbox.node import Context, Item, ItemErrors, node


@node(type="if", display_name="If", group="flow", icon="split", outputs=2, output_names=("true", "false"),
      description="Send items where the condition holds to 'true', the rest to 'false'",
      params=CONDITION_PARAMS)
async def if_(ctx: Context, items: list[Item]) -> list[list[Item]]:
    true: list[Item] = []
    false: list[Item] = []
    errors = ItemErrors(ctx)
    for i, item in enumerate(items):
        try:
            (true if item_passes(ctx, i) else false).append(item)
        except Exception as exc:
            errors.fail(item, i, exc, true)
    return errors.outputs(true, false)
