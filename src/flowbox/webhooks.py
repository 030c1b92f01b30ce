"""Webhook calls: the route table of live workflows, and answering a call as its webhook node says.

`RouteTable` maps (method, path) to the webhook node of an active workflow (`:name` path parts
match one segment each); `webhook_routes` asks each webhook trigger of a workflow for its route
(`NodeSpec.webhook`). `Webhooks.handle` finds the route, checks the caller's credential when the
node asks for one (raising `Unauthorized` / `Forbidden` from the error tree), and either queues the
execution (`respond: immediately`: 200 with its id once it is durably queued) or runs it inline and
answers with the last node's data or what a Respond to Webhook node said. `listen` is the editor's
"listen for a test event": the next call to `/webhook-test/<path>` runs the workflow as drawn.
The ASGI side (reading bodies, writing answers) is `flowbox.api.webhooks`.
"""

from __future__ import annotations

import asyncio
import base64
import hmac
import logging
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from flowbox import registry
from flowbox.engine.runner import ExecutionResult
from flowbox.errors import (
    ConfigError,
    Conflict,
    FlowboxError,
    Forbidden,
    MethodNotAllowed,
    NotFound,
    TimedOut,
    Unauthorized,
    WorkflowInvalid,
    error_json,
)
from flowbox.node import Item
from flowbox.workflow import Workflow, validate_for_run

if TYPE_CHECKING:
    from flowbox.runs import Runs
    from flowbox.workflows import Workflows

logger = logging.getLogger("flowbox")


@dataclass(frozen=True)
class WebhookRoute:
    """One webhook node of an active workflow (or of a workflow listening for a test event)."""

    workflow_id: str
    node: str
    method: str
    path: str
    respond: str = "immediately"
    response_data: str = "firstEntryJson"
    response_code: int = 200
    pattern: re.Pattern[str] | None = None
    auth: str = "none"
    credential: str | None = None


def clean_path(path: str) -> str:
    return path.strip().strip("/")


def webhook_routes(workflow: Workflow, workflow_id: str) -> list[WebhookRoute]:
    """The routes of a workflow's enabled webhook triggers (each trigger's `webhook(node)` gives its own)."""
    routes = []
    for node in workflow.nodes.values():
        spec = registry.get_or_none(node.type)
        if spec is None or spec.webhook is None or node.disabled:
            continue
        found = spec.webhook(node)
        path = clean_path(found.path)
        pattern = None
        if any(part.startswith(":") for part in path.split("/")):
            regex = "/".join(f"(?P<{p[1:]}>[^/]+)" if p.startswith(":") else re.escape(p) for p in path.split("/"))
            pattern = re.compile(f"^{regex}$")
        routes.append(WebhookRoute(
            workflow_id=workflow_id, node=node.name, method=found.method, path=path, respond=found.respond,
            response_data=found.response_data, response_code=found.response_code, pattern=pattern, auth=found.auth,
            credential=found.credential))
    return routes


class RouteTable:
    """(method, path) -> route for active workflows; `:name` path parts match any one segment."""

    def __init__(self) -> None:
        self.exact: dict[tuple[str, str], WebhookRoute] = {}
        self.dynamic: list[WebhookRoute] = []

    def add(self, routes: list[WebhookRoute]) -> None:
        """Add a workflow's routes; Conflict (nothing added) when another workflow has one of them."""
        for route in routes:
            taken = self.exact.get((route.method, route.path)) if route.pattern is None else next(
                (r for r in self.dynamic if r.method == route.method and r.path == route.path), None)
            if taken is not None and taken.workflow_id != route.workflow_id:
                raise Conflict(f"webhook {route.method} /{route.path} is already used by workflow {taken.workflow_id}",
                               workflowId=taken.workflow_id)
        for route in routes:
            if route.pattern is None:
                self.exact[(route.method, route.path)] = route
            else:
                self.dynamic.append(route)

    def remove(self, workflow_id: str) -> None:
        self.exact = {k: r for k, r in self.exact.items() if r.workflow_id != workflow_id}
        self.dynamic = [r for r in self.dynamic if r.workflow_id != workflow_id]

    def probe(self, workflow_id: str, routes: list[WebhookRoute]) -> None:
        """Conflict if the workflow could not take these routes (the table itself is not changed)."""
        trial = RouteTable()
        trial.exact, trial.dynamic = dict(self.exact), list(self.dynamic)
        trial.remove(workflow_id)
        trial.add(routes)

    def match(self, method: str, path: str) -> tuple[WebhookRoute, dict[str, str]]:
        """The route for a request; NotFound for an unknown path, MethodNotAllowed for a known one."""
        path = clean_path(path)
        route = self.exact.get((method, path))
        if route is not None:
            return route, {}
        other_method = any(p == path for (_, p) in self.exact)
        for route in self.dynamic:
            found = route.pattern.match(path)  # type: ignore[union-attr]
            if found:
                if route.method == method:
                    return route, found.groupdict()
                other_method = True
        if other_method:
            raise MethodNotAllowed(f"webhook /{path} does not accept {method}")
        raise NotFound("webhook", f"/{path}")


