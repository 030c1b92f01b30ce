"""`/api/v1/workflows`: list, create, read, replace, delete, activate, run, versions (read, restore), listen.

Bodies are n8n-shaped workflow JSON (DESIGN §2). A body of the wrong JSON shape
(`nodes` not a list, a node that is not an object, ...) is a 400 naming the field;
a well-formed workflow that cannot run (unknown node type, a connection to a missing
node, a cycle, a bad parameter) is a 422 naming the node, from `flowbox.workflows`.

"""

from __future__ import annotations

import json
import re
from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, Response, delete, get, post, put
from litestar.exceptions import ValidationException
from litestar.params import Parameter

from flowbox.api.common import CURSOR, LIMIT, SERVICES, UNFINISHED, invalid, page_json
from flowbox.errors import Conflict, NotFound
from flowbox.n8n import report_json
from flowbox.operations import Operations
from flowbox.records import execution_to_json, workflow_to_json


def _type_name(value: Any) -> str:
    return {dict: "object", list: "array", str: "string", bool: "boolean", int: "number", float: "number",
            type(None): "null"}.get(type(value), type(value).__name__)


def check_workflow_body(request: Request[Any, Any, Any], data: dict[str, Any], prefix: str = "") -> None:
    """Refuse a body whose JSON shape is wrong (400, naming the field) before validation proper."""

    def wrong(field: str, value: Any, kind: type) -> ValidationException:
        want = {str: "a string", list: "an array", dict: "an object"}[kind]
        return invalid(request, prefix + field, f"must be {want}, got {_type_name(value)}")

    if "nodes" not in data:
        raise invalid(request, prefix + "nodes", "required: the list of the workflow's nodes")
    expected = {"name": str, "nodes": list, "connections": dict, "settings": dict, "pinData": dict}
    for key, kind in expected.items():
        value = data.get(key)
        if value is not None and not isinstance(value, kind):
            raise wrong(key, value, kind)
    node_fields = {"name": str, "type": str, "parameters": dict, "position": list, "credentials": dict}
    for index, raw in enumerate(data["nodes"]):
        if not isinstance(raw, dict):
            raise wrong(f"nodes[{index}]", raw, dict)
        for key, kind in node_fields.items():
            value = raw.get(key)
            if value is not None and not isinstance(value, kind):
                raise wrong(f"nodes[{index}].{key}", value, kind)
    for source, outputs in (data.get("connections") or {}).items():
        if not isinstance(outputs, dict):
            raise wrong(f"connections.{source}", outputs, dict)


class RunRequest(msgspec.Struct):
    """Body of POST /workflows/{id}/run (all optional)."""

    input: list[dict[str, Any]] | dict[str, Any] | None = None
    wait: bool = True
    timeout: Annotated[float, msgspec.Meta(gt=0, le=3600)] = 300


class ListenRequest(msgspec.Struct):
    """Body of POST /workflows/{id}/listen: how long to wait, and optionally unsaved workflow data."""

    timeout: Annotated[float, msgspec.Meta(gt=0, le=600)] = 120
    workflow: dict[str, Any] | None = None


def _execution_response(record: Any) -> Response[dict[str, Any]]:
    """200 with a finished execution, 202 with one still queued or running."""
    status = 202 if record.status in UNFINISHED else 200
    return Response(execution_to_json(record), status_code=status)


