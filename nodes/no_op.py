"""No operation: passes items through unchanged (useful as a junction or a placeholder)."""

from flowbox.node import Context, Item, node


@node(type="noOp", display_name="No Operation", group="flow", icon="arrow-right",
      description="Pass items through unchanged")
async def no_op(ctx: Context, items: list[Item]) -> list[list[Item]]:
    return [items]
