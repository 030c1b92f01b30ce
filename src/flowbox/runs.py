"""Running executions: enqueue, run what the queue hands over, run inline, retry, resume, wait for.

Written once for every way an execution starts:

- `enqueue` records an execution "queued" (durably) and hands its id to the queue; a consumer
  calls `run_queued(id)`, which claims it (a duplicate id is harmless) and runs it through the
  recorder. Schedules, triggers, the API's run, retries, error workflows and webhooks answering
  `immediately` all go this way.
- `start_inline` runs at once, for webhooks that answer with the run's data; the record is written
  while it runs.
- `retry` runs a finished execution again (from its failed node when it can), `resume` wakes a
  Wait parked for a webhook call, `wait_for` waits for an execution to finish.

`maxConcurrency` limits each workflow's executions in this process; `admit` refuses new work
while shutting down or while the disk is below its reserve.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson

from flowbox.engine.runner import ExecutionResult, pins_apply
from flowbox.engine.state import RunData
from flowbox.errors import (
    Conflict,
    DiskFull,
    FlowboxError,
    NotFound,
    StoreError,
    Unavailable,
    WorkflowInvalid,
)
from flowbox.node import Item, make_items
from flowbox.recorder import ExecutionPlan, Recorder, engine_services
from flowbox.store.base import ExecutionRecord, Store
from flowbox.workflow import Workflow, load_workflow, validate_for_run

if TYPE_CHECKING:
    from flowbox.disk import Disk
    from flowbox.metrics import Metrics
    from flowbox.workflows import Workflows

logger = logging.getLogger("flowbox")


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


class Runs:
    """The executions of one process: how they start, run, and end."""

    def __init__(self, store: Store, recorder: Recorder, workflows: Workflows, disk: Disk, metrics: Metrics) -> None:
        self.store = store
        self.recorder = recorder
        self.workflows = workflows
        self.disk = disk
        self.metrics = metrics
        self.queue: Any = None  # flowbox.tasks.Queue, set by the runtime once it exists
        self.wake_scheduler: Callable[[], None] | None = None  # a parked Wait: the scheduler resumes it
        self.accepting = False
        self.loop: asyncio.AbstractEventLoop | None = None
        self._running: dict[str, asyncio.Task[Any]] = {}
        self._done: dict[str, asyncio.Future[None]] = {}
        self._limits: dict[str, asyncio.Semaphore] = {}

    def admit(self) -> None:
        """Raise unless new work may start: Unavailable while shutting down, DiskFull (503 with
        Retry-After) while the disk is below the free-space reserve (`flowbox.disk`)."""
        if not self.accepting:
            raise Unavailable("flowbox is shutting down; try again shortly")
        self.disk.check()

    def _limit(self, workflow: Workflow) -> asyncio.Semaphore | None:
        limit = workflow.settings.get("maxConcurrency")
        if not limit or not workflow.id:
            return None
        semaphore = self._limits.get(workflow.id)
        if semaphore is None or getattr(semaphore, "size", None) != int(limit):
            semaphore = asyncio.Semaphore(int(limit))
            semaphore.size = int(limit)  # type: ignore[attr-defined]
            self._limits[workflow.id] = semaphore
        return semaphore

    # ---- the queue
    async def enqueue(self, workflow: Workflow, items: list[Item], *, mode: str, start_node: str | None = None,
                      retry_of: str | None = None) -> ExecutionRecord:
        """Record an execution as "queued" (durably), then hand its id to the queue."""
        self.admit()
        record = await self.recorder.queued(ExecutionPlan(workflow, items, mode=mode, start=start_node),
                                            retry_of=retry_of)
        await self._hand_to_queue(record.id)
        return record

    async def _hand_to_queue(self, execution_id: str) -> None:
        """Enqueue a recorded execution. When the queue refuses (its disk is full), the caller gets the
        error (503) and the record says "crashed", so that it does not run later, at the next start."""
        if self.queue.consuming:
            self._done[execution_id] = asyncio.get_running_loop().create_future()
        try:
            await asyncio.to_thread(self.queue.enqueue, execution_id)
        except FlowboxError as exc:
            self._finish_waiter(execution_id)
            try:
                await self.recorder.crashed(execution_id, None, f"could not be queued: {exc.message}")
            except StoreError as write_error:
                self.disk.unsaved(execution_id, None, write_error)
            raise

    def run_queued_threadsafe(self, execution_id: str) -> None:
        """Called by a queue consumer thread: run the execution on the event loop, wait for it."""
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
        limit = self._limit(workflow)
        if limit is not None:
            if limit.locked():  # give the consumer back; the id goes to the end of the queue
                from flowbox.tasks import Deferred

                raise Deferred(0.1)
            await limit.acquire()
        try:
            if not await self.recorder.claim(execution_id):
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
            await self.execute(ExecutionPlan(workflow, make_items(record.input or []), mode=record.mode,
                                             record=record, start=record.start_node, snapshot=snapshot,
                                             webhook_item=webhook_item))
        finally:
            if limit is not None:
                limit.release()
            self._running.pop(execution_id, None)
            self._finish_waiter(execution_id)

    def _finish_waiter(self, execution_id: str) -> None:
        waiter = self._done.pop(execution_id, None)
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    # ---- running
    async def execute(self, plan: ExecutionPlan, *, specs: dict[str, Any] | None = None,
                      on_respond: Callable[[dict[str, Any]], None] | None = None,
                      recorded: asyncio.Future[BaseException | None] | None = None) -> ExecutionResult:
        """Run and record `plan`; count it; a failure starts the workflow's error workflow."""
        runner = self.recorder.runner(plan, specs=specs or {}, on_respond=on_respond)
        started = time.perf_counter()
        result = await self.recorder.execute(plan, runner=runner, recorded=recorded)
        if result.status == "waiting":
            if self.wake_scheduler is not None:
                self.wake_scheduler()
            return result
        self.metrics.execution(result.status, plan.mode, time.perf_counter() - started)
        if result.status == "error":
            await self._run_error_workflow(plan.workflow, result, plan.mode)
        return result

    def start_inline(self, workflow: Workflow, items: list[Item], *, mode: str, start: str | None,
                     specs: dict[str, Any], progress: bool,
                     on_respond: Callable[[dict[str, Any]], None] | None = None,
                     recorded: asyncio.Future[BaseException | None] | None = None,
                     on_done: Callable[[ExecutionResult], None] | None = None) -> asyncio.Task[ExecutionResult]:
        """Run now (within the workflow's concurrency limit), as a task that a shutdown waits for."""
        limit = self._limit(workflow)

        async def run() -> ExecutionResult:
            async with limit if limit is not None else contextlib.nullcontext():
                result = await self.execute(ExecutionPlan(workflow, items, mode=mode, start=start, progress=progress),
                                            specs=specs, on_respond=on_respond, recorded=recorded)
            if on_done is not None:
                on_done(result)
            return result

        task = asyncio.ensure_future(run())
        key = f"inline-{id(task)}"
        self._running[key] = task
        task.add_done_callback(lambda _: self._running.pop(key, None))
        return task

    async def run_manual(self, workflow: Workflow, specs: dict[str, Any], items: list[Item], *,
                         destination: str | None = None, replay: dict[str, list[list[Item]]] | None = None,
                         on_node_start: Callable[[str], Any] | None = None,
                         on_node_run: Callable[[RunData], Any] | None = None) -> ExecutionResult:
        """The editor's Run: now, with live events; `destination` runs only what leads to that node,
        reusing `replay` (earlier output) for the nodes before it."""
        self.admit()
        plan = ExecutionPlan(workflow, items, mode="manual", progress=True)
        runner = self.recorder.runner(plan, specs=specs, destination=destination, replay=replay or {},
                                      on_node_start=on_node_start)
        result = await self.recorder.execute(plan, runner=runner, on_node_run=on_node_run)
        self.metrics.execution(result.status, "manual")
        return result

    async def run_here(self, workflow: Workflow, items: list[Item], *, base_dir: Path | None, vault: Any,
                       files_dir: Path | None, save: bool = True,
                       on_node_run: Callable[[RunData], Any] | None = None) -> ExecutionResult:
        """`flowbox run`: now, in this process, outside the queue; sub-workflow files are found relative
        to `base_dir` (the workflow file's folder); `save=False` records nothing, sub-workflows included."""
        engine = engine_services(self.store, await self.store.get_variables(), base_dir, vault=vault,
                                 files_dir=files_dir)
        try:
            recorder = Recorder(self.store if save else None, engine)
            return await recorder.execute(ExecutionPlan(workflow, items, mode="cli"), on_node_run=on_node_run)
        finally:
            await engine.close()

    async def _run_error_workflow(self, workflow: Workflow, result: ExecutionResult, mode: str) -> None:
        """`settings.errorWorkflow`: run that workflow from its failure trigger with the failure's details."""
        target = workflow.settings.get("errorWorkflow")
        if not target or target == workflow.id or mode == "error":
            return
        try:
            error_wf, specs = self.workflows.compiled(await self.store.get_workflow(str(target)))
        except FlowboxError as exc:
            logger.error("error workflow %s of %s cannot run: %s", target, workflow.id, exc.message)
            return
        trigger = next((n for n, s in specs.items() if s.on_failure), None)
        if trigger is None:
            logger.error("error workflow %s has no errorTrigger node", target)
            return
        item = Item({"execution": {"id": result.execution_id, "mode": mode, "lastNodeExecuted": result.last_node,
                                   "error": result.error},
                     "workflow": {"id": workflow.id, "name": workflow.name}})
        try:
            await self.enqueue(error_wf, [item], mode="error", start_node=trigger)
        except (Unavailable, DiskFull) as exc:
            logger.error("error workflow %s of %s did not run: %s", target, workflow.id, exc.message)

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

    async def retry(self, old: ExecutionRecord, *, from_start: bool = False) -> ExecutionRecord:
        """Run a finished execution again as a new one (retry_of = its id).

        A failed execution restarts at its failed node with the input it had, reusing the
        recorded data of the nodes before it (copied into the new execution); with
        `from_start`, or without that data, it runs again from its trigger.
        """
        if old.status in ("queued", "running", "waiting", "new"):
            raise Conflict(f"execution {old.id} is {old.status}; only finished executions can be retried")
        if old.workflow_data is None:
            raise Conflict(f"execution {old.id} kept no workflow to retry")
        data = old.workflow_data
        if not pins_apply(old.mode):  # a production run's retry is one too: it runs without the pins
            data = {k: v for k, v in data.items() if k != "pinData"}
        workflow = load_workflow(data, id=old.workflow_id)
        validate_for_run(workflow)
        snapshot = None if from_start or old.status != "error" else await self.store.get_snapshot(old.id)
        if snapshot is None:
            return await self.enqueue(workflow, make_items(old.input or []), mode="retry", retry_of=old.id,
                                      start_node=old.start_node)
        failed = orjson.loads(snapshot)["pending"]["node"]
        self.admit()
        record = await self.recorder.queued_retry(old, workflow, snapshot, failed)
        await self._hand_to_queue(record.id)
        return record

    async def resume(self, execution_id: str, item: Item) -> None:
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
        self.admit()
        await self.recorder.resumed(execution_id, mark(snapshot, webhook=item.to_dict()))
        await asyncio.to_thread(self.queue.enqueue, execution_id)

    async def stop_execution(self, execution_id: str, timeout: float = 10.0) -> ExecutionRecord:
        """Stop one execution: a running one is cancelled where it stands (the nodes that finished keep their
        data), a queued or waiting one never starts; either is recorded "canceled". Conflict when it has
        finished, or runs in another process (a worker: stop it there)."""
        record = await self.store.get_execution(execution_id)
        if record.status in ("success", "error", "canceled", "crashed"):
            raise Conflict(f"execution {execution_id} has already finished ({record.status})")
        if record.status in ("new", "queued", "waiting") and await self.recorder.canceled(
                execution_id, "stopped before it ran"):
            self._finish_waiter(execution_id)
            return await self.store.get_execution(execution_id)
        task = self.recorder.stop(execution_id)
        if task is not None:
            with contextlib.suppress(asyncio.CancelledError, asyncio.TimeoutError, Exception):
                await asyncio.wait_for(asyncio.shield(task), timeout)
        elif record.mode == "integrated":
            raise Conflict(f"execution {execution_id} is a sub-workflow run: stop the execution that called it")
        else:
            raise Conflict(f"execution {execution_id} is not running in this process (a worker runs it?)")
        return await self.store.get_execution(execution_id)

    async def stop(self, timeout: float) -> None:
        """Stop taking work; running executions get `timeout` seconds, then are cancelled (recorded crashed)."""
        self.accepting = False
        running = [t for t in self._running.values() if not t.done()]
        if running:
            _, pending = await asyncio.wait(running, timeout=timeout)
            for task in pending:
                task.cancel()
            if pending:
                await asyncio.wait(pending, timeout=5)
