"""Error Trigger: starts this workflow when a workflow naming it as `settings.errorWorkflow` fails."""

from typing import Any

from flowbox.node import Context, Item, N8n, N8nNotes, node
from flowbox.nodes._n8n import Params


def from_n8n(params: dict[str, Any], version: float) -> tuple[dict[str, Any], N8nNotes]:
    """n8n's Error Trigger: no parameters."""
    return Params(params, version).done({})


N8N = N8n(types=("n8n-nodes-base.errorTrigger",), versions=(1,), convert=from_n8n)


@node(n8n=N8N, type="errorTrigger", display_name="Error Trigger", group="trigger", trigger=True, on_failure=True,
      icon="alert-triangle",
      description="Runs when another workflow fails; emits {execution: {id, error, lastNodeExecuted}, workflow}")
async def error_trigger(ctx: Context, items: list[Item]) -> list[list[Item]]:
    return [items or [Item({"execution": {"id": None, "error": {"message": "example error"}, "mode": "manual"},
                            "workflow": {"id": None, "name": ""}})]]