class WorkflowController(Controller):
    path = "/api/v1/workflows"
    tags = ["workflows"]
    dependencies = SERVICES

    @get("/", summary="List workflows")
    async def list_workflows(
        self, services: Operations,
        search: str | None = Parameter(default=None, description="part of the name, any case"),
        active: bool | None = None, limit: int = LIMIT, cursor: str | None = CURSOR,
    ) -> dict[str, Any]:
        page = await services.list_workflows(search=search or None, active=active, limit=limit,
                                                   cursor=cursor or None)
        return page_json(page, workflow_to_json)

    @post("/", summary="Create a workflow", status_code=201)
    async def create_workflow(self, request: Request[Any, Any, Any], services: Operations,
                              data: dict[str, Any]) -> dict[str, Any]:
        check_workflow_body(request, data)
        return workflow_to_json(await services.create_workflow(data))

    @get("/{workflow_id:str}", summary="Get a workflow (format=n8n: as n8n workflow JSON, to download)")
    async def get_workflow(self, request: Request[Any, Any, Any], services: Operations, workflow_id: str,
                           format: str = Parameter(default="flowbox",  # noqa: A002 - the query's name
                                                   description='"flowbox", or "n8n": n8n workflow JSON (DESIGN '
                                                               '§10) with what each node became in the '
                                                               "X-Flowbox-Export-Report header"),
                           ) -> Response[dict[str, Any]]:
        if format not in ("flowbox", "n8n"):
            raise invalid(request, "format", f'must be "flowbox" or "n8n", got {format!r}')
        data = workflow_to_json(await services.get_workflow(workflow_id))
        if format == "flowbox":
            return Response(data)
        n8n_json, report = await services.export_n8n(data)
        filename = re.sub(r"[^A-Za-z0-9._-]+", "-", str(data.get("name") or workflow_id)).strip("-") or workflow_id
        headers = {"X-Flowbox-Export-Report": json.dumps(report_json(report), ensure_ascii=True),
                   "Content-Disposition": f'attachment; filename="{filename}.n8n.json"'}
        return Response(n8n_json, headers=headers)

    @put("/{workflow_id:str}", summary="Replace a workflow (saves a new version)")
    async def update_workflow(self, request: Request[Any, Any, Any], services: Operations, workflow_id: str,
                              data: dict[str, Any]) -> dict[str, Any]:
        """A body carrying `version` must name the current one (409 otherwise: someone saved in between)."""
        check_workflow_body(request, data)
        version = data.get("version")
        if version is not None:
            if not isinstance(version, int) or isinstance(version, bool):
                raise invalid(request, "version", f"must be an integer, got {_type_name(version)}")
            current = await services.get_workflow(workflow_id)
            if version != current.version:
                raise Conflict(f"workflow {workflow_id} is at version {current.version}, not {version}: "
                               "it was saved since you loaded it", version=current.version)
        return workflow_to_json(await services.update_workflow(workflow_id, data))

    @delete("/{workflow_id:str}", summary="Delete a workflow (its executions stay)")
    async def delete_workflow(self, services: Operations, workflow_id: str) -> None:
        await services.delete_workflow(workflow_id)

    @post("/{workflow_id:str}/activate", summary="Activate: webhooks and schedules go online", status_code=200)
    async def activate(self, services: Operations, workflow_id: str) -> dict[str, Any]:
        return workflow_to_json(await services.activate(workflow_id))

    @post("/{workflow_id:str}/deactivate", summary="Deactivate", status_code=200)
    async def deactivate(self, services: Operations, workflow_id: str) -> dict[str, Any]:
        return workflow_to_json(await services.deactivate(workflow_id))

    @post("/{workflow_id:str}/run", summary="Run a workflow",
          description="With `wait` (default) answers 200 with the finished execution; with `wait: false` 202 "
                      "with the execution as queued (poll GET /api/v1/executions/{id}).")
    async def run(self, services: Operations, workflow_id: str,
                  data: RunRequest | None = None) -> Response[dict[str, Any]]:
        body = data or RunRequest()
        record = await services.run_workflow(workflow_id, body.input, wait=body.wait, mode="manual",
                                             timeout=body.timeout)
        return _execution_response(record)

    @get("/{workflow_id:str}/versions", summary="Versions of a workflow, newest (the current one) first")
    async def versions(self, services: Operations, workflow_id: str,
                       include_data: bool = Parameter(query="includeData", default=False,
                                                      description="include each version's workflow JSON")
                       ) -> dict[str, Any]:
        current = await services.get_workflow(workflow_id)
        previous = [v for v in await services.list_versions(workflow_id) if v.version < current.version]
        # the store stamps a kept version with the time it was replaced, i.e. when the next one was saved
        saved = {v.version + 1: v.created_at for v in previous}
        rows = [{"version": current.version, "createdAt": _iso(saved.get(current.version, current.created_at)),
                 "current": True, **({"data": current.data} if include_data else {})}]
        rows += [{"version": v.version, "createdAt": _iso(saved.get(v.version, current.created_at)),
                  "replacedAt": _iso(v.created_at), "current": False,
                  **({"data": v.data} if include_data else {})} for v in previous]
        return {"data": rows, "nextCursor": None}

    @get("/{workflow_id:str}/versions/{number:str}", summary="One version of a workflow, with its JSON")
    async def version(self, services: Operations, workflow_id: str, number: str) -> dict[str, Any]:
        current = await services.get_workflow(workflow_id)
        data = await services.get_workflow_version(workflow_id, _version_number(workflow_id, number))
        return {"version": int(number), "current": int(number) == current.version, "data": data}

    @post("/{workflow_id:str}/versions/{number:str}/restore", status_code=200,
          summary="Save an earlier version again as the newest one",
          description="The versions in between are kept; an active workflow stays active on the restored one.")
    async def restore(self, services: Operations, workflow_id: str, number: str) -> dict[str, Any]:
        return workflow_to_json(await services.restore_workflow_version(workflow_id,
                                                                        _version_number(workflow_id, number)))

    @post("/{workflow_id:str}/listen", summary="Wait for one test webhook call and return its execution",
          status_code=200,
          description="Listens on /webhook-test/<path> for this workflow's webhook nodes (of the saved workflow, "
                      "or of `workflow` when given) until one call arrives or `timeout` seconds pass (404).")
    async def listen(self, request: Request[Any, Any, Any], services: Operations, workflow_id: str,
                     data: ListenRequest | None = None) -> dict[str, Any]:
        body = data or ListenRequest()
        if body.workflow is not None:
            check_workflow_body(request, body.workflow, prefix="workflow.")
        else:
            await services.get_workflow(workflow_id)
        execution_id = await services.listen_test(workflow_id, body.workflow, timeout=body.timeout)
        if not execution_id:  # the workflow's settings said not to keep it
            return {"id": None, "workflowId": workflow_id, "status": None, "mode": "test", "nodes": {}}
        return execution_to_json(await services.get_execution(execution_id))


def _version_number(workflow_id: str, number: str) -> int:
    """A version number from the path (a string there, so the auth guard answers before any parsing)."""
    if not number.isdigit():
        raise NotFound("workflow version", f"{workflow_id} v{number}")
    return int(number)


def _iso(value: Any) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value else None


HANDLERS = [WorkflowController]
