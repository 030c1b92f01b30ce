"""`/api/v1/executions`: list (by workflow and status), read with node data, delete, retry, stop."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, Response, delete, get, post
from litestar.params import Parameter

from flowbox.api.common import CURSOR, LIMIT, SERVICES, UNFINISHED, invalid, page_json
from flowbox.operations import Operations
from flowbox.records import execution_to_json
from flowbox.store.base import EXECUTION_STATUSES


def _summary(record: Any) -> dict[str, Any]:
    return execution_to_json(record, with_nodes=False)


class ExecutionController(Controller):
    path = "/api/v1/executions"
    tags = ["executions"]
    dependencies = SERVICES

    @get("/", summary="List executions, newest first")
    async def list_executions(
        self, request: Request[Any, Any, Any], services: Operations,
        workflow_id: str | None = Parameter(query="workflowId", default=None),
        status: str | None = Parameter(default=None, description=f"one of {', '.join(EXECUTION_STATUSES)}"),
        limit: int = LIMIT, cursor: str | None = CURSOR,
        custom_data: str | None = Parameter(query="customData", default=None,
                                            description="key:value pairs, comma-separated, that the executions' "
                                                        "saved custom data must have (Execution Data node)"),
    ) -> dict[str, Any]:
        if status is not None and status not in EXECUTION_STATUSES:
            raise invalid(request, "status", f"must be one of {', '.join(EXECUTION_STATUSES)}, got {status!r}",
                          source="query")
        wanted: dict[str, str] = {}
        for pair in filter(None, (part.strip() for part in (custom_data or "").split(","))):
            key, sep, value = pair.partition(":")
            if not sep or not key.strip():
                raise invalid(request, "customData", f"must be key:value pairs separated by commas, got {pair!r}",
                              source="query")
            wanted[key.strip()] = value.strip()
        page = await services.list_executions(workflow_id=workflow_id or None, status=status, limit=limit,
                                                    cursor=cursor or None, custom_data=wanted or None)
        return page_json(page, _summary)

    @get("/{execution_id:str}", summary="Get an execution with each node's runs")
    async def get_execution(self, services: Operations, execution_id: str) -> dict[str, Any]:
        return execution_to_json(await services.get_execution(execution_id))

    @delete("/{execution_id:str}", summary="Delete a finished (or queued) execution")
    async def delete_execution(self, services: Operations, execution_id: str) -> None:
        await services.delete_execution(execution_id)

    @post("/{execution_id:str}/retry", summary="Run a finished execution again as a new one",
          description="The new execution has `retryOf` set. Answers 202 with it queued; with `?wait=true` "
                      "200 with it finished.")
    async def retry(self, services: Operations, execution_id: str, wait: bool = False,
                    timeout: float = Parameter(default=300, gt=0, le=3600)) -> Response[dict[str, Any]]:
        record = await services.retry_execution(execution_id)
        if wait:
            record = await services.wait_for(record.id, timeout)
        return Response(execution_to_json(record), status_code=202 if record.status in UNFINISHED else 200)

    @post("/{execution_id:str}/stop", summary="Stop a running, queued or waiting execution",
          description="The execution ends `canceled`: a running one where it stands (the nodes that finished "
                      "keep their data), a queued or waiting one before it runs. 409 when it has finished "
                      "or runs in another process.", status_code=200)
    async def stop(self, services: Operations, execution_id: str) -> dict[str, Any]:
        return execution_to_json(await services.stop_execution(execution_id))


HANDLERS = [ExecutionController]
