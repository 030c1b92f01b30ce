"""`/api/v1/nodes`: the node catalog with each type's parameter schema (what the editor's forms are built from)."""

from __future__ import annotations

from typing import Any

from litestar import Controller, get

from flowbox import registry
from flowbox.errors import NotFound, WorkflowInvalid


class NodeController(Controller):
    path = "/api/v1/nodes"
    tags = ["nodes"]

    @get("/", summary="The node catalog", cache=False)
    async def list_nodes(self, group: str | None = None) -> dict[str, Any]:
        specs = [s for s in registry.catalog() if group is None or s.group == group]
        return {"data": [spec.to_dict() for spec in specs], "nextCursor": None}

    @get("/{node_type:str}", summary="One node type")
    async def get_node(self, node_type: str) -> dict[str, Any]:
        try:
            return registry.get(node_type).to_dict()
        except WorkflowInvalid:
            raise NotFound("node type", node_type) from None


HANDLERS = [NodeController]
