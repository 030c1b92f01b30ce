"""The execution recorder: the one path from a run of the engine to the store.

    recorder = Recorder(store, engine_services(store, variables, vault=vault))
    result = await recorder.execute(ExecutionPlan(workflow, items, mode="webhook", start="Hook"))

Every execution that is saved goes through `Recorder.execute`: the server's webhooks, queue,
retries, waits and the editor's runs, the CLI's `flowbox run`, and sub-workflows; the records of what
has not run yet (`queued`, `queued_retry`, `resumed`) and of what stopped without finishing (`crashed`) are
written here too. It writes
the execution as it runs, node run by node run, so a crash leaves a record of how far it got;
the workflow's save-data settings may drop the record at the end.

A run whose writes fail because of the data (a node's output nested deeper than the store can
encode) ends "error" naming that node, never "running"; one whose writes fail because the disk
is full is handed to `unsaved` so it can be recorded once space returns (`flowbox.disk`).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import functools
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flowbox.engine.runner import EngineServices, ExecutionResult, Runner
from flowbox.engine.state import RunData
from flowbox.errors import StoreError, WorkflowInvalid
from flowbox.n8n import load_workflow_file
from flowbox.node import Item
from flowbox.store.base import ExecutionRecord, NodeRun, Store, new_id
from flowbox.workflow import Workflow, load_workflow

Unsaved = Callable[[str, "str | None", BaseException], None]


@dataclass
class ExecutionPlan:
    """What to run and how to record it.

    workflow, items   the workflow and the trigger's items
    mode              manual, cli, webhook, trigger, retry, error, integrated, test (the record's mode)
    record            an execution already created (queued or waiting); else one is created "running"
    start             the trigger node to start from (a workflow may have several)
    snapshot          go on from a parked Wait, or re-run a failed node; `webhook_item` resumes a Wait
    progress          write each node run as it finishes (default: the workflow's saveExecutionProgress,
                      else true); without, they are written together at the end
    save              record nothing when false (`flowbox run --no-save`)
    """

    workflow: Workflow
    items: list[Item]
    mode: str = "manual"
    record: ExecutionRecord | None = None
    start: str | None = None
    snapshot: bytes | None = None
    webhook_item: Item | None = None
    progress: bool | None = None
    save: bool = True


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


def keep_execution(settings: dict[str, Any], status: str, mode: str) -> bool:
    """n8n's per-workflow "save execution data" settings: whether a finished execution is kept."""
    if mode == "manual" and settings.get("saveManualExecutions", True) is False:
        return False
    key = "saveDataSuccessExecution" if status == "success" else "saveDataErrorExecution"
    return settings.get(key, "all") != "none"


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


def engine_services(store: Store | None, variables: dict[str, str], base_dir: Path | None = None,
                    vault: Any = None, files_dir: Path | None = None) -> EngineServices:
    """Engine services backed by `store`: variables, sub-workflows by id or by file, and (with a
    `flowbox.credentials.Vault`) credentials by id, decrypted. A `Recorder` made with them records
    sub-workflow runs too."""

    async def load(ref: str) -> Workflow:
        path = Path(ref)
        if not path.is_absolute() and base_dir is not None:
            path = base_dir / path
        if path.suffix == ".json" or path.is_file():
            if not path.is_file():
                raise WorkflowInvalid(f"sub-workflow file {ref!r} not found")
            return load_workflow_file(path)
        if store is None:
            raise WorkflowInvalid(f"sub-workflow {ref!r} not found")
        record = await store.get_workflow(ref)
        return load_workflow(record.data, id=record.id)

    credential = None
    if store is not None and vault is not None:
        from flowbox.credential_vault import resolver

        credential = audited_use(store, resolver(store, vault))
    services = EngineServices(variables=variables, load_workflow=load, credential=credential)
    services.files_dir = files_dir
    return services


class Recorder:
    """Runs executions and records them in `store` (None: runs without recording)."""

    def __init__(self, store: Store | None, services: EngineServices, unsaved: Unsaved | None = None) -> None:
        self.store = store
        self.services = services
        self.unsaved = unsaved
        self.running: dict[str, asyncio.Task[Any]] = {}  # execution id -> the task running it, in this process
        self._stop_asked: set[str] = set()
        if store is not None:
            services.record_subexecution = self._subexecution

    async def _subexecution(self, runner: Runner, items: list[Item]) -> ExecutionResult:
        return await self.execute(ExecutionPlan(runner.workflow, items, mode="integrated"), runner=runner)

    def _store(self) -> Store:
        if self.store is None:
            raise StoreError("this recorder has no store")
        return self.store

    async def queued(self, plan: ExecutionPlan, *, retry_of: str | None = None) -> ExecutionRecord:
        """Record `plan` as an execution waiting in the queue (durably, before it is handed over)."""
        return await self._store().create_execution(
            workflow_id=plan.workflow.id, mode=plan.mode, status="queued", workflow_data=plan.workflow.data,
            input=[i.to_dict() for i in plan.items] or None, retry_of=retry_of, start_node=plan.start)

    async def crashed(self, execution_id: str, node: str | None, message: str) -> None:
        """Record that an execution ended without finishing (the server stopped, it could not be queued)."""
        await self._store().finish_execution(execution_id, "crashed", error={"node": node, "message": message})

    async def queued_retry(self, old: ExecutionRecord, workflow: Workflow, snapshot: bytes,
                           failed: str) -> ExecutionRecord:
        """Record a retry of the failed execution `old` that goes on at its failed node `failed`: the node runs
        before it are copied, its state (`snapshot`) kept, and the new record queued."""
        store = self._store()
        record = await store.create_execution(
            workflow_id=workflow.id, mode="retry", status="new", workflow_data=workflow.data, input=old.input,
            retry_of=old.id, start_node=old.start_node)
        runs = sorted((r for rs in old.nodes.values() for r in rs),
                      key=lambda r: r.started_at or dt.datetime.min.replace(tzinfo=dt.UTC))
        last_failed = next((r for r in reversed(runs) if r.node == failed and r.error is not None), None)
        for run in runs:
            if run is not last_failed:
                await store.append_node_run(record.id, run)
        await store.save_snapshot(record.id, snapshot)
        await store.set_execution_status(record.id, "queued")
        record.status = "queued"
        return record

    async def claim(self, execution_id: str) -> bool:
        """Mark a queued or due waiting execution "running" for this process; False when another took it."""
        return await self._store().claim_execution(execution_id, ("queued", "waiting"))

    def stop(self, execution_id: str) -> asyncio.Task[Any] | None:
        """Cancel the execution running in this process (it is recorded "canceled"); its task, to wait for,
        or None when it does not run here."""
        task = self.running.get(execution_id)
        if task is None or task.done():
            return None
        self._stop_asked.add(execution_id)
        task.cancel()
        return task

    async def canceled(self, execution_id: str, message: str) -> bool:
        """Record an execution that has not started (new, queued, or parked in a Wait) as stopped: claimed
        first, so a queue consumer cannot start it meanwhile; False when one already had."""
        store = self._store()
        if not await store.claim_execution(execution_id, ("new", "queued", "waiting")):
            return False
        await store.finish_execution(execution_id, "canceled", error={"node": None, "message": message})
        return True

    async def resumed(self, execution_id: str, snapshot: bytes) -> None:
        """Record that a parked execution may go on now, from `snapshot` (the Wait's state plus what resumed it)."""
        store = self._store()
        await store.save_snapshot(execution_id, snapshot)
        await store.set_execution_status(execution_id, "waiting", wait_till=dt.datetime.now(dt.UTC))

    def runner(self, plan: ExecutionPlan, **options: Any) -> Runner:
        """A Runner for `plan` on these services; `options` as Runner takes them (specs, on_respond, ...)."""
        return Runner(plan.workflow, services=self.services, mode=plan.mode, **options)

    async def execute(self, plan: ExecutionPlan, *, runner: Runner | None = None,
                      on_node_run: Callable[[RunData], Awaitable[None]] | None = None,
                      recorded: asyncio.Future[BaseException | None] | None = None) -> ExecutionResult:
        """Run `plan`, recording it as it goes; `recorded` is set once the new record is committed (to None,
        or to the write's error); `on_node_run` sees each node run as it finishes."""
        store = self.store if plan.save else None
        workflow = plan.workflow
        progress = plan.progress
        if progress is None:
            progress = workflow.settings.get("saveExecutionProgress", True) is not False
        runner = runner or self.runner(plan)
        writes: list[asyncio.Future[Any]] = []
        nodes: dict[int, str] = {}  # id(write) -> the node whose run it carries
        held: list[NodeRun] = []
        record = plan.record
        if store is not None:
            if record is None:
                record = ExecutionRecord(id=new_id(), workflow_id=workflow.id, status="running", mode=plan.mode)
                created = asyncio.ensure_future(store.create_execution(
                    id=record.id, workflow_id=workflow.id, mode=plan.mode, status="running",
                    workflow_data=workflow.data, input=[i.json for i in plan.items] or None))
                if recorded is not None:
                    created.add_done_callback(functools.partial(_settle_recorded, recorded))
                writes.append(created)  # the store keeps the order: later writes land after it
            elif record.status != "running":
                await store.set_execution_status(record.id, "running")
            runner.execution_id = record.id
            task = asyncio.current_task()
            if task is not None and plan.mode != "integrated":  # a sub-execution stops with its parent
                self.running[record.id] = task
        else:
            record = None
        if recorded is not None and not writes and not recorded.done():  # no record to create first
            recorded.set_result(None)

        async def node_finished(run: RunData) -> None:
            if record is not None:
                if progress:
                    # written by the store's own thread while the next node computes; the store keeps
                    # the order, and every write is awaited before the execution finishes
                    write = asyncio.ensure_future(store.append_node_run(  # type: ignore[union-attr]
                        record.id, to_node_run(run)))
                    nodes[id(write)] = run.node
                    writes.append(write)
                else:
                    held.append(to_node_run(run))
            if on_node_run is not None:
                await on_node_run(run)

        runner.on_node_run = node_finished
        try:
            if plan.snapshot is not None:
                result = await runner.resume(plan.snapshot, webhook_item=plan.webhook_item)
            else:
                result = await runner.run(plan.items, start=plan.start)
        except BaseException as exc:
            await asyncio.gather(*writes, return_exceptions=True)
            if record is not None:
                asked = isinstance(exc, asyncio.CancelledError) and record.id in self._stop_asked
                stopped = isinstance(exc, (KeyboardInterrupt, asyncio.CancelledError, SystemExit))
                message = "interrupted" if stopped else f"{type(exc).__name__}: {exc}"
                error = {"node": runner.last_node, "message": message}
                if asked:  # a person stopped it: no node failed
                    where = f" while node '{runner.running_node}' ran" if runner.running_node else ""
                    error = {"node": None, "message": f"stopped{where}", "stoppedAt": runner.running_node}
                try:
                    await asyncio.shield(store.finish_execution(  # type: ignore[union-attr]
                        record.id, "canceled" if asked else "crashed", error=error, last_node=runner.last_node))
                except StoreError as write_error:
                    self._unsaved(record.id, runner.last_node, write_error)
                    raise
            raise
        finally:
            if record is not None:
                self.running.pop(record.id, None)
                self._stop_asked.discard(record.id)
        if record is None:
            return result
        assert store is not None
        try:
            return await _record_end(store, record, result, writes, nodes, held, plan)
        except StoreError as exc:
            self._unsaved(record.id, result.last_node, exc)
            raise

    def _unsaved(self, execution_id: str, last_node: str | None, error: BaseException) -> None:
        if self.unsaved is not None:
            self.unsaved(execution_id, last_node, error)


def _settle_recorded(recorded: asyncio.Future[BaseException | None], created: asyncio.Future[Any]) -> None:
    """`recorded` follows the write that created the execution: None once it is committed, else its error."""
    if not recorded.done():
        recorded.set_result(None if created.cancelled() else created.exception())


class _Unstorable(Exception):
    """A write failed for its data (not for the store): `node` is whose run it carried, when one did."""

    def __init__(self, cause: BaseException, node: str | None) -> None:
        super().__init__(f"{type(cause).__name__}: {cause}")
        self.node = node


async def _settle(writes: list[asyncio.Future[Any]], nodes: dict[int, str] | None = None) -> _Unstorable | None:
    """Wait for every write; a store error is raised, any other failure (data the store cannot encode)
    is returned, with the node whose run it was, so the run can be recorded as failed."""
    outcomes = await asyncio.gather(*writes, return_exceptions=True)
    failures = [(o, w) for o, w in zip(outcomes, writes, strict=True) if isinstance(o, BaseException)]
    for failure, _ in failures:
        if isinstance(failure, StoreError):
            raise failure
    if not failures:
        return None
    failure, write = failures[0]
    return _Unstorable(failure, (nodes or {}).get(id(write)))


async def _record_end(store: Store, record: ExecutionRecord, result: ExecutionResult,
                      writes: list[asyncio.Future[Any]], nodes: dict[int, str], held: list[NodeRun],
                      plan: ExecutionPlan) -> ExecutionResult:
    """The writes that end a run: its node runs, then "waiting" with its snapshot, or its final status."""
    if result.status == "waiting":
        assert result.snapshot is not None
        for run in held:
            write = asyncio.ensure_future(store.append_node_run(record.id, run))
            nodes[id(write)] = run.node
            writes.append(write)
        failure = await _settle(writes, nodes)
        if failure is not None:
            return await _unstorable(store, record, result, failure)
        await store.save_snapshot(record.id, result.snapshot)
        await store.set_execution_status(record.id, "waiting", wait_till=result.wait_till)
        return result
    failure = await _settle(writes, nodes)
    if failure is not None:
        return await _unstorable(store, record, result, failure)
    final: list[asyncio.Future[Any]] = []
    if result.snapshot is not None:
        final.append(asyncio.ensure_future(store.save_snapshot(record.id, result.snapshot)))
    elif plan.snapshot is not None:
        final.append(asyncio.ensure_future(store.save_snapshot(record.id, None)))
    keep = keep_execution(plan.workflow.settings, result.status, plan.mode)
    if keep:
        final.append(asyncio.ensure_future(store.finish_execution(
            record.id, result.status, error=result.error, last_node=result.last_node, runs=held,
            custom_data=result.custom_data or None)))
    failure = await _settle(final)  # one group commit on SQLite
    if failure is not None:
        return await _unstorable(store, record, result, failure)
    if not keep:
        await store.delete_execution(record.id)
        result.execution_id = None
    return result


async def _unstorable(store: Store, record: ExecutionRecord, result: ExecutionResult,
                      failure: _Unstorable) -> ExecutionResult:
    """A node's data could not be written (nested deeper than the store encodes, say): the run ends "error"
    naming the node, without the data that could not be kept."""
    import orjson

    node = failure.node or result.last_node
    result.status = "error"
    result.error = {"node": node, "message": f"the output of node '{node}' could not be saved: {failure}"}
    result.snapshot = None
    for runs in result.runs.values():  # what cannot be stored cannot be shown either (flowbox run --json)
        for run in runs:
            try:
                orjson.dumps(run.outputs_json())
            except (TypeError, ValueError) as exc:
                run.outputs = [[] for _ in run.outputs]
                run.error = run.error or f"its output could not be saved: {type(exc).__name__}: {exc}"
    await store.finish_execution(record.id, "error", error=result.error, last_node=node, runs=[])
    return result
