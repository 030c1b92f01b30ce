"""Stored records as the JSON the API, the editor and the CLI show (DESIGN §8): camelCase, ISO times."""

from __future__ import annotations

import datetime as dt
from typing import Any

from flowbox.store.base import ExecutionRecord, WorkflowRecord


def iso(value: dt.datetime | None) -> str | None:
    """A UTC time as ISO 8601 with a Z."""
    return value.isoformat().replace("+00:00", "Z") if value else None


def execution_to_json(record: ExecutionRecord, *, with_nodes: bool = True) -> dict[str, Any]:
    """An execution as JSON (DESIGN §8): nodes and error shaped as in `flowbox run --json`."""
    out: dict[str, Any] = {
        "id": record.id, "workflowId": record.workflow_id, "status": record.status, "mode": record.mode,
        "startedAt": iso(record.started_at), "finishedAt": iso(record.finished_at),
        "lastNode": record.last_node, "error": record.error,
    }
    if record.retry_of:
        out["retryOf"] = record.retry_of
    if record.custom_data:
        out["customData"] = record.custom_data
    if with_nodes:
        out["nodes"] = {name: [{"outputs": run.outputs, "error": run.error,
                                "startedAt": iso(run.started_at), "finishedAt": iso(run.finished_at)}
                               for run in runs]
                        for name, runs in record.nodes.items()}
    return out


def workflow_to_json(record: WorkflowRecord) -> dict[str, Any]:
    """A stored workflow as n8n-shaped JSON with its id and state."""
    out = {**record.data, "id": record.id, "name": record.name, "active": record.active,
           "version": record.version, "createdAt": iso(record.created_at), "updatedAt": iso(record.updated_at)}
    if record.conversion is not None:  # the answer to a save of n8n JSON (DESIGN §10)
        out["conversion"] = record.conversion
    return out
