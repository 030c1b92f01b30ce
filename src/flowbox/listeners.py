"""Listening triggers: trigger nodes that listen or poll while their workflow is active.

A trigger node declares `listen=fn` (`@node(..., trigger=True, listen=fn)`, see `flowbox.node`).
While its workflow is active, `Listeners` runs `await fn(ctx)` as one task per node with a
`ListenerContext` (the SDK's `TriggerContext`): each `await ctx.emit(items)` records a queued
execution that starts at that node (`Runs.enqueue`, mode "trigger"), then saves
`ctx.static`, the node's static data (`Store.get_static_data` / `set_static_data`).
`flowbox.node.polling(check)` builds a `fn` that polls every `every`.

- A listener that raises is logged and restarted after a backoff (`BACKOFF_FIRST` seconds,
  doubling up to `BACKOFF_MAX`; back to the first once it had run `HEALTHY_AFTER` seconds).
  Each (re)start reloads the static data from the store, so a cursor that was moved but not
  saved is forgotten and its items are read again. A listener that returns is not restarted.
- `sync(workflow_id, workflow)` follows activation, updates and deactivation: a listener whose
  node (type, parameters, credentials) did not change keeps running; a changed one is stopped
  and started again once the old task has finished (an emit in progress completes first);
  a removed one is stopped. Before `start()` it only records what should run.
- `stop()` cancels every listener and waits for them (and for any emit in progress).

Delivery: an emit queues the execution durably, then saves the static data. A crash between
those two writes keeps the old cursor, so that one batch is queued again after a restart (at
least once); a cursor is never saved ahead of its execution, so nothing is skipped.

Scale-out: listeners run only in the server process, the one that runs the scheduler
(`Runtime.start(schedule=True)`); `flowbox worker` processes run none, so every trigger
listens exactly once (run one server with the scheduler, as for schedules).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import orjson

from flowbox.errors import NodeError, NotFound, describe
from flowbox.node import Item, ListenFunction, make_items

if TYPE_CHECKING:
    from flowbox.engine.context import NodeContext
    from flowbox.node import NodeSpec
    from flowbox.store.base import StaticDataStore, WorkflowStore
    from flowbox.workflow import Workflow

    class ListenerStore(WorkflowStore, StaticDataStore):
        """What the listeners read and write: the workflows they listen for and their static data."""

logger = logging.getLogger("flowbox.listeners")
BACKOFF_FIRST = 1.0
BACKOFF_MAX = 300.0
HEALTHY_AFTER = 60.0
STOP_TIMEOUT = 10.0


def listening_nodes(workflow: Workflow) -> dict[str, bytes]:
    """The enabled nodes of `workflow` whose type listens, each with what its listener depends on."""
    from flowbox import registry

    out = {}
    for node in workflow.nodes.values():
        if not node.disabled and registry.get(node.type, node.name).listen is not None:
            out[node.name] = orjson.dumps([node.type, node.parameters, node.credentials, workflow.timezone],
                                          option=orjson.OPT_SORT_KEYS)
    return out


@dataclass
class Listener:
    """One listening trigger node of an active workflow."""

    workflow_id: str
    node: str
    config: bytes
    task: asyncio.Task[None] | None = None
    state: str = "idle"  # idle | running | backoff | stopped | finished
    restarts: int = 0
    emitted: int = 0
    last_error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"workflowId": self.workflow_id, "node": self.node, "state": self.state, "restarts": self.restarts,
                "emitted": self.emitted, "lastError": self.last_error}


class ListenerContext:
    """The `flowbox.node.TriggerContext` of one run of a listener (a restart makes a new one)."""

    def __init__(self, listeners: Listeners, listener: Listener, node_ctx: NodeContext,
                 static: dict[str, Any]) -> None:
        self._listeners = listeners
        self._listener = listener
        self._node = node_ctx
        self.workflow_id = listener.workflow_id
        self.node_name = listener.node
        self.node_type = node_ctx.node_type
        self.static = static
        self._saved = orjson.dumps(static)
        self.pending: asyncio.Future[str] | None = None

    @property
    def spec(self) -> NodeSpec:
        return self._node.spec

    def param(self, name: str, default: Any = None) -> Any:
        return self._node.param(name, 0, default)

    def raw_param(self, name: str, default: Any = None) -> Any:
        return self._node.raw_param(name, default)

    def error(self, message: str, description: str | None = None) -> NodeError:
        return NodeError(message, node=self.node_name, description=description)

    @property
    def http(self) -> Any:
        return self._node.http

    async def credential(self, type_: str) -> dict[str, Any] | None:
        return await self._node.credential(type_)

    async def emit(self, items: list[Item] | list[dict[str, Any]]) -> str:
        """Queue an execution starting at this node with `items`, then save `static`; its id."""
        # shielded: a listener stopped meanwhile still finishes queueing and saving (stop waits for it)
        self.pending = asyncio.ensure_future(self._emit(make_items(items)))
        return await asyncio.shield(self.pending)

    async def _emit(self, items: list[Item]) -> str:
        listeners = self._listeners
        try:
            record = await listeners.store.get_workflow(self.workflow_id)
        except NotFound:
            record = None
        if record is None or not record.active:  # deactivated or deleted behind our back (another process)
            self._listeners.sync(self.workflow_id, None)
            return ""
        workflow, _ = listeners.compiled(record)
        execution = await listeners.enqueue(workflow, items, mode="trigger", start_node=self.node_name)
        await self.save()
        self._listener.emitted += 1
        return execution.id

    async def save(self) -> None:
        blob = orjson.dumps(self.static)
        if blob != self._saved:
            await self._listeners.store.set_static_data(self.workflow_id, self.node_name, self.static)
            self._saved = blob

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)

    def log(self, message: str) -> None:
        logger.info("workflow %s, trigger %r: %s", self.workflow_id, self.node_name, message)


class Listeners:
    """Runs the listening triggers of active workflows (see the module docstring)."""

    def __init__(self, store: ListenerStore, compiled: Callable[[Any], tuple[Workflow, Any]],
                 enqueue: Callable[..., Awaitable[Any]], engine: Any) -> None:
        """`compiled(record)` loads a stored workflow, `enqueue(workflow, items, mode=, start_node=)` queues
        a run, `engine` (EngineServices) gives the listeners' contexts credentials and HTTP."""
        self.store = store
        self.compiled = compiled
        self.enqueue = enqueue
        self.engine = engine
        self.entries: dict[tuple[str, str], Listener] = {}
        self.running = False
        self.backoff_first = BACKOFF_FIRST
        self.backoff_max = BACKOFF_MAX
        self.healthy_after = HEALTHY_AFTER
        self._stopping: dict[tuple[str, str], asyncio.Task[None]] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    def sync(self, workflow_id: str, workflow: Workflow | None) -> None:
        """(Re)register the listening triggers of an active workflow; None stops them."""
        wanted = listening_nodes(workflow) if workflow is not None else {}
        for key, entry in list(self.entries.items()):
            if key[0] != workflow_id:
                continue
            if wanted.get(key[1]) == entry.config:
                del wanted[key[1]]  # unchanged: keeps running
                continue
            del self.entries[key]
            self._cancel(entry)
        for name, config in wanted.items():
            entry = self.entries[(workflow_id, name)] = Listener(workflow_id, name, config)
            if self.running:
                self._launch(entry)

    async def start(self) -> None:
        self.running = True
        for entry in self.entries.values():
            if entry.task is None:
                self._launch(entry)

    async def stop(self, timeout: float = STOP_TIMEOUT) -> None:
        """Cancel every listener and wait (up to `timeout`) for them and any emit in progress."""
        self.running = False
        for entry in self.entries.values():
            self._cancel(entry)
            entry.task = None
        tasks = list(self._tasks)
        if tasks:
            _, pending = await asyncio.wait(tasks, timeout=timeout)
            if pending:
                logger.warning("%d trigger listeners did not stop within %g s", len(pending), timeout)

    def describe(self) -> list[dict[str, Any]]:
        """Every listener's state (for the API and tests)."""
        return [entry.to_dict() for entry in self.entries.values()]

    def _launch(self, entry: Listener) -> None:
        after = self._stopping.get((entry.workflow_id, entry.node))
        task = entry.task = asyncio.ensure_future(self._run(entry, after))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _cancel(self, entry: Listener) -> None:
        entry.state = "stopped"
        task = entry.task
        if task is None or task.done():
            return
        task.cancel()
        key = (entry.workflow_id, entry.node)
        self._stopping[key] = task

        def forget(done: asyncio.Task[None]) -> None:
            if self._stopping.get(key) is done:
                del self._stopping[key]

        task.add_done_callback(forget)

    async def _context(self, entry: Listener) -> ListenerContext | None:
        """A fresh context with the static data as saved; None when the workflow or node is no longer live."""
        from flowbox.engine.context import NodeContext
        from flowbox.engine.runner import Runner

        try:
            record = await self.store.get_workflow(entry.workflow_id)
        except NotFound:
            return None
        if not record.active:
            return None
        workflow, specs = self.compiled(record)
        node = workflow.nodes.get(entry.node)
        if node is None or node.disabled or specs[node.name].listen is None:
            return None
        static = await self.store.get_static_data(entry.workflow_id, entry.node)
        runner = Runner(workflow, services=self.engine, mode="trigger", specs=specs)
        return ListenerContext(self, entry, NodeContext(runner, node, specs[node.name], [], run_index=0,
                                                        source=None), static)

    async def _run(self, entry: Listener, after: asyncio.Task[None] | None) -> None:
        if after is not None:  # the previous listener of this node finishes (and saves) first
            await asyncio.wait([after])
        loop = asyncio.get_running_loop()
        delay = self.backoff_first
        where = f"workflow {entry.workflow_id}, trigger {entry.node!r}"
        while True:
            started = loop.time()
            ctx = None
            try:
                ctx = await self._context(entry)
                if ctx is None:
                    entry.state = "stopped"
                    return
                entry.state = "running"
                logger.info("%s: listening", where)
                listen: ListenFunction = ctx.spec.listen  # type: ignore[assignment]
                await listen(ctx)
                entry.state = "finished"
                logger.info("%s: the listener returned; it is not restarted", where)
                return
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - a listener's failure is logged, never the server's
                if loop.time() - started >= self.healthy_after:
                    delay = self.backoff_first
                entry.restarts += 1
                entry.last_error = describe(exc)
                entry.state = "backoff"
                logger.error("%s failed: %s; restarting in %.3g s", where, entry.last_error, delay)
            finally:
                if ctx is not None and ctx.pending is not None and not ctx.pending.done():
                    with contextlib.suppress(Exception):
                        await asyncio.wait([ctx.pending])
            await asyncio.sleep(delay)
            delay = min(delay * 2, self.backoff_max)
