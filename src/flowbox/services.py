"""The operations the CLI, the API and the editor all call: run, save, import, export, list.

This is the only module that ties the engine to a store: it records every
execution (unless told not to) as it runs, node run by node run, so a crash
leaves a record of how far it got.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import datetime as dt
import functools
import logging
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from flowbox.engine.runner import EngineServices, ExecutionResult, RunData, Runner
from flowbox.errors import (
    Conflict,
    FlowboxError,
    Forbidden,
    MethodNotAllowed,
    NotFound,
    TimedOut,
    Unavailable,
    WorkflowInvalid,
)
from flowbox.node import Item, make_items
from flowbox.settings import Settings
from flowbox.store.base import ExecutionRecord, NodeRun, Page, Store, WorkflowRecord, WorkflowVersion, new_id
from flowbox.workflow import Workflow, load_workflow, validate

logger = logging.getLogger("flowbox")


def to_node_run(run: RunData) -> NodeRun:
    """The stored form of a node run: items' json per output, binary and paired input index when present."""
    outputs = [[item.json for item in output] for output in run.outputs]
    binary = None
    if any(item.binary for output in run.outputs for item in output):
        binary = [[item.binary for item in output] for output in run.outputs]
    paired = None
    inputs = run.inputs[0] if run.inputs else []
    if inputs and any(output for output in run.outputs):
        paired = [_paired_indexes(output, inputs) for output in run.outputs]
    return NodeRun(node=run.node, run_index=run.run_index, outputs=outputs, error=run.error,
                   started_at=run.started_at, finished_at=run.finished_at, binary=binary, paired=paired,
                   source=run.source)


def _paired_indexes(output: list[Item], inputs: list[Item]) -> list[int | None] | None:
    """For each output item, the index of the input item it came from; None when item k came from input k."""
    if len(output) == len(inputs) and all(o.source is i or o is i for o, i in zip(output, inputs, strict=True)):
        return None
    position = {id(item): i for i, item in enumerate(inputs)}
    return [position.get(id(item.source if item.source is not None and id(item) not in position else item))
            for item in output]


def parse_input(value: Any) -> list[Item]:
    """Run input: one JSON object (one item) or a list of objects; anything else is refused."""
    if value is None:
        return []
    if isinstance(value, dict):
        return make_items([value])
    if isinstance(value, list):
        try:
            return make_items(value)
        except TypeError as exc:
            raise WorkflowInvalid(f"input: {exc}", field="input") from None
    raise WorkflowInvalid(f"input must be a JSON object or a list of objects, got {type(value).__name__}",
                          field="input")


def engine_services(store: Store | None, variables: dict[str, str], base_dir: Path | None = None,
                    save: bool = True, vault: Any = None, files_dir: Path | None = None) -> EngineServices:
    """Engine services backed by `store`: variables, sub-workflows by id or by file, and (with a
    `flowbox.credentials.Vault`) credentials by id, decrypted."""

    async def load(ref: str) -> Workflow:
        path = Path(ref)
        if not path.is_absolute() and base_dir is not None:
            path = base_dir / path
        if path.suffix == ".json" or path.is_file():
            if not path.is_file():
                raise WorkflowInvalid(f"sub-workflow file {ref!r} not found")
            return load_workflow(path)
        if store is None:
            raise WorkflowInvalid(f"sub-workflow {ref!r} not found")
        record = await store.get_workflow(ref)
        return load_workflow(record.data, id=record.id)

    credential = None
    if store is not None and vault is not None:
        from flowbox.credentials import resolver

        credential = audited_use(store, resolver(store, vault))
    services = EngineServices(variables=variables, load_workflow=load, credential=credential)
    services.files_dir = files_dir
    if store is not None and save:

        async def record_sub(runner: Runner, items: list[Item]) -> ExecutionResult:
            return await execute(store, runner.workflow, items, mode="integrated", runner=runner)

        services.record_subexecution = record_sub
    return services


CREDENTIAL_USE_AUDIT_SECONDS = 60.0


def audited_use(store: Store, resolve: Callable[[str, str], Awaitable[Any]]) -> Callable[[str, str], Awaitable[Any]]:
    """`resolve` that writes a `credential.use` audit entry when a node decrypts a credential: at most one per
    credential a minute per process, so a workflow running every second does not flood the log."""
    from flowbox import audit

    last: dict[str, float] = {}

    async def credential(type_: str, id: str) -> Any:
        data = await resolve(type_, id)
        now = time.monotonic()
        if now - last.get(id, float("-inf")) >= CREDENTIAL_USE_AUDIT_SECONDS:
            last[id] = now
            await audit.record(store, "credential.use", "credential", id, type=type_)
        return data

    return credential


def keep_execution(settings: dict[str, Any], status: str, mode: str) -> bool:
    """n8n's per-workflow "save execution data" settings: whether a finished execution is kept."""
    if mode == "manual" and settings.get("saveManualExecutions", True) is False:
        return False
    key = "saveDataSuccessExecution" if status == "success" else "saveDataErrorExecution"
    return settings.get(key, "all") != "none"


async def execute(store: Store | None, workflow: Workflow, items: list[Item], *, mode: str = "manual",
                  save: bool = True, record: ExecutionRecord | None = None, progress: bool | None = None,
                  services: EngineServices | None = None, runner: Runner | None = None,
                  on_node_run: Callable[[RunData], Awaitable[None]] | None = None,
                  base_dir: Path | None = None, start: str | None = None,
                  snapshot: bytes | None = None, webhook_item: Item | None = None,
                  recorded: asyncio.Future[None] | None = None, vault: Any = None,
                  files_dir: Path | None = None) -> ExecutionResult:
    """Run `workflow` with `items` (from trigger `start`), recording the execution when `save` is true.

    `record` is an execution already created (queued); otherwise one is created as
    "running". With `progress` (default: the workflow's `saveExecutionProgress`, else
    true) each node run is written as it finishes; without, they are written together
    at the end. Either way the record exists while the run is going, so a crash leaves
    it saying so. The workflow's save-data settings may drop the record at the end.

    With `snapshot` the run goes on from a parked Wait (or re-runs a failed node). A run
    that parks in a Wait is recorded "waiting" with its snapshot; a failed one keeps its
    snapshot so a retry can start at the failed node. A new record is written while
    the run starts (not before it); `recorded` is set once it is committed.
    """
    save = save and store is not None
    if progress is None:
        progress = workflow.settings.get("saveExecutionProgress", True) is not False
    own_services = services is None
    if services is None:
        variables = await store.get_variables() if store is not None else {}
        services = engine_services(store, variables, base_dir, save, vault=vault, files_dir=files_dir)
    if runner is None:
        runner = Runner(workflow, services=services, mode=mode)
    writes: list[asyncio.Future[Any]] = []
    held: list[NodeRun] = []
    if save:
        assert store is not None
        if record is None:
            record = ExecutionRecord(id=new_id(), workflow_id=workflow.id, status="running", mode=mode)
            created = asyncio.ensure_future(store.create_execution(
                id=record.id, workflow_id=workflow.id, mode=mode, status="running", workflow_data=workflow.data,
                input=[i.json for i in items] or None))
            if recorded is not None:
                created.add_done_callback(lambda _: recorded.done() or recorded.set_result(None))
            writes.append(created)  # the store keeps the order: later writes land after it
        elif record.status != "running":
            await store.set_execution_status(record.id, "running")
        runner.execution_id = record.id
    else:
        record = None
    if recorded is not None and not writes and not recorded.done():  # no record to create first
        recorded.set_result(None)

    async def node_finished(run: RunData) -> None:
        if record is not None:
            if progress:
                # written by the store's own thread while the next node computes; the store keeps
                # the order, and every write is awaited before the execution finishes
                writes.append(asyncio.ensure_future(store.append_node_run(record.id, to_node_run(run))))  # type: ignore[union-attr]
            else:
                held.append(to_node_run(run))
        if on_node_run is not None:
            await on_node_run(run)

    runner.on_node_run = node_finished
    try:
        if snapshot is not None:
            result = await runner.resume(snapshot, webhook_item=webhook_item)
        else:
            result = await runner.run(items, start=start)
    except BaseException as exc:
        await asyncio.gather(*writes, return_exceptions=True)
        if record is not None:
            stopped = isinstance(exc, (KeyboardInterrupt, asyncio.CancelledError, SystemExit))
            message = "interrupted" if stopped else f"{type(exc).__name__}: {exc}"
            await asyncio.shield(store.finish_execution(  # type: ignore[union-attr]
                record.id, "crashed", error={"node": runner.last_node, "message": message},
                last_node=runner.last_node))
        raise
    finally:
        if own_services:
            await services.close()
    if record is not None and result.status == "waiting":
        assert store is not None and result.snapshot is not None
        writes += [asyncio.ensure_future(store.append_node_run(record.id, run)) for run in held]
        await asyncio.gather(*writes)
        await store.save_snapshot(record.id, result.snapshot)
        await store.set_execution_status(record.id, "waiting", wait_till=result.wait_till)
        return result
    if record is not None:
        assert store is not None
        if result.snapshot is not None:
            writes.append(asyncio.ensure_future(store.save_snapshot(record.id, result.snapshot)))
        elif snapshot is not None:
            writes.append(asyncio.ensure_future(store.save_snapshot(record.id, None)))
        if keep_execution(workflow.settings, result.status, mode):
            writes.append(asyncio.ensure_future(store.finish_execution(
                record.id, result.status, error=result.error, last_node=result.last_node, runs=held)))
            await asyncio.gather(*writes)  # one group commit on SQLite
        else:
            await asyncio.gather(*writes)
            await store.delete_execution(record.id)
            result.execution_id = None
    return result