@dataclass
class WebhookRequest:
    method: str
    path: str
    headers: dict[str, str]
    query: dict[str, Any]
    body: Any
    binary: dict[str, Any] | None = None

    def item(self, params: dict[str, str]) -> Item:
        """The item a webhook node emits (DESIGN §5)."""
        return Item({"body": self.body, "query": self.query, "headers": self.headers, "params": params,
                     "method": self.method, "path": self.path}, self.binary)


@dataclass
class WebhookReply:
    status: int
    body: Any
    headers: dict[str, str] = field(default_factory=dict)


Credential = Callable[[str, str], Awaitable[dict[str, Any] | None]]


class Webhooks:
    """Answers webhook calls: production ones by the route table, test ones for the editor's listen."""

    def __init__(self, routes: RouteTable, workflows: Workflows, runs: Runs, credential: Credential) -> None:
        self.routes = routes
        self.workflows = workflows
        self.runs = runs
        self.credential = credential
        self._listening: dict[tuple[str, str], tuple[str, Workflow, asyncio.Future[str]]] = {}

    async def handle(self, method: str, path: str, request: WebhookRequest, *, test: bool = False) -> WebhookReply:
        """Run the workflow a webhook call belongs to, answering as its webhook node says."""
        if test:
            return await self._handle_test(method, path, request)
        route, params = self.routes.match(method, path)
        self.runs.admit()
        cached = self.workflows.cached(route.workflow_id)
        if cached is None:
            cached = self.workflows.compiled(await self.workflows.store.get_workflow(route.workflow_id))
        workflow, specs = cached
        return await self._answer(workflow, specs, route, request.item(params), mode="webhook")

    async def _answer(self, workflow: Workflow, specs: dict[str, Any], route: WebhookRoute, item: Item, *,
                      mode: str, on_done: Callable[[ExecutionResult], None] | None = None) -> WebhookReply:
        if route.auth != "none":
            headers = item.json.get("headers") or {}
            secret_header = await self._check_caller(route, headers)
            # the caller's secret stays out of the execution history
            item.json["headers"] = {k: v for k, v in headers.items() if k != secret_header}
        if route.respond == "immediately":
            execution = await self.runs.enqueue(workflow, [item], mode=mode, start_node=route.node)
            return WebhookReply(route.response_code, {"executionId": execution.id})
        loop = asyncio.get_running_loop()
        responded: asyncio.Future[dict[str, Any]] = loop.create_future()

        def on_respond(response: dict[str, Any]) -> None:
            if not responded.done():
                responded.set_result(response)

        recorded: asyncio.Future[BaseException | None] = loop.create_future()
        progress = workflow.settings.get("saveExecutionProgress", False) is True
        task = self.runs.start_inline(workflow, [item], mode=mode, start=route.node, specs=specs, progress=progress,
                                      on_respond=on_respond, recorded=recorded, on_done=on_done)
        if route.respond == "respondNode":
            await asyncio.wait([task, responded], return_when=asyncio.FIRST_COMPLETED)
            if responded.done():
                if not task.done():  # answer early, but only once the running execution is on disk
                    await asyncio.wait([task, recorded], return_when=asyncio.FIRST_COMPLETED)
                if recorded.done() and recorded.result() is not None:
                    raise recorded.result()  # type: ignore[misc]  # not on disk (a full disk): no 2xx
                response = responded.result()
                return WebhookReply(int(response.get("status") or 200), response.get("body"),
                                    {str(k): str(v) for k, v in (response.get("headers") or {}).items()})
        result = await task
        if result.status == "waiting":  # parked in a long Wait: it goes on later, answer now
            return WebhookReply(202, {"executionId": result.execution_id, "status": "waiting"})
        if result.status != "success":
            return WebhookReply(500, error_json("execution_failed",
                                                (result.error or {}).get("message", "the workflow failed"),
                                                {"executionId": result.execution_id,
                                                 "node": (result.error or {}).get("node")}))
        items = result.last_output()
        if route.response_data == "allEntries":
            return WebhookReply(route.response_code, [i.json for i in items])
        return WebhookReply(route.response_code, items[0].json if items else {})

    async def _check_caller(self, route: WebhookRoute, headers: dict[str, str]) -> str:
        """The header that carried the webhook's credential; Unauthorized (401) when it is missing,
        Forbidden (403) when it is wrong, ConfigError (500) when the credential itself is not available."""
        try:
            cred = await self.credential(route.auth, route.credential or "") or {}
        except FlowboxError as exc:
            logger.error("webhook %s: %s", route.path, getattr(exc, "message", exc))
            raise ConfigError(f"the webhook's {route.auth} credential is not available") from None
        if route.auth == "httpBasicAuth":
            header = "authorization"
            given = headers.get(header, "")
            if not given.lower().startswith("basic "):
                raise Unauthorized("basic auth required", challenge='Basic realm="flowbox"')
            expected = base64.b64encode(f"{cred.get('user', '')}:{cred.get('password', '')}".encode()).decode()
            ok = hmac.compare_digest(given[6:].strip().encode(), expected.encode())
        else:
            header = str(cred.get("name", "")).lower()
            if not header or header not in headers:
                raise Unauthorized(f"header {cred.get('name')} required")
            ok = hmac.compare_digest(headers[header].encode(), str(cred.get("value", "")).encode())
        if not ok:
            raise Forbidden("wrong credentials")
        return header

    # ---- the editor's "listen for a test event"
    async def listen(self, workflow_id: str, workflow: Workflow, timeout: float = 120) -> str:
        """Wait for one call to /webhook-test/<path> of this workflow; returns its execution id."""
        routes = webhook_routes(workflow, workflow_id)
        if not routes:
            raise WorkflowInvalid("this workflow has no webhook node to listen on", field="nodes")
        future: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        keys = [(r.method, r.path) for r in routes]
        for key in keys:
            other = self._listening.get(key)
            if other is not None and other[0] != workflow_id and not other[2].done():
                raise Conflict(f"another workflow is listening for a test call to {key[0]} /webhook-test/"
                               f"{key[1]}; try again when it is done", path=key[1])
        for key in keys:
            self._listening[key] = (workflow_id, workflow, future)
        try:
            return await asyncio.wait_for(future, timeout)
        except TimeoutError:
            raise TimedOut(f"no call to the test webhook within {timeout:g} s") from None
        finally:
            for key in keys:
                if self._listening.get(key, (None, None, None))[2] is future:
                    del self._listening[key]

    async def _handle_test(self, method: str, path: str, request: WebhookRequest) -> WebhookReply:
        clean = clean_path(path)
        entry = self._listening.get((method, clean))
        if entry is None:
            if any(p == clean for (_, p) in self._listening):
                raise MethodNotAllowed(f"test webhook /{clean} does not accept {method}")
            raise NotFound("test webhook", f"/{clean} (click 'listen for a test event' in the editor first)")
        workflow_id, workflow, future = entry
        route = next(r for r in webhook_routes(workflow, workflow_id) if (r.method, r.path) == (method, clean))
        if route.respond == "immediately":  # the editor wants the run's data: run it inline
            route = replace(route, respond="lastNode")

        def note(result: ExecutionResult) -> None:
            if not future.done():
                future.set_result(result.execution_id or "")

        return await self._answer(workflow, validate_for_run(workflow), route, request.item({}), mode="test", on_done=note)
