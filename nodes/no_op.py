"""No operation: passes items through unchanged (useful as a junction or a placeholder)."""

from typing import Any

from flowbox.node import Context, Item, N8n, N8nNotes, node
from flowbox.nodes._n8n import Params


def from_n8n(params: dict[str, Any], version: float) -> tuple[dict[str, Any], N8nNotes]:
    """n8n's No Operation: no parameters."""
    return Params(params, version).done({})


N8N = N8n(types=("n8n-nodes-base.noOp",), versions=(1,), convert=from_n8n)


@node(n8n=N8N, type="noOp", display_name="No Operation", group="flow", icon="arrow-right",
      description="Pass items through unchanged")
async def no_op(ctx: Context, items: list[Item]) -> list[list[Item]]:
    return [items]
