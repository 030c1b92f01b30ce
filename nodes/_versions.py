"""Which n8n version of a node a workflow asks for: nodes that follow n8n keep each version's behaviour."""

from __future__ import annotations

from typing import Any


def type_version(ctx: Any, latest: float) -> float:
    """The node's `typeVersion` from the workflow (an imported n8n node keeps it), else `latest`."""
    node = getattr(ctx, "node", None)
    version = getattr(node, "type_version", None)
    try:
        return float(version) if version is not None else latest
    except (TypeError, ValueError):
        return latest


def given(ctx: Any, name: str) -> bool:
    """Whether the workflow sets parameter `name` itself (n8n leaves out values equal to the default)."""
    node = getattr(ctx, "node", None)
    parameters = getattr(node, "parameters", None)
    return isinstance(parameters, dict) and name in parameters