# ---------------------------------------------------------------- workflows

async def save_workflow(store: Store, data: dict[str, Any], id: str | None = None) -> WorkflowRecord:
    """Validate and store a workflow: update it when `id` (or data["id"]) exists, else create it."""
    workflow = load_workflow(data)
    validate(workflow)
    wid = id or data.get("id")
    clean = {k: v for k, v in data.items() if k not in ("id", "active", "createdAt", "updatedAt", "versionId")}
    if wid:
        try:
            await store.get_workflow(str(wid))
        except NotFound:
            return await store.create_workflow(workflow.name, clean, active=bool(data.get("active")), id=str(wid))
        return await store.update_workflow(str(wid), name=workflow.name, data=clean)
    return await store.create_workflow(workflow.name, clean, active=bool(data.get("active")))


def workflow_to_json(record: WorkflowRecord) -> dict[str, Any]:
    """A stored workflow as n8n-shaped JSON with its id and state."""
    return {**record.data, "id": record.id, "name": record.name, "active": record.active,
            "version": record.version, "createdAt": _iso(record.created_at), "updatedAt": _iso(record.updated_at)}


async def load_stored(store: Store, ref: str) -> Workflow:
    """A stored workflow by id, ready to run."""
    record = await store.get_workflow(ref)
    return load_workflow(record.data, id=record.id)


# ---------------------------------------------------------------- executions

def _iso(value: dt.datetime | None) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value else None


def execution_to_json(record: ExecutionRecord, *, with_nodes: bool = True) -> dict[str, Any]:
    """An execution as JSON (DESIGN §8): nodes and error shaped as in `flowbox run --json`."""
    out: dict[str, Any] = {
        "id": record.id, "workflowId": record.workflow_id, "status": record.status, "mode": record.mode,
        "startedAt": _iso(record.started_at), "finishedAt": _iso(record.finished_at),
        "lastNode": record.last_node, "error": record.error,
    }
    if record.retry_of:
        out["retryOf"] = record.retry_of
    if with_nodes:
        out["nodes"] = {name: [{"outputs": run.outputs, "error": run.error,
                                "startedAt": _iso(run.started_at), "finishedAt": _iso(run.finished_at)}
                               for run in runs]
                        for name, runs in record.nodes.items()}
    return out


# ---------------------------------------------------------------- the running service

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


def _clean_path(path: str) -> str:
    return path.strip().strip("/")


def webhook_routes(workflow: Workflow, workflow_id: str) -> list[WebhookRoute]:
    """The webhook routes of a workflow's enabled webhook nodes."""
    routes = []
    for node in workflow.nodes.values():
        if node.type != "webhook" or node.disabled:
            continue
        params = node.parameters
        path = _clean_path(str(params.get("path") or ""))
        if not path:
            raise WorkflowInvalid(f"node '{node.name}': webhook path is empty", node=node.name, field="path")
        pattern = None
        if any(part.startswith(":") for part in path.split("/")):
            regex = "/".join(f"(?P<{p[1:]}>[^/]+)" if p.startswith(":") else re.escape(p) for p in path.split("/"))
            pattern = re.compile(f"^{regex}$")
        auth = str(params.get("authentication") or "none")
        credential = None
        if auth != "none":
            ref = (node.credentials or {}).get(auth)
            credential = str(ref.get("id") if isinstance(ref, dict) else ref) if ref else None
            if not credential:
                raise WorkflowInvalid(f"node '{node.name}': authentication {auth} needs a {auth} credential",
                                      node=node.name, field="credentials")
        routes.append(WebhookRoute(
            workflow_id=workflow_id, node=node.name, method=str(params.get("method") or "POST").upper(), path=path,
            respond=str(params.get("respond") or "immediately"),
            response_data=str(params.get("responseData") or "firstEntryJson"),
            response_code=int(params.get("responseCode") or 200), pattern=pattern, auth=auth,
            credential=credential))
    return routes


