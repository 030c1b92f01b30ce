"""The operations the CLI, the API and the editor all call: run, save, import, export, list.

This is the only module that ties the engine to a store: it records every
execution (unless told not to) as it runs, node run by node run, so a crash
leaves a record of how far it got.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from flowbox.engine.runner import EngineServices, ExecutionResult, RunData, Runner
from flowbox.errors import NotFound, WorkflowInvalid
from flowbox.node import Item, make_items
from flowbox.store.base import ExecutionRecord, NodeRun, Store, WorkflowRecord
from flowbox.workflow import Workflow, load_workflow, validate


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
                    save: bool = True) -> EngineServices:
    """Engine services backed by `store`: variables, and sub-workflows by id or by file."""

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

    services = EngineServices(variables=variables, load_workflow=load)
    if store is not None and save:

        async def record_sub(runner: Runner, items: list[Item]) -> ExecutionResult:
            return await execute(store, runner.workflow, items, mode="integrated", runner=runner)

        services.record_subexecution = record_sub
    return services


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
                  base_dir: Path | None = None) -> ExecutionResult:
    """Run `workflow` with `items`, recording the execution in `store` when `save` is true.

    `record` is an execution already created (queued); otherwise one is created as
    "running". With `progress` (default: the workflow's `saveExecutionProgress`, else
    true) each node run is written as it finishes; without, they are written together
    at the end. Either way the record exists while the run is going, so a crash leaves
    it saying so. The workflow's save-data settings may drop the record at the end.
    """
    save = save and store is not None
    if progress is None:
        progress = workflow.settings.get("saveExecutionProgress", True) is not False
    own_services = services is None
    if services is None:
        variables = await store.get_variables() if store is not None else {}
        services = engine_services(store, variables, base_dir, save)
    if runner is None:
        runner = Runner(workflow, services=services, mode=mode)
    if save:
        assert store is not None
        if record is None:
            record = await store.create_execution(workflow_id=workflow.id, mode=mode, status="running",
                                                  workflow_data=workflow.data,
                                                  input=[i.json for i in items] or None)
        else:
            await store.set_execution_status(record.id, "running")
        runner.execution_id = record.id
    else:
        record = None

    writes: list[asyncio.Future[None]] = []
    held: list[NodeRun] = []

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
        result = await runner.run(items)
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
    if record is not None:
        assert store is not None
        if keep_execution(workflow.settings, result.status, mode):
            writes += [asyncio.ensure_future(store.append_node_run(record.id, run)) for run in held]
            writes.append(asyncio.ensure_future(store.finish_execution(
                record.id, result.status, error=result.error, last_node=result.last_node)))
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
