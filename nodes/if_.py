"""If: route each item to output 0 (true) or output 1 (false)."""

from flowbox.conditions import CONDITION_PARAMS, item_passes
from flowbox.node import Context, Item, node


@node(type="if", display_name="If", group="flow", icon="split", outputs=2, output_names=("true", "false"),
      description="Send items where the condition holds to 'true', the rest to 'false'",
      params=CONDITION_PARAMS)
async def if_(ctx: Context, items: list[Item]) -> list[list[Item]]:
    true, false = [], []
    for i, item in enumerate(items):
        (true if item_passes(ctx, i) else false).append(item)
    return [true, false]