class WebhookTable:
    """(method, path) -> route for active workflows; `:name` path parts match any one segment."""

    def __init__(self) -> None:
        self.exact: dict[tuple[str, str], WebhookRoute] = {}
        self.dynamic: list[WebhookRoute] = []

    def add(self, routes: list[WebhookRoute]) -> None:
        for route in routes:
            taken = self.find_exact(route.method, route.path) if route.pattern is None else next(
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

    def find_exact(self, method: str, path: str) -> WebhookRoute | None:
        return self.exact.get((method, path))

    def match(self, method: str, path: str) -> tuple[WebhookRoute, dict[str, str]]:
        """The route for a request; NotFound for an unknown path, MethodNotAllowed for a known one."""
        path = _clean_path(path)
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


class Services:
    """flowbox as a running service: store, queue, scheduler, webhooks; the operations API and UI call.

    Built once by `app.build_app()` (or `flowbox worker`) and passed down. `start()` opens
    the store, loads active workflows, recovers from a crash and starts the queue consumer
    and the scheduler; `stop()` stops taking work and lets running executions finish.
    """

    def __init__(self, settings: Settings, store: Store | None = None) -> None:
        from flowbox.store import open_store

        self.settings = settings
        self.store: Store = store if store is not None else open_store(settings.database_url, server=True)
        self.webhooks = WebhookTable()
        self.engine = EngineServices()
        self.queue: Any = None
        self.scheduler: Any = None
        self.trigger_listeners: Any = None  # flowbox.listeners.Listeners: in the process with the scheduler
        self.metrics = Metrics()
        self.loop: asyncio.AbstractEventLoop | None = None
        self.accepting = False
        self._workflows: dict[str, tuple[int, Workflow, dict[str, Any]]] = {}
        self._running: dict[str, asyncio.Task[Any]] = {}
        self._done: dict[str, asyncio.Future[None]] = {}
        self._limits: dict[str, asyncio.Semaphore] = {}
        self._listeners: dict[tuple[str, str], tuple[str, Workflow, asyncio.Future[str]]] = {}

    # ------------------------------------------------------------ lifecycle
    async def start(self, *, consume: bool = True, schedule: bool = True, recover: bool = True) -> None:
        """Open the store and bring active workflows online; `consume`: run queued executions here."""
        from flowbox import registry

        self.loop = asyncio.get_running_loop()
        self.settings.ensure_dirs()
        registry.load(self.settings.nodes_dir)
        await self.store.open()
        self.engine = engine_services(self.store, await self.store.get_variables(), vault=self.vault)
        self.engine.suspend_after = self.settings.wait_persist_seconds
        self.engine.files_dir = self.settings.files_dir
        from flowbox.tasks import Queue

        self.queue = Queue(self)
        if schedule:
            from flowbox.scheduler import Scheduler

            self.scheduler = Scheduler(self)
            from flowbox.listeners import Listeners

            self.trigger_listeners = Listeners(self)
        page_cursor = None
        while True:
            page = await self.store.list_workflows(active=True, limit=200, cursor=page_cursor)
            for record in page.data:
                try:
                    self._bring_online(record)
                except FlowboxError as exc:  # one broken workflow must not stop the server
                    logger.error("workflow %s (%s) not activated: %s", record.id, record.name, exc.message)
            page_cursor = page.next_cursor
            if not page_cursor:
                break
        self.accepting = True  # no HTTP is served before start() returns; recovery may queue retries
        if recover:
            await self._recover()
        if consume:
            self.queue.start()
        if self.scheduler is not None:
            await self.scheduler.start()
        if self.trigger_listeners is not None:
            await self.trigger_listeners.start()

    async def stop(self, timeout: float | None = None) -> None:
        """Stop taking work; running executions get `timeout` seconds, then are cancelled (recorded crashed)."""
        if self.trigger_listeners is not None:
            await self.trigger_listeners.stop()  # first: an emit in progress still gets queued
        self.accepting = False
        timeout = self.settings.shutdown_timeout if timeout is None else timeout
        if self.scheduler is not None:
            await self.scheduler.stop()
        if self.queue is not None:
            await asyncio.to_thread(self.queue.stop, timeout)  # no new queued work; current tasks finish
        running = [t for t in self._running.values() if not t.done()]
        if running:
            _, pending = await asyncio.wait(running, timeout=timeout)
            for task in pending:
                task.cancel()
            if pending:
                await asyncio.wait(pending, timeout=5)
        await self.engine.close()
        await self.store.close()

    async def _recover(self) -> None:
        """After a crash: "running" executions become "crashed" (retried when asked); queued ones run."""
        cursor = None
        while True:
            page = await self.store.list_executions(status="running", limit=200, cursor=cursor)
            for record in page.data:
                await self.store.finish_execution(record.id, "crashed", error={
                    "node": record.last_node, "message": "the server stopped while this execution was running"})
                self.metrics.execution("crashed", record.mode)
                settings = (record.workflow_data or {}).get("settings") or {}
                if settings.get("retryOnCrash") and record.workflow_id and record.mode != "manual":
                    await self.retry_execution(record.id, from_start=True)
            cursor = page.next_cursor
            if not cursor:
                break
        cursor = None
        while True:
            page = await self.store.list_executions(status="queued", limit=200, cursor=cursor)
            for record in page.data:
                self.queue.enqueue(record.id)  # a duplicate is harmless: running it claims it first
            cursor = page.next_cursor
            if not cursor:
                break

    async def ready(self) -> dict[str, bool]:
        """Whether the store and the queue answer (for /readyz)."""
        store_ok = queue_ok = False
        with contextlib.suppress(Exception):
            await self.store.get_variables()
            store_ok = True
        with contextlib.suppress(Exception):
            queue_ok = bool(self.queue is not None and await asyncio.to_thread(self.queue.ping))
        return {"store": store_ok, "queue": queue_ok, "accepting": self.accepting}

    # ------------------------------------------------------------ reads (the API and the editor go through
    # these, never to the store, so access rules have one place to live)
    # `user` (a `flowbox.auth.Principal`, None: no restriction) decides what is visible: see "access" below.
    async def list_workflows(self, *, search: str | None = None, active: bool | None = None, limit: int = 50,
                             cursor: str | None = None, user: Any = None) -> Page[WorkflowRecord]:
        return await self.store.list_workflows(search=search, active=active, limit=limit, cursor=cursor,
                                               visible_to=self.visible_to(user))

    async def get_workflow(self, id: str, user: Any = None) -> WorkflowRecord:
        record = await self.store.get_workflow(id)
        await self.check_access("workflow", record, user)
        return record

    async def list_versions(self, id: str, user: Any = None) -> list[WorkflowVersion]:
        await self.get_workflow(id, user)
        return await self.store.list_versions(id)

    async def list_executions(self, *, workflow_id: str | None = None, status: str | None = None,
                              limit: int = 50, cursor: str | None = None, user: Any = None) -> Page[ExecutionRecord]:
        return await self.store.list_executions(workflow_id=workflow_id, status=status, limit=limit, cursor=cursor,
                                                visible_to=self.visible_to(user))

    async def get_execution(self, id: str, user: Any = None) -> ExecutionRecord:
        record = await self.store.get_execution(id)
        if self.visible_to(user) is not None:  # a member sees executions of the workflows they may see
            try:
                await self.get_workflow(record.workflow_id or "", user)
            except NotFound:
                raise NotFound("execution", id) from None
        return record

    async def delete_execution(self, id: str, user: Any = None) -> None:
        """Delete an execution that is not running (409 while it runs)."""
        record = await self.get_execution(id, user)
        if record.status == "running":
            raise Conflict(f"execution {id} is running; wait for it to finish before deleting it",
                           status=record.status)
        await self.store.delete_execution(id)
        await self.audit("execution.delete", "execution", id, workflow=record.workflow_id, status=record.status)

    async def get_variables(self) -> dict[str, str]:
        return await self.store.get_variables()

    # ------------------------------------------------------------ workflows
    def compiled(self, record: WorkflowRecord) -> tuple[Workflow, dict[str, Any]]:
        """A stored workflow loaded and validated once per version."""
        cached = self._workflows.get(record.id)
        if cached is not None and cached[0] == record.version:
            return cached[1], cached[2]
        workflow = load_workflow(record.data, id=record.id)
        specs = validate(workflow)
        self._workflows[record.id] = (record.version, workflow, specs)
        return workflow, specs

    def _bring_online(self, record: WorkflowRecord) -> None:
        workflow, _ = self.compiled(record)
        routes = webhook_routes(workflow, record.id)
        self.webhooks.remove(record.id)
        self.webhooks.add(routes)
        if self.scheduler is not None:
            self.scheduler.sync(record.id, workflow)
        if self.trigger_listeners is not None:
            self.trigger_listeners.sync(record.id, workflow)

    def _take_offline(self, workflow_id: str) -> None:
        self.webhooks.remove(workflow_id)
        if self.scheduler is not None:
            self.scheduler.sync(workflow_id, None)
        if self.trigger_listeners is not None:
            self.trigger_listeners.sync(workflow_id, None)

    async def create_workflow(self, data: dict[str, Any], user: Any = None) -> WorkflowRecord:
        workflow = load_workflow(data)
        validate(workflow)
        await self.check_credentials_usable(workflow, user)
        clean = _clean_workflow_data(data)
        record = await self.store.create_workflow(workflow.name, clean, owner_id=user.user_id if user else None)
        await self.audit("workflow.create", "workflow", record.id, name=record.name)
        if data.get("active"):
            try:
                record = await self.activate(record.id)
            except FlowboxError:  # nothing half-done: the workflow is not kept when it cannot go live
                await self.store.delete_workflow(record.id)
                raise
        return record

    async def update_workflow(self, id: str, data: dict[str, Any], user: Any = None) -> WorkflowRecord:
        """Save a new version; an active workflow's webhooks and schedules follow the new version."""
        current = await self.get_workflow(id, user)
        workflow = load_workflow(data, id=id)
        validate(workflow)
        await self.check_credentials_usable(workflow, user)
        if current.active:
            routes = webhook_routes(workflow, id)
            probe = WebhookTable()
            probe.exact, probe.dynamic = dict(self.webhooks.exact), list(self.webhooks.dynamic)
            probe.remove(id)
            probe.add(routes)  # raises Conflict before anything is saved
        record = await self.store.update_workflow(id, name=workflow.name, data=_clean_workflow_data(data))
        await self.audit("workflow.update", "workflow", id, name=record.name, version=record.version)
        if "active" in data and bool(data["active"]) != record.active:
            return await (self.activate(id) if data["active"] else self.deactivate(id))
        if record.active:
            self._bring_online(record)
        return record

    async def delete_workflow(self, id: str, user: Any = None) -> None:
        if user is not None:
            await self.check_access("workflow", await self.store.get_workflow(id), user, manage=True)
        await self.store.delete_workflow(id)
        await self.audit("workflow.delete", "workflow", id)
        self._take_offline(id)
        self._workflows.pop(id, None)

    async def activate(self, id: str, user: Any = None) -> WorkflowRecord:
        """Put a workflow's webhooks and schedules online (409 when a webhook path is taken)."""
        record = await self.get_workflow(id, user)
        workflow, specs = self.compiled(record)
        if not any(s.trigger and s.type != "manualTrigger" for n, s in specs.items()
                   if not workflow.nodes[n].disabled):
            raise WorkflowInvalid("this workflow has no trigger that can run it by itself (webhook, schedule, "
                                  "errorTrigger, or one that listens or polls such as redisTrigger, emailTrigger, "
                                  "rssFeedReadTrigger): add one before activating it", field="nodes")
        self.webhooks.remove(id)
        self.webhooks.add(webhook_routes(workflow, id))
        record = await self.store.update_workflow(id, active=True)
        await self.audit("workflow.activate", "workflow", id, name=record.name)
        self._bring_online(record)
        return record

    async def deactivate(self, id: str, user: Any = None) -> WorkflowRecord:
        await self.get_workflow(id, user)
        record = await self.store.update_workflow(id, active=False)
        await self.audit("workflow.deactivate", "workflow", id, name=record.name)
        self._take_offline(id)
        return record

    # ------------------------------------------------------------ executions
    def _workflow_limit(self, workflow: Workflow) -> asyncio.Semaphore | None:
        limit = workflow.settings.get("maxConcurrency")
        if not limit or not workflow.id:
            return None
        semaphore = self._limits.get(workflow.id)
        if semaphore is None or getattr(semaphore, "size", None) != int(limit):
            semaphore = asyncio.Semaphore(int(limit))
            semaphore.size = int(limit)  # type: ignore[attr-defined]
            self._limits[workflow.id] = semaphore
        return semaphore

    async def enqueue(self, workflow: Workflow, items: list[Item], *, mode: str, start_node: str | None = None,
                      retry_of: str | None = None) -> ExecutionRecord:
        """Record an execution as "queued" (durably), then hand its id to the queue."""
        if not self.accepting:
            raise Unavailable("flowbox is shutting down; try again shortly")
        record = await self.store.create_execution(
            workflow_id=workflow.id, mode=mode, status="queued", workflow_data=workflow.data,
            input=[i.to_dict() for i in items] or None, retry_of=retry_of, start_node=start_node)
        if self.queue.consuming:
            self._done[record.id] = self.loop.create_future()  # type: ignore[union-attr]
        await asyncio.to_thread(self.queue.enqueue, record.id)
        return record

    def run_queued_threadsafe(self, execution_id: str) -> None:
        """Called by a queue consumer thread: run the execution on the service's event loop, wait for it."""
        if self.loop is None or self.loop.is_closed():
            raise Unavailable("flowbox is not running")
        asyncio.run_coroutine_threadsafe(self.run_queued(execution_id), self.loop).result()

    async def run_queued(self, execution_id: str) -> None:
        """Claim and run a queued (or due waiting) execution; a duplicate or finished one is skipped."""
        task = asyncio.current_task()
        try:
            record = await self.store.get_execution(execution_id)
        except NotFound:
            return
        if record.status not in ("queued", "waiting") or record.workflow_data is None:
            self._finish_waiter(execution_id)
            return
        workflow = load_workflow(record.workflow_data, id=record.workflow_id)
        limit = self._workflow_limit(workflow)
        if limit is not None:
            if limit.locked():  # give the consumer back; the id goes to the end of the queue
                from flowbox.tasks import Deferred

                raise Deferred(0.1)
            await limit.acquire()
        try:
            if not await self.store.claim_execution(execution_id, ("queued", "waiting")):
                return
            if task is not None:
                self._running[execution_id] = task
            snapshot = await self.store.get_snapshot(execution_id)
            webhook_item = None
            if snapshot is not None:
                state = orjson.loads(snapshot)
                if state.get("webhook"):
                    webhook_item = Item(state["webhook"].get("json") or {}, state["webhook"].get("binary"))
            record.status = "running"
            items = make_items(record.input or [])
            await self._execute(workflow, items, mode=record.mode, record=record, start=record.start_node,
                                snapshot=snapshot, webhook_item=webhook_item)
        finally:
            if limit is not None:
                limit.release()
            self._running.pop(execution_id, None)
            self._finish_waiter(execution_id)

    def _finish_waiter(self, execution_id: str) -> None:
        waiter = self._done.pop(execution_id, None)
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def _execute(self, workflow: Workflow, items: list[Item], *, mode: str,
                       record: ExecutionRecord | None = None, start: str | None = None,
                       specs: dict[str, Any] | None = None, progress: bool | None = None,
                       on_respond: Callable[[dict[str, Any]], None] | None = None,
                       snapshot: bytes | None = None, webhook_item: Item | None = None,
                       recorded: asyncio.Future[None] | None = None) -> ExecutionResult:
        runner = Runner(workflow, services=self.engine, mode=mode, specs=specs or {}, on_respond=on_respond)
        started = time.perf_counter()
        result = await execute(self.store, workflow, items, mode=mode, record=record, services=self.engine,
                               runner=runner, progress=progress, start=start, snapshot=snapshot,
                               webhook_item=webhook_item, recorded=recorded)
        if result.status == "waiting":
            if self.scheduler is not None:
                self.scheduler.wake()
            return result
        self.metrics.execution(result.status, mode, time.perf_counter() - started)
        if result.status == "error":
            await self._run_error_workflow(workflow, result, mode)
        return result

    async def _run_error_workflow(self, workflow: Workflow, result: ExecutionResult, mode: str) -> None:
        """`settings.errorWorkflow`: run that workflow from its errorTrigger with the failure's details."""
        target = workflow.settings.get("errorWorkflow")
        if not target or target == workflow.id or mode == "error":
            return
        try:
            record = await self.store.get_workflow(str(target))
            error_wf, specs = self.compiled(record)
        except FlowboxError as exc:
            logger.error("error workflow %s of %s cannot run: %s", target, workflow.id, exc.message)
            return
        trigger = next((n for n, s in specs.items() if s.type == "errorTrigger"), None)
        if trigger is None:
            logger.error("error workflow %s has no errorTrigger node", target)
            return
        item = Item({"execution": {"id": result.execution_id, "mode": mode, "lastNodeExecuted": result.last_node,
                                   "error": result.error},
                     "workflow": {"id": workflow.id, "name": workflow.name}})
        with contextlib.suppress(Unavailable):
            await self.enqueue(error_wf, [item], mode="error", start_node=trigger)

    async def run_workflow(self, id: str, input: Any = None, *, wait: bool = True, mode: str = "manual",
                           timeout: float = 300, user: Any = None) -> ExecutionRecord:
        """POST /workflows/{id}/run: queue a run; with `wait`, return it finished (or as it is after `timeout`)."""
        record = await self.get_workflow(id, user)
        workflow, _ = self.compiled(record)
        items = parse_input(input)
        execution = await self.enqueue(workflow, items, mode=mode)
        await self.audit("execution.run", "execution", execution.id, workflow=id, mode=mode)
        if not wait:
            return execution
        return await self.wait_for(execution.id, timeout)

    async def run_manual(self, data: dict[str, Any], *, input: Any = None, destination: str | None = None,
                         previous: str | None = None,
                         on_node_start: Callable[[str], Awaitable[None]] | None = None,
                         on_node_run: Callable[[RunData], Awaitable[None]] | None = None,
                         user: Any = None) -> ExecutionResult:
        """The editor's Run: the workflow as it is on the canvas (saved or not), run now with live events.

        `destination` runs only what leads to that node; nodes before it reuse their output from
        execution `previous` when it has some (else they run, or use their pinned data).
        """
        workflow = load_workflow(data, id=data.get("id"))
        specs = validate(workflow)
        await self.check_credentials_usable(workflow, user)
        replay: dict[str, list[list[Item]]] = {}
        if destination is not None and previous:
            with contextlib.suppress(NotFound):
                earlier = await self.get_execution(previous, user)
                for name in workflow.ancestors(destination) & set(earlier.nodes):
                    last = earlier.nodes[name][-1]
                    if last.error is None:
                        replay[name] = [make_items(output) for output in last.outputs]
        runner = Runner(workflow, services=self.engine, mode="manual", specs=specs, destination=destination,
                        replay=replay, on_node_start=on_node_start)
        result = await execute(self.store, workflow, parse_input(input), mode="manual", services=self.engine,
                               runner=runner, on_node_run=on_node_run, progress=True)
        self.metrics.execution(result.status, "manual")
        return result

    def catalog(self) -> list[dict[str, Any]]:
        """Every node type with its parameter schema (`/api/v1/nodes`, the editor's palette)."""
        from flowbox import registry

        return [spec.to_dict() for spec in registry.catalog()]

    async def wait_for(self, execution_id: str, timeout: float = 300) -> ExecutionRecord:
        """The execution once it is no longer queued/running (polls the store when it runs elsewhere)."""
        waiter = self._done.get(execution_id)
        deadline = time.monotonic() + timeout
        pause = 0.05
        while time.monotonic() < deadline:
            if waiter is not None:
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(asyncio.shield(waiter), timeout=min(1.0, deadline - time.monotonic()))
            else:  # it runs in another process: poll the store, backing off
                await asyncio.sleep(pause)
                pause = min(pause * 1.5, 0.5)
            record = await self.store.get_execution(execution_id)
            if record.status not in ("queued", "running", "new"):
                return record
        return await self.store.get_execution(execution_id)

    async def retry_execution(self, id: str, *, from_start: bool = False, user: Any = None) -> ExecutionRecord:
        """Run a finished execution again as a new one (retry_of = id).

        A failed execution restarts at its failed node with the input it had, reusing the
        recorded data of the nodes before it (copied into the new execution); with
        `from_start`, or without that data, it runs again from its trigger.
        """
        old = await self.get_execution(id, user)
        if old.status in ("queued", "running", "waiting", "new"):
            raise Conflict(f"execution {id} is {old.status}; only finished executions can be retried")
        if old.workflow_data is None:
            raise Conflict(f"execution {id} kept no workflow to retry")
        workflow = load_workflow(old.workflow_data, id=old.workflow_id)
        validate(workflow)
        await self.audit("execution.retry", "execution", id, workflow=old.workflow_id, from_start=from_start)
        snapshot = None if from_start or old.status != "error" else await self.store.get_snapshot(id)
        if snapshot is None:
            return await self.enqueue(workflow, make_items(old.input or []), mode="retry", retry_of=id,
                                      start_node=old.start_node)
        failed = orjson.loads(snapshot)["pending"]["node"]
        if not self.accepting:
            raise Unavailable("flowbox is shutting down; try again shortly")
        record = await self.store.create_execution(
            workflow_id=workflow.id, mode="retry", status="new", workflow_data=workflow.data, input=old.input,
            retry_of=id, start_node=old.start_node)
        runs = sorted((r for rs in old.nodes.values() for r in rs),
                      key=lambda r: r.started_at or dt.datetime.min.replace(tzinfo=dt.UTC))
        last_failed = next((r for r in reversed(runs) if r.node == failed and r.error is not None), None)
        for run in runs:
            if run is not last_failed:
                await self.store.append_node_run(record.id, run)
        await self.store.save_snapshot(record.id, snapshot)
        await self.store.set_execution_status(record.id, "queued")
        if self.queue.consuming:
            self._done[record.id] = self.loop.create_future()  # type: ignore[union-attr]
        await asyncio.to_thread(self.queue.enqueue, record.id)
        record.status = "queued"
        return record

    async def resume_waiting(self, execution_id: str, request: WebhookRequest) -> WebhookReply:
        """`/webhook-waiting/{id}`: resume an execution parked in a Wait with `resume: webhook`."""
        from flowbox.engine.snapshot import mark

        record = await self.store.get_execution(execution_id)
        snapshot = await self.store.get_snapshot(execution_id) if record.status == "waiting" else None
        if snapshot is None:
            raise NotFound("waiting execution", execution_id)
        state = orjson.loads(snapshot)
        if state.get("resume") != "webhook":
            raise Conflict(f"execution {execution_id} waits for a time, not for a webhook call")
        if state.get("webhook"):
            raise Conflict(f"execution {execution_id} was already resumed")
        item = request.item({})
        await self.store.save_snapshot(execution_id, mark(snapshot, webhook=item.to_dict()))
        await self.store.set_execution_status(execution_id, "waiting", wait_till=dt.datetime.now(dt.UTC))
        await asyncio.to_thread(self.queue.enqueue, execution_id)
        return WebhookReply(200, {"executionId": execution_id, "status": "resumed"})

    # ------------------------------------------------------------ webhooks
    async def handle_webhook(self, method: str, path: str, request: WebhookRequest, *,
                             test: bool = False) -> WebhookReply:
        """Run the workflow a webhook call belongs to, answering as its webhook node says."""
        if test:
            return await self._handle_test_webhook(method, path, request)
        route, params = self.webhooks.match(method, path)
        if not self.accepting:
            raise Unavailable("flowbox is shutting down; try again shortly")
        record = await self.store.get_workflow(route.workflow_id) if route.workflow_id not in self._workflows \
            else None
        cached = self._workflows.get(route.workflow_id)
        if cached is None:
            workflow, specs = self.compiled(record)  # type: ignore[arg-type]
        else:
            workflow, specs = cached[1], cached[2]
        return await self._answer(workflow, specs, route, request.item(params), mode="webhook")

    async def _answer(self, workflow: Workflow, specs: dict[str, Any], route: WebhookRoute, item: Item, *,
                      mode: str, on_done: Callable[[ExecutionResult], None] | None = None) -> WebhookReply:
        if route.auth != "none":
            headers = item.json.get("headers") or {}
            refused, secret_header = await self._refuse_webhook_call(route, headers)
            if refused is not None:
                return refused
            # the caller's secret stays out of the execution history
            item.json["headers"] = {k: v for k, v in headers.items() if k != secret_header}
        if route.respond == "immediately":
            execution = await self.enqueue(workflow, [item], mode=mode, start_node=route.node)
            return WebhookReply(route.response_code, {"executionId": execution.id})
        responded: asyncio.Future[dict[str, Any]] = self.loop.create_future()  # type: ignore[union-attr]

        def on_respond(response: dict[str, Any]) -> None:
            if not responded.done():
                responded.set_result(response)

        limit = self._workflow_limit(workflow)
        progress = workflow.settings.get("saveExecutionProgress", False) is True
        recorded: asyncio.Future[None] = self.loop.create_future()  # type: ignore[union-attr]

        async def run() -> ExecutionResult:
            async with limit if limit is not None else contextlib.nullcontext():
                result = await self._execute(workflow, [item], mode=mode, start=route.node, specs=specs,
                                             progress=progress, on_respond=on_respond, recorded=recorded)
            if on_done is not None:
                on_done(result)
            return result

        task = asyncio.ensure_future(run())
        key = f"inline-{id(task)}"
        self._running[key] = task
        task.add_done_callback(lambda _: self._running.pop(key, None))
        if route.respond == "respondNode":
            await asyncio.wait([task, responded], return_when=asyncio.FIRST_COMPLETED)
            if responded.done():
                if not task.done():  # answer early, but only once the running execution is on disk
                    await asyncio.wait([task, recorded], return_when=asyncio.FIRST_COMPLETED)
                response = responded.result()
                return WebhookReply(int(response.get("status") or 200), response.get("body"),
                                    {str(k): str(v) for k, v in (response.get("headers") or {}).items()})
        result = await task
        if result.status == "waiting":  # parked in a long Wait: it goes on later, answer now
            return WebhookReply(202, {"executionId": result.execution_id, "status": "waiting"})
        if result.status != "success":
            return WebhookReply(500, {"error": {"code": "execution_failed",
                                                "message": (result.error or {}).get("message", "the workflow failed"),
                                                "details": {"executionId": result.execution_id,
                                                            "node": (result.error or {}).get("node")}}})
        items = result.last_output()
        if route.response_data == "allEntries":
            return WebhookReply(route.response_code, [i.json for i in items])
        return WebhookReply(route.response_code, items[0].json if items else {})

    async def _refuse_webhook_call(self, route: WebhookRoute,
                                   headers: dict[str, str]) -> tuple[WebhookReply | None, str]:
        """(None, header) when the call carries the webhook's credential in `header`; else the 401 (missing)
        or 403 (wrong) reply."""
        import base64
        import hmac

        try:
            cred = await self.engine.credential(route.auth, route.credential or "")
        except FlowboxError as exc:
            logger.error("webhook %s: %s", route.path, getattr(exc, "message", exc))
            return WebhookReply(500, {"error": {"code": "webhook_misconfigured",
                                                "message": f"the webhook's {route.auth} credential is not available",
                                                "details": None}}), ""
        if route.auth == "httpBasicAuth":
            header = "authorization"
            given = headers.get(header, "")
            if not given.lower().startswith("basic "):
                return WebhookReply(401, {"error": {"code": "unauthorized", "message": "basic auth required",
                                                    "details": None}}, {"WWW-Authenticate": 'Basic realm="flowbox"'}), ""
            expected = base64.b64encode(f"{cred.get('user', '')}:{cred.get('password', '')}".encode()).decode()
            ok = hmac.compare_digest(given[6:].strip().encode(), expected.encode())
        else:
            header = str(cred.get("name", "")).lower()
            if not header or header not in headers:
                return WebhookReply(401, {"error": {"code": "unauthorized", "message": f"header {cred.get('name')} "
                                                    "required", "details": None}}), ""
            ok = hmac.compare_digest(headers[header].encode(), str(cred.get("value", "")).encode())
        if not ok:
            return WebhookReply(403, {"error": {"code": "forbidden", "message": "wrong credentials",
                                                "details": None}}), ""
        return None, header

    async def listen_test(self, workflow_id: str, data: dict[str, Any] | None = None,
                          timeout: float = 120, user: Any = None) -> str:
        """Wait for one call to /webhook-test/<path> of this workflow (the editor's "listen"); returns its execution id."""
        stored = await self.get_workflow(workflow_id, user)
        if data is None:
            data = stored.data
        workflow = load_workflow(data, id=workflow_id)
        validate(workflow)
        await self.check_credentials_usable(workflow, user)
        routes = webhook_routes(workflow, workflow_id)
        if not routes:
            raise WorkflowInvalid("this workflow has no webhook node to listen on", field="nodes")
        future: asyncio.Future[str] = self.loop.create_future()  # type: ignore[union-attr]
        keys = [(r.method, r.path) for r in routes]
        for key in keys:
            other = self._listeners.get(key)
            if other is not None and other[0] != workflow_id and not other[2].done():
                raise Conflict(f"another workflow is listening for a test call to {key[0]} /webhook-test/"
                               f"{key[1]}; try again when it is done", path=key[1])
        for key in keys:
            self._listeners[key] = (workflow_id, workflow, future)
        try:
            return await asyncio.wait_for(future, timeout)
        except TimeoutError:
            raise TimedOut(f"no call to the test webhook within {timeout:g} s") from None
        finally:
            for key in keys:
                if self._listeners.get(key, (None, None, None))[2] is future:
                    del self._listeners[key]

    async def _handle_test_webhook(self, method: str, path: str, request: WebhookRequest) -> WebhookReply:
        clean = _clean_path(path)
        entry = self._listeners.get((method, clean))
        if entry is None:
            if any(p == clean for (_, p) in self._listeners):
                raise MethodNotAllowed(f"test webhook /{clean} does not accept {method}")
            raise NotFound("test webhook", f"/{clean} (click 'listen for a test event' in the editor first)")
        workflow_id, workflow, future = entry
        route = next(r for r in webhook_routes(workflow, workflow_id) if (r.method, r.path) == (method, clean))
        route = WebhookRoute(**{**route.__dict__, "respond": "lastNode" if route.respond == "immediately"
                                else route.respond})
        def note(result: ExecutionResult) -> None:
            if not future.done():
                future.set_result(result.execution_id or "")

        return await self._answer(workflow, validate(workflow), route, request.item({}), mode="test", on_done=note)

    # ------------------------------------------------------------ variables
    def _admin_only(self, user: Any, what: str) -> None:
        if self.visible_to(user) is not None:
            raise Forbidden(f"{what} is for owners and admins")

    async def set_variable(self, key: str, value: str, user: Any = None) -> None:
        self._admin_only(user, "changing variables (every workflow reads them)")
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", key or ""):
            raise WorkflowInvalid(f"variable name {key!r} must be letters, digits and _ (not starting with a digit)",
                                  field="key")
        await self.store.set_variable(key, str(value))
        self.engine.variables[key] = str(value)

    async def delete_variable(self, key: str, user: Any = None) -> None:
        self._admin_only(user, "deleting variables (every workflow reads them)")
        await self.store.delete_variable(key)
        self.engine.variables.pop(key, None)

    # ------------------------------------------------------------ credentials (DESIGN §7, §8)
    # Everything returned here is masked (`flowbox.credentials.mask`): no secret leaves this block
    # except through `self.engine`'s credential callable, which hands decrypted data to nodes.
    @functools.cached_property
    def vault(self) -> Any:
        """The `flowbox.credentials.Vault` (key from FLOWBOX_ENCRYPTION_KEY or the data dir's key file)."""
        from flowbox.credentials import Vault

        return Vault.from_settings(self.settings.data_dir)

    def _credential_json(self, record: Any, data: dict[str, Any]) -> dict[str, Any]:
        from flowbox.credentials import TYPES, mask

        ctype = TYPES.get(record.type)
        return {"id": record.id, "name": record.name, "type": record.type,
                "data": mask(data, ctype) if ctype else {}, "createdAt": _iso(record.created_at),
                "updatedAt": _iso(record.updated_at)}

    def credential_types(self) -> list[dict[str, Any]]:
        from flowbox.credentials import TYPES

        return [ctype.to_dict() for _, ctype in sorted(TYPES.items())]

    async def create_credential(self, name: Any, type: Any, data: Any, user: Any = None) -> dict[str, Any]:
        """A new credential, encrypted; returns it masked. CredentialError (400) names a bad field."""
        from flowbox.credentials import MASK, CredentialError, get_type

        if not isinstance(name, str) or not name.strip():
            raise CredentialError("a credential needs a name", field="name")
        ctype = get_type(str(type))
        clean = ctype.validate(data)
        for field_name in ctype.secret_fields:
            if clean.get(field_name) == MASK:
                raise CredentialError(f"field {field_name!r} holds the mask, not a secret", field=f"data.{field_name}")
        id = new_id()
        record = await self.store.create_credential(name.strip(), ctype.name, self.vault.encrypt(clean, id), id=id,
                                                    owner_id=user.user_id if user else None)
        await self.audit("credential.create", "credential", id, name=record.name, type=record.type)
        return self._credential_json(record, clean)

    async def _credential_record(self, id: str, user: Any, *, manage: bool = False) -> Any:
        record = await self.store.get_credential(id)
        await self.check_access("credential", record, user, manage=manage)
        return record

    async def get_credential(self, id: str, user: Any = None) -> dict[str, Any]:
        record = await self._credential_record(id, user)
        return self._credential_json(record, self.vault.decrypt(record.data, record.id))

    async def list_credentials(self, *, type: str | None = None, limit: int = 50,
                               cursor: str | None = None, user: Any = None) -> Page[dict[str, Any]]:
        """Masked credentials, newest first (one that cannot be decrypted shows empty data and an error)."""
        from flowbox.credentials import CredentialError

        page = await self.store.list_credentials(type=type, limit=limit, cursor=cursor,
                                                 visible_to=self.visible_to(user))
        out = []
        for record in page.data:
            try:
                out.append(self._credential_json(record, self.vault.decrypt(record.data, record.id)))
            except CredentialError as exc:
                out.append({**self._credential_json(record, {}), "error": exc.message})
        return Page(out, page.next_cursor)

    async def update_credential(self, id: str, *, name: Any = None, data: Any = None,
                                user: Any = None) -> dict[str, Any]:
        """Rename and/or replace data; a secret field sent back as the mask keeps its stored value."""
        from flowbox.credentials import CredentialError, get_type, merge

        record = await self._credential_record(id, user, manage=True)  # a shared user could redirect secrets
        old = self.vault.decrypt(record.data, record.id)
        if name is not None and (not isinstance(name, str) or not name.strip()):
            raise CredentialError("a credential needs a name", field="name")
        blob, new = None, old
        if data is not None:
            ctype = get_type(record.type)
            if not isinstance(data, dict):
                raise CredentialError("credential data must be a JSON object", field="data")
            if ctype.sign == "oauth2":  # tokens come from the OAuth2 flow: a change without them keeps them
                from flowbox.oauth2 import TOKEN_FIELDS

                data = {**{k: old[k] for k in TOKEN_FIELDS if k in old}, **data}
            new = ctype.validate(merge(data, old, ctype))
            blob = self.vault.encrypt(new, id)
        record = await self.store.update_credential(id, name=name.strip() if name else None, data=blob)
        await self.audit("credential.update", "credential", id, name=record.name, fields=sorted(data or {}))
        return self._credential_json(record, new)

    async def delete_credential(self, id: str, user: Any = None) -> None:
        await self._credential_record(id, user, manage=True)
        await self.store.delete_credential(id)
        await self.audit("credential.delete", "credential", id)

    async def test_credential(self, id: str, url: str | None = None, user: Any = None) -> dict[str, Any]:
        """Check a credential: it decrypts and has its required fields; then, with the type's test request
        (or `url`), a request signed with it must answer below 400. `{"ok", "message", "statusCode"}`."""
        from flowbox.credentials import CheckResult, CredentialError, get_type, scrub

        record = await self._credential_record(id, user, manage=url is not None)  # any url: the owner's call
        ctype = get_type(record.type)
        await self.audit("credential.test", "credential", id, name=record.name, type=record.type)
        try:
            data = ctype.validate(self.vault.decrypt(record.data, record.id))
        except CredentialError as exc:
            return CheckResult(False, exc.message).to_dict()
        note = f"the credential decrypts and has every required field; {ctype.name} declares no test request"
        if ctype.sign == "oauth2":  # the test is getting a token: a new one when it can be renewed
            renew = data.get("grantType") == "clientCredentials" or bool(data.get("refreshToken"))
            try:
                data = await self._oauth2_tokens().valid(id, renew=renew)
            except CredentialError as exc:
                return CheckResult(False, exc.message).to_dict()
            note = "got a new access token" if renew else "has an access token (no refresh token to renew it)"
            if data.get("expiresAt"):
                note += f", valid until {data['expiresAt']}"
        test = ctype.test
        public = collections.defaultdict(str, {k: v for k, v in data.items() if k not in ctype.secret_fields})
        target = url or (test.url.format_map(public) if test else None)
        if not target:
            return CheckResult(True, f"{note} (give a url to try it against one)").to_dict()
        if not re.match(r"https?://", target):
            raise CredentialError(f"test url must start with http:// or https://, got {target!r}", field="url")
        headers: dict[str, str] = {}
        query: dict[str, Any] = {}
        try:
            ctype.sign_request(data, headers, query)
            response = await self.engine.http_client().request(
                test.method if test and not url else "GET", target, headers=headers, params=query or None,
                timeout=15)
        except Exception as exc:  # noqa: BLE001 - any failure is the test's answer, without the secret
            return CheckResult(False, scrub(f"request failed: {type(exc).__name__}: {exc}", data, ctype)).to_dict()
        ok = response.status_code < 400
        return CheckResult(ok, f"{target} answered {response.status_code}"
                               + ("" if ok else ": the credential was not accepted"), response.status_code).to_dict()

    @functools.cached_property
    def _oauth2_states(self) -> Any:
        """OAuth2 authorizations under way (`flowbox.oauth2.PendingStates`), in this process's memory:
        the provider's redirect comes back to the server that answered Connect (one process)."""
        from flowbox.oauth2 import PendingStates

        return PendingStates()

    def _oauth2_tokens(self) -> Any:
        from flowbox.oauth2 import tokens_for

        return tokens_for(self.store, self.vault)

    async def oauth2_authorize(self, id: str, base_url: str | None = None,
                               user: Any = None) -> dict[str, Any]:
        """Start connecting an oAuth2Api credential: `{"url"}`, the provider's authorize URL (PKCE S256).

        The redirect URI is FLOWBOX_PUBLIC_URL (else `base_url`, the URL the caller reached us at)
        + `/api/v1/oauth2/callback`; the state it carries is single use and expires in 10 minutes."""
        from flowbox import oauth2
        from flowbox.credentials import CredentialError

        record = await self._credential_record(id, user)
        if record.type != oauth2.TYPE:
            raise CredentialError(f"credential {id!r} is a {record.type} credential, not {oauth2.TYPE}",
                                  id=id)
        data = self.vault.decrypt(record.data, record.id)
        base = self.settings.public_url or base_url or f"http://{self.settings.host}:{self.settings.port}"
        redirect = oauth2.redirect_uri(base)
        state, verifier = self._oauth2_states.new(id, redirect)
        return {"url": oauth2.authorize_url(data, redirect, state, verifier)}

    async def oauth2_callback(self, *, code: str | None, state: str | None, error: str | None = None,
                              error_description: str | None = None) -> dict[str, Any]:
        """The provider's redirect: check the state, exchange the code, store the tokens encrypted.
        Returns the credential (masked); CredentialError says what went wrong."""
        from flowbox.credentials import CredentialError

        if error:  # the user or the provider said no; the state is spent either way
            with contextlib.suppress(CredentialError):
                self._oauth2_states.take(state)
            raise CredentialError(f"the provider refused the authorization: {error}"
                                  + (f": {error_description}" if error_description else ""), field="error")
        pending = self._oauth2_states.take(state)
        if not code:
            raise CredentialError("the provider's redirect carries no code", field="code")
        id = pending.credential_id
        data = await self._oauth2_tokens().connect(id, code, pending.verifier, pending.redirect_uri)
        record = await self.store.get_credential(id)
        await self.audit("credential.oauth2.connect", "credential", id, name=record.name, type=record.type)
        return self._credential_json(record, data)
    # ------------------------------------------------------------ end of credentials

    # ------------------------------------------------------------ users and API keys (DESIGN §8, `flowbox.auth`)
    # Authentication is enforced once a user exists (see `flowbox.auth`); no password or key leaves this
    # block, only hashes reach the store. Known keys are cached briefly so a request costs no store read.
    AUTH_RECHECK = 1.0  # seconds between re-checks while no user exists (the CLI may add one meanwhile)
    KEY_CACHE_TTL = 10.0  # seconds a verified key is trusted without asking the store again

    @functools.cached_property
    def _auth_state(self) -> dict[str, Any]:
        return {"users_exist": False, "checked": float("-inf"), "keys": {}}

    async def auth_required(self) -> bool:
        """Whether the API asks for a key: once at least one user exists (cached; see `flowbox.auth`)."""
        state = self._auth_state
        if state["users_exist"]:
            return True
        now = time.monotonic()
        if now - state["checked"] >= self.AUTH_RECHECK:
            state["users_exist"] = await self.store.count_users() > 0
            state["checked"] = now
        return bool(state["users_exist"])

    async def _cached_principal(self, key: str, find: Callable[[], Awaitable[Any]]) -> Any:
        """The principal cached under `key` (for `KEY_CACHE_TTL`), else `await find()`, cached when not None."""
        cache: dict[str, tuple[Any, float]] = self._auth_state["keys"]
        now = time.monotonic()
        hit = cache.get(key)
        if hit is not None and hit[1] > now:
            return hit[0]
        principal = await find()
        if principal is None:
            cache.pop(key, None)
            return None
        if len(cache) > 10_000:
            cache.clear()
        cache[key] = (principal, now + self.KEY_CACHE_TTL)
        return principal

    async def authenticate_key(self, key: str | None) -> Any:
        """The `flowbox.auth.Principal` an API key stands for, or None for a missing or unknown key."""
        from flowbox.auth import KEY_PREFIX, Principal, hash_api_key

        if not key or not key.startswith(KEY_PREFIX) or len(key) > 200:
            return None
        digest = hash_api_key(key)

        async def find() -> Any:
            found = await self.store.find_api_key(digest)
            if found is None:
                return None
            record, user = found
            return Principal(user_id=user.id, email=user.email, role=user.role, key_id=record.id)

        return await self._cached_principal(digest, find)

    async def authenticate_password(self, email: str, password: str) -> Any:
        """The `flowbox.auth.Principal` of a user whose password matches, or None (for a future login)."""
        from flowbox.auth import Principal, verify_password

        try:
            user = await self.store.get_user_by_email(str(email))
        except NotFound:
            user = None
        ok = await asyncio.to_thread(verify_password, str(password), user.password_hash if user else None)
        return Principal(user_id=user.id, email=user.email, role=user.role) if ok and user else None

    async def create_user(self, email: Any, role: Any, password: Any) -> dict[str, Any]:
        """A new user (400 naming a bad field, 409 when the email is taken); auth is enforced from now on."""
        from flowbox import auth

        user = await auth.create_user(self.store, email, role, password)
        self._auth_state["users_exist"] = True
        await self.audit("user.create", "user", user.id, email=user.email, role=user.role)
        return auth.user_json(user)

    async def list_users(self) -> list[dict[str, Any]]:
        from flowbox.auth import user_json

        return [user_json(user) for user in await self.store.list_users()]

    async def create_api_key(self, email: str, name: str = "", user: Any = None) -> tuple[str, dict[str, Any]]:
        """`(key, key JSON)`: the key itself is returned here once and never stored. A member makes keys
        for themselves only; admins for anyone."""
        from flowbox import auth
        if user is not None and auth.check_email(email) != user.email:
            target = await self.store.get_user_by_email(email)
            if not auth.has_role(user.role, "admin") or auth.RANK[target.role] >= auth.RANK[user.role]:
                raise Forbidden("you can create API keys for yourself, and an admin for users of a lower role")
        key, record = await auth.create_api_key(self.store, email, name)
        await self.audit("apikey.create", "apikey", record.id, user=email, name=name, prefix=record.prefix)
        return key, auth.key_json(record)

    async def list_api_keys(self, user: Any = None) -> list[dict[str, Any]]:
        """API keys (prefix and name only), oldest first: a member's own, or everyone's for an admin."""
        from flowbox.auth import key_json

        return [key_json(k) for k in await self.store.list_api_keys(self.visible_to(user))]

    async def delete_api_key(self, id: str, user: Any = None) -> None:
        """Revoke a key at once (every process within `KEY_CACHE_TTL`); a member revokes only their own."""
        if user is not None:
            from flowbox.auth import RANK

            key = next((k for k in await self.store.list_api_keys(self.visible_to(user)) if k.id == id), None)
            if key is None:
                raise NotFound("api key", id)
            holder = await self.store.get_user(key.user_id)
            if holder.id != user.user_id and RANK[holder.role] >= RANK[user.role]:
                raise Forbidden(f"only {holder.email} can revoke their own API keys")
        await self.store.delete_api_key(id)
        await self.audit("apikey.delete", "apikey", id)
        self._auth_state["keys"] = {}
    # ------------------------------------------------------------ end of users and API keys

    # ------------------------------------------------------------ editor sessions (`flowbox.sessions`)
    # A login checks the password (rate limited per client address, and per email for failures), stores
    # the sha256 of a fresh token and hands the token to the browser as a cookie. Verified sessions are
    # cached like keys; a logout drops this process's cache entry (other processes: within the TTL).
    LOGIN_RATE = (10 / 60, 10)  # per client address: 10 attempts at once, then one every 6 s
    LOGIN_FAILURES = (5 / 900, 5)  # per email and address: 5 attempts, then one every 3 minutes (a success
    # clears it)

    @functools.cached_property
    def _login_limits(self) -> tuple[Any, Any]:
        from flowbox.ratelimit import RateLimit

        return RateLimit(*self.LOGIN_RATE), RateLimit(*self.LOGIN_FAILURES)

    async def login(self, email: Any, password: Any, *, ip: str | None = None,
                    user_agent: str | None = None) -> tuple[str, Any, Any]:
        """`(token, session, principal)` for a right email and password; Unauthorized (audited) otherwise,
        RateLimited (429) after too many attempts from one address or failures for one email."""
        from flowbox import sessions
        from flowbox.errors import RateLimited, Unauthorized
        from flowbox.store.base import SessionRecord

        per_ip, per_account = self._login_limits
        email = str(email or "").strip().lower()
        account = f"{email}|{ip or '-'}"  # per account AND address: nobody elsewhere can lock the owner out
        wait = per_ip.take(ip or "-") or per_account.take(account)  # taken before checking: parallel guesses
        if wait:                                                      # count too
            await self.audit("login.failed", "user", None, email=email, reason="rate limited")
            raise RateLimited(f"too many login attempts; try again in {int(wait + 0.999)} s", retry_after=wait)
        principal = await self.authenticate_password(email, str(password or ""))
        if principal is None:
            await self.audit("login.failed", "user", None, email=email, reason="wrong email or password")
            raise Unauthorized("wrong email or password")
        per_account.reset(account)
        token = sessions.new_token()
        now = dt.datetime.now(dt.UTC)
        record = SessionRecord(id=sessions.token_id(token), user_id=principal.user_id, csrf=sessions.new_token(),
                               created_at=now, expires_at=now + dt.timedelta(days=sessions.SESSION_DAYS),
                               ip=ip, user_agent=(user_agent or "")[:200] or None)
        await self.store.create_session(record)
        await self.store.delete_sessions(expired_before=now)
        await self.audit("login", "user", principal.user_id, email=principal.email)
        return token, record, principal

    async def authenticate_session(self, token: str | None) -> Any:
        """The `Principal` (with its session's `csrf`) a session cookie stands for, or None."""
        from flowbox.auth import Principal
        from flowbox.sessions import token_id

        if not token or len(token) > 200:
            return None
        id = token_id(token)

        async def find() -> Any:
            found = await self.store.find_session(id, dt.datetime.now(dt.UTC))
            if found is None:
                return None
            record, user = found
            return Principal(user_id=user.id, email=user.email, role=user.role, csrf=record.csrf)

        return await self._cached_principal("s:" + id, find)

    async def logout(self, token: str | None) -> None:
        """End the session of this cookie token (nothing happens for an unknown one)."""
        from flowbox.sessions import token_id

        if not token:
            return
        id = token_id(token)
        self._auth_state["keys"].pop("s:" + id, None)
        await self.store.delete_session(id)
        await self.audit("logout", "session", None)

    async def setup_owner(self, email: Any, password: Any) -> dict[str, Any]:
        """The first-start owner account (the editor's setup form); Conflict once any user exists."""
        if await self.store.count_users() > 0:
            raise Conflict("flowbox already has an owner: log in instead")
        return await self.create_user(email, "owner", password)

    # ------------------------------------------------------------ access: ownership and sharing
    # Owners and admins see and change everything. A member sees what they own and what was shared with
    # them; they may change and run a shared workflow (or use a shared credential), but only its owner or
    # an admin deletes it or changes whom it is shared with. What a member may not see is "not found".
    # `user` None means no restriction (the CLI, the system, an install without users).
    SHARE_KINDS = ("workflow", "credential")

    @staticmethod
    def visible_to(user: Any) -> str | None:
        """The user id lists are filtered by, or None for no filter (no user, admin, owner)."""
        from flowbox.auth import has_role

        return None if user is None or has_role(user.role, "admin") else user.user_id

    async def check_access(self, kind: str, record: Any, user: Any, *, manage: bool = False) -> None:
        """NotFound unless `user` may see `record` (a workflow or credential); Forbidden when they may see
        it but `manage` (delete, share) is asked of a member who does not own it."""
        member = self.visible_to(user)
        if member is None or record.owner_id == member:
            return
        if member in await self.store.get_shares(kind, record.id):
            if manage:
                raise Forbidden(f"only the owner of {kind} {record.id} or an admin can do this")
            return
        raise NotFound(kind, record.id)

    async def check_credentials_usable(self, workflow: Workflow, user: Any) -> None:
        """Forbidden naming the node when a member's workflow reaches what they may not: a credential or a
        sub-workflow / error workflow not theirs and not shared with them, a sub-workflow by file path or
        by an expression, or the code node (it runs Python with the server's file access, so it is for
        owners and admins unless FLOWBOX_CODE_FOR_MEMBERS=1). Checked when a member saves, runs or
        listens with a workflow."""
        import os
        if self.visible_to(user) is None:
            return

        async def reachable(kind: str, id: str, where: str) -> None:
            try:
                record = await (self.store.get_credential(id) if kind == "credential" else self.store.get_workflow(id))
                await self.check_access(kind, record, user)
            except NotFound:
                raise Forbidden(f"{where} uses {kind} {id!r}, which is not yours and not shared with you",
                                node=where) from None

        for node in workflow.nodes.values():
            where = f"node {node.name!r}"
            for ref in (node.credentials or {}).values():
                id = ref.get("id") if isinstance(ref, dict) else ref
                if isinstance(id, str):
                    await reachable("credential", id, where)
            if node.type == "code" and os.environ.get("FLOWBOX_CODE_FOR_MEMBERS") != "1":
                raise Forbidden(f"{where} is a code node: it runs Python with this server's file access, so only "
                                "owners and admins may use it (FLOWBOX_CODE_FOR_MEMBERS=1 allows members)",
                                node=node.name)
            if node.type == "executeWorkflow":
                ref = str(node.parameters.get("workflow") or "")
                if "{{" in ref or ref.endswith(".json") or "/" in ref or "\\" in ref:
                    raise Forbidden(f"{where} must name its sub-workflow by id (a member cannot run workflow "
                                    "files or computed references)", node=node.name)
                if ref:
                    await reachable("workflow", ref, where)
        target = workflow.settings.get("errorWorkflow")
        if isinstance(target, str) and target:
            await reachable("workflow", target, "the error workflow setting")

    async def get_sharing(self, kind: str, id: str, user: Any = None) -> dict[str, Any]:
        """`{"ownerId", "sharedWith": [user ids]}` of a workflow or credential."""
        record = await self._shared_record(kind, id)
        await self.check_access(kind, record, user)
        return {"ownerId": record.owner_id, "sharedWith": await self.store.get_shares(kind, id)}

    async def set_sharing(self, kind: str, id: str, user_ids: Any, user: Any = None) -> dict[str, Any]:
        """Share a workflow or credential with exactly these users (owner or admin only)."""
        from flowbox.auth import AuthError

        record = await self._shared_record(kind, id)
        await self.check_access(kind, record, user, manage=True)
        if not isinstance(user_ids, list) or not all(isinstance(u, str) for u in user_ids):
            raise AuthError("userIds must be a list of user ids", field="userIds")
        await self.store.set_shares(kind, id, [u for u in user_ids if u != record.owner_id])
        await self.audit(f"{kind}.share", kind, id, sharedWith=sorted(set(user_ids)))
        return await self.get_sharing(kind, id, user)

    async def _shared_record(self, kind: str, id: str) -> Any:
        if kind == "workflow":
            return await self.store.get_workflow(id)
        if kind == "credential":
            return await self.store.get_credential(id)
        raise NotFound("kind", kind)

    # ------------------------------------------------------------ audit log (`flowbox.audit`)
    # The one-line `await self.audit(...)` calls in the operations above land here. The actor (who, from
    # where) comes from `flowbox.audit.current_actor`, set by the API guard per request or by the CLI.
    async def audit(self, action: str, kind: str | None, id: str | None, **details: Any) -> None:
        """Record `action` on `kind`/`id` by the current actor; never raises (a failure is logged).
        Never pass secrets in `details` (keys like data/password/token are dropped anyway)."""
        from flowbox import audit

        await audit.record(self.store, action, kind, id, **details)

    async def list_audit(self, *, action: str | None = None, actor: str | None = None, limit: int = 50,
                         cursor: str | None = None, user: Any = None) -> Page[Any]:
        """Audit entries, newest first (`action` exact or a "prefix*"); owners and admins only."""
        self._admin_only(user, "the audit log")
        return await self.store.list_audit(action=action, actor=actor, limit=limit, cursor=cursor)
    # ------------------------------------------------------------ end of audit log


class ForUser(Services):
    """`Services` acting for one signed-in user: every operation that takes `user=` gets theirs, everything
    else passes through. The API's dependency and the editor's pages hand this out instead of `Services`,
    so no handler can forget to pass the user (see `Services.check_access`). A subclass only so that type
    checks (Litestar validates dependencies) accept it; it holds no state of its own."""

    def __init__(self, services: Services, user: Any) -> None:  # Services.__init__ is not called on purpose
        object.__setattr__(self, "_for", (services, user))

    def __getattribute__(self, name: str) -> Any:
        if name.startswith("__"):  # the object itself (its class, for isinstance), not the services
            return object.__getattribute__(self, name)
        services, user = object.__getattribute__(self, "_for")
        if name == "user":
            return user
        attr = getattr(services, name)
        if user is not None and _takes_user(name):
            return functools.partial(attr, user=user)
        return attr

    def __setattr__(self, name: str, value: Any) -> None:
        setattr(object.__getattribute__(self, "_for")[0], name, value)


@functools.cache
def _takes_user(name: str) -> bool:
    import inspect

    method = getattr(Services, name, None)
    return callable(method) and "user" in inspect.signature(method).parameters


def _clean_workflow_data(data: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in data.items() if k not in ("id", "active", "createdAt", "updatedAt", "version")}


class Metrics:
    """Prometheus metrics of one service (its own registry, so tests can build several)."""

    def __init__(self) -> None:
        from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

        self.registry = CollectorRegistry()
        self.executions = Counter("flowbox_executions", "Finished executions by status and mode",
                                  ["status", "mode"], registry=self.registry)
        self.duration = Histogram("flowbox_execution_duration_seconds", "Execution wall time",
                                  buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60,
                                           300), registry=self.registry)
        self.webhooks = Counter("flowbox_webhook_requests", "Webhook requests by HTTP status", ["status"],
                                registry=self.registry)
        self.queue_depth = Gauge("flowbox_queue_depth", "Executions waiting in the queue", registry=self.registry)
        self._webhook_children: dict[int, Any] = {}
        self._execution_children: dict[tuple[str, str], Any] = {}

    def webhook(self, status: int) -> None:
        """Count one webhook request (children cached: this runs on every call)."""
        child = self._webhook_children.get(status)
        if child is None:
            child = self._webhook_children[status] = self.webhooks.labels(status=str(status))
        child.inc()

    def execution(self, status: str, mode: str, seconds: float | None = None) -> None:
        key = (status, mode)
        child = self._execution_children.get(key)
        if child is None:
            child = self._execution_children[key] = self.executions.labels(status=status, mode=mode)
        child.inc()
        if seconds is not None:
            self.duration.observe(seconds)

    def render(self, queue_depth: int) -> bytes:
        from prometheus_client import generate_latest

        self.queue_depth.set(queue_depth)
        return generate_latest(self.registry)
