"""Stop and Error: fail the execution on purpose with a message."""

from typing import Any

from flowbox.errors import StopAndError
from flowbox.node import Context, Item, N8n, N8nNotes, Param, node
from flowbox.nodes._n8n import Params


def from_n8n(params: dict[str, Any], version: float) -> tuple[dict[str, Any], N8nNotes]:
    """n8n's Stop and Error: `errorType` errorMessage (default) with `errorMessage`; errorObject is not
    supported."""
    p = Params(params, version)
    if p.take("errorType", "errorMessage") != "errorMessage":
        p.unsupported("errorType 'errorObject' (an error object) is not supported; use a message")
    p.ignore("errorObject")
    return p.done({"message": p.take("errorMessage", "") or "Workflow stopped"})


N8N = N8n(types=("n8n-nodes-base.stopAndError",), versions=(1,), convert=from_n8n)


@node(n8n=N8N, type="stopAndError", display_name="Stop and Error", group="flow", icon="octagon-x", outputs=0,
      description="Fail the execution with a message (triggers the error workflow)",
      params=[Param("message", "string", "Workflow stopped", required=True)])
async def stop_and_error(ctx: Context, items: list[Item]) -> list[list[Item]]:
    message = ctx.param("message", 0) if items else ctx.raw_param("message")
    raise StopAndError(str(message), node=ctx.node_name)
