"""Stop and Error: fail the execution on purpose with a message."""

from flowbox.errors import StopAndError
from flowbox.node import Context, Item, Param, node


@node(type="stopAndError", display_name="Stop and Error", group="flow", icon="octagon-x", outputs=0,
      description="Fail the execution with a message (triggers the error workflow)",
      params=[Param("message", "string", "Workflow stopped", required=True)])
async def stop_and_error(ctx: Context, items: list[Item]) -> list[list[Item]]:
    message = ctx.param("message", 0) if items else ctx.raw_param("message")
    raise StopAndError(str(message), node=ctx.node_name)
