"""Run a workflow: execution order, merges, pinned data, retries and error routing (DESIGN §2-3).

Order: a node runs when data reaches one of its inputs; branches run depth-first,
output 0's subtree before output 1's, and the targets of one output in the order
the connection lists them (a LIFO stack of pending runs gives exactly this).
A node with several inputs (Merge) waits until every connected input has
delivered; when nothing else can run, a waiting node runs with its missing
inputs as empty lists. An output without items does not run its targets.

The runner knows nothing of storage or HTTP: what it needs from outside comes
through `EngineServices`, and each finished node run is reported to `on_node_run`.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import inspect
import sys
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from flowbox.engine.context import NodeContext
from flowbox.engine.snapshot import freeze, thaw
from flowbox.engine.state import RunData, Suspend, Task
from flowbox.errors import FlowboxError, NodeError, WorkflowInvalid, describe
from flowbox.node import Item, NodeSpec, make_items
from flowbox.workflow import Workflow, load_workflow, output_count, validate

MAX_NODE_RUNS = 100_000
MAX_SUBWORKFLOW_DEPTH = 20
PIN_MODES = frozenset({"manual", "cli", "test", "retry"})


def pins_apply(mode: str) -> bool:
    """Whether pinned data stands in for its nodes in a run of this mode: only in manual runs, as in n8n.

    "manual" (the editor, `POST /workflows/{id}/run`), "cli" (`flowbox run`) and "test" (a
    `/webhook-test` call the editor listens for) use pins; production runs never do: "webhook",
    "trigger" (schedules, listening and polling triggers), "error" (error workflows) and
    "integrated" (sub-workflows). A "retry" runs the workflow its execution recorded, which keeps
    its pins only when the execution retried was itself a manual one (`flowbox.runs.Runs.retry`).
    """
    return mode in PIN_MODES


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclass
class ExecutionResult:
    """What a run produced; `to_json()` is the `flowbox run --json` object (DESIGN §6)."""

    status: str
    runs: dict[str, list[RunData]]
    execution_id: str | None = None
    error: dict[str, Any] | None = None
    last_node: str | None = None
    started_at: dt.datetime | None = None
    finished_at: dt.datetime | None = None
    wait_till: dt.datetime | None = None
    snapshot: bytes | None = None  # the state to go on from: a suspended Wait, or the failed node
    custom_data: dict[str, str] = field(default_factory=dict)  # what Execution Data saved on the execution

    def __repr__(self) -> str:  # short: asyncio may repr a finished task's result
        return f"ExecutionResult({self.status!r}, id={self.execution_id!r}, last_node={self.last_node!r})"

    def last_output(self) -> list[Item]:
        """Items of output 0 of the last node that ran (what executeWorkflow returns)."""
        if not self.last_node or not self.runs.get(self.last_node):
            return []
        outputs = self.runs[self.last_node][-1].outputs
        return outputs[0] if outputs else []

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "status": self.status, "executionId": self.execution_id, "lastNode": self.last_node,
            "nodes": {name: [{"outputs": r.outputs_json(), "error": r.error} for r in runs]
                      for name, runs in self.runs.items()},
        }
        if self.error:
            out["error"] = self.error
        if self.custom_data:
            out["customData"] = self.custom_data
        return out


class EngineServices:
    """What the engine may ask of the world. Subclass or pass callables to provide more.

    The defaults let a workflow run with no store: no variables, no credentials,
    sub-workflows only from files, the shared code-node pool, one httpx client.
    """

    def __init__(self, *, variables: dict[str, str] | None = None,
                 load_workflow: Callable[[str], Awaitable[Workflow]] | None = None,
                 credential: Callable[[str, str], Awaitable[dict[str, Any] | None]] | None = None,
                 record_subexecution: Callable[..., Awaitable[Any]] | None = None) -> None:
        self.variables = variables or {}
        self._load_workflow = load_workflow
        self._credential = credential
        self.record_subexecution = record_subexecution
        self._http: Any = None
        self.suspend_after: float | None = None  # set by a server: longer Waits park the execution
        self.files_dir: Path | None = None  # set by a server or the CLI: the folder file nodes may use

    def http_client(self) -> Any:
        """A shared httpx.AsyncClient, created on first use (httpx is not imported before)."""
        if self._http is None:
            import httpx

            self._http = httpx.AsyncClient(follow_redirects=True, timeout=httpx.Timeout(300.0))
        return self._http

    async def load_workflow(self, ref: str) -> Workflow:
        if self._load_workflow is not None:
            return await self._load_workflow(ref)
        from flowbox.n8n import load_workflow_file

        path = Path(ref)
        if not path.is_file():
            raise WorkflowInvalid(f"sub-workflow {ref!r} not found (no such file, and no store to look in)")
        return load_workflow_file(path)

    async def credential(self, type_: str, id: str) -> dict[str, Any] | None:
        if self._credential is None:
            raise NodeError(f"credential {type_} {id!r} is not available (no credential store)")
        return await self._credential(type_, id)

    async def run_code(self, ctx: NodeContext, code: str, mode: str, items: list[Item], timeout: float, *,
                       item_errors: bool = False, language: str = "python") -> list[Any]:
        from flowbox.engine.codebox import default_pool

        return await default_pool().run(code, mode, [i.json for i in items], timeout=timeout,
                                        context=code_context(ctx, code, language), item_errors=item_errors,
                                        network=ctx.runner.workflow.settings.get("codeNetwork"), language=language)

    async def close(self) -> None:
        if self._http is not None:
            await self._http.aclose()
            self._http = None


_NODE_REFS = {  # how code names another node: Python's _("X"); JavaScript's $("X"), $node["X"], $items("X")
    "python": r"""_\(\s*(?:"([^"]+)"|'([^']+)')\s*\)""",
    "javaScript": r"""\$(?:\(|items\(|node\[)\s*(?:"([^"]+)"|'([^']+)'|`([^`$]+)`)|\$node\.([A-Za-z_$][\w$]*)""",
}


def code_context(ctx: NodeContext, code: str, language: str = "python") -> dict[str, Any]:
    """What the code node's worker needs: referenced nodes' items, variables, now, ids (and, for JavaScript, the
    workflow's node names, the run index and the time zone's UTC offsets)."""
    import re

    names = set(re.findall(_NODE_REFS[language], code))
    nodes: dict[str, Any] = {}
    for pair in names:
        name = next(part for part in pair if part)
        if name not in ctx.runner.workflow.nodes or not ctx.runner.runs.get(name):
            continue
        rows = ctx.node_items(name)
        index = {id(item): k for k, item in enumerate(rows)}
        paired = []
        for item in ctx.items:  # lineage of each input item back to that node's items
            found = ctx.runner.paired_item(name, item)
            paired.append(index.get(id(found)) if found is not None else None)
        nodes[name] = {"rows": [i.json for i in rows], "paired": paired}
    now = dt.datetime.now(dt.UTC).astimezone(_zone(ctx.timezone))
    extra: dict[str, Any] = {}
    if language == "javaScript":
        from flowbox.engine.javascript import zone_table

        extra = {"nodeNames": list(ctx.runner.workflow.nodes), "runIndex": ctx.run_index,
                 "executed": [name for name in ctx.runner.workflow.nodes if ctx.runner.runs.get(name)],
                 "zone": zone_table(ctx.timezone) if ctx.timezone != "UTC" else None}
    return {**extra, "nodes": nodes, "vars": dict(ctx.variables), "now": now.isoformat(),
            "timezone": ctx.timezone,
            "execution": {"id": ctx.runner.execution_id, "mode": ctx.runner.mode},
            "workflow": {"id": ctx.runner.workflow.id, "name": ctx.runner.workflow.name}}


def _zone(name: str) -> dt.tzinfo:
    from zoneinfo import ZoneInfo

    return ZoneInfo(name)


@dataclass
class Runner:
    """Runs one workflow once. Build it, then `await runner.run(input_items)`."""

    workflow: Workflow
    services: EngineServices = field(default_factory=EngineServices)
    execution_id: str | None = None
    mode: str = "manual"
    on_node_run: Callable[[RunData], Awaitable[None]] | None = None
    on_node_start: Callable[[str], Awaitable[None]] | None = None
    on_respond: Callable[[dict[str, Any]], None] | None = None
    depth: int = 0
    logs: list[str] = field(default_factory=list)
    specs: dict[str, NodeSpec] = field(default_factory=dict)
    destination: str | None = None
    """Run only what leads to this node, and the node itself ("run up to this node")."""
    replay: dict[str, list[list[Item]]] = field(default_factory=dict)
    """Outputs to reuse instead of running a node (an earlier run's data, for partial runs)."""

    def __post_init__(self) -> None:
        """Validates the workflow unless `specs` (from an earlier `validate`) are given."""
        if not self.specs:
            self.specs = validate(self.workflow)
        self.runs: dict[str, list[RunData]] = {}
        self.pin_data = self.workflow.pin_data if pins_apply(self.mode) else {}
        self.node_state: dict[str, dict[str, Any]] = {}
        self.variables = self.services.variables
        self._id_sets: dict[str, tuple[int, set[int]]] = {}
        self._total_runs = 0
        self.last_node: str | None = None
        self.custom_data: dict[str, str] = {}  # saved on the execution by the Execution Data node
        self.running_node: str | None = None  # the node whose run is in progress, if one is
        self.response: dict[str, Any] | None = None
        self._allowed: set[str] | None = None
        if self.destination is not None:
            if self.destination not in self.workflow.nodes:
                raise WorkflowInvalid(f"there is no node named '{self.destination}' to run up to",
                                      node=self.destination)
            self._allowed = self.workflow.ancestors(self.destination) | {self.destination}

    # ------------------------------------------------------------ public
    def start_nodes(self) -> list[str]:
        """The trigger to start from (a manualTrigger first), else every node without inputs."""
        triggers = [n for n, s in self.specs.items() if s.trigger and not self.workflow.nodes[n].disabled]
        manual = [n for n in triggers if self.specs[n].manual]
        if manual:
            return manual[:1]
        if triggers:
            return triggers[:1]
        return [n for n in self.workflow.nodes if not self.workflow.incoming(n)
                and (self._inputs(n) or self.specs[n].output_count({}))]  # notes never run

    async def run(self, input_items: list[Item] | None = None, *, start: str | None = None) -> ExecutionResult:
        """Run from the trigger (or `start`) with the given input items; never raises for node failures."""
        starts = [start] if start else self.start_nodes()
        if self._allowed is not None:
            starts = [n for n in starts if n in self._allowed] or [
                n for n in self.workflow.nodes if n in self._allowed and not self.workflow.incoming(n)]
        if not starts:
            raise WorkflowInvalid("the workflow has no node to start from")
        items = input_items or []
        stack: list[Task] = [Task(name, [list(items)], None) for name in reversed(starts)]
        return await self._loop(stack, {})

    async def resume(self, snapshot: bytes, *, webhook_item: Item | None = None) -> ExecutionResult:
        """Go on from a snapshot: a suspended Wait passes its items on (or the webhook call's item);
        a failed node (a retry) runs again with the input it had."""

        stack, waiting, pending, state = thaw(self, snapshot)
        if state["reason"] == "wait":
            wait_items = pending.inputs[0] if pending.inputs else []
            if webhook_item is not None:
                webhook_item.source = wait_items[0] if wait_items else None
                pending.output = [[webhook_item]]
            else:
                pending.output = [list(wait_items)]
        stack.append(pending)
        return await self._loop(stack, waiting)

    async def _loop(self, stack: list[Task], waiting: dict[str, dict[int, list[Item]]]) -> ExecutionResult:
        started = utcnow()
        error: dict[str, Any] | None = None
        failed: Task | None = None
        while True:
            if not stack and waiting:
                name = self._next_waiting(waiting)
                delivered = waiting.pop(name)
                n_in = self._inputs(name)
                feeders = self._unrun_feeders(name, delivered) if self._legacy_order else []
                if feeders:  # n8n's v0: first run what feeds the empty inputs, then come back to this node
                    waiting[name] = delivered
                    stack.extend(Task(f, [[Item({})]], None) for f in reversed(feeders))
                    continue
                stack.append(Task(name, [delivered.get(i, []) for i in range(n_in)], None))
            if not stack:
                # a loop whose body returned no items for a batch gets an empty return, so it
                # goes on with its next batch instead of stopping silently
                resume = self._stalled_loop()
                if resume is None:
                    break
                stack.append(Task(resume, [[]], None))
            task = stack.pop()
            self._total_runs += 1
            if self._total_runs > MAX_NODE_RUNS:
                error = {"node": task.node,
                         "message": f"more than {MAX_NODE_RUNS:,} node runs: stopped (an endless loop?)"}
                break
            try:
                run = await self._run_node(task)
            except Suspend as suspend:

                self._total_runs -= 1
                return ExecutionResult(status="waiting", runs=self.runs, execution_id=self.execution_id,
                                       last_node=self.last_node, started_at=started, wait_till=suspend.until,
                                       snapshot=freeze(self, stack, waiting, task, "wait", resume=suspend.resume))
            await asyncio.sleep(0)  # let work scheduled by hooks (store writes) start between node runs
            if run.error is not None and self.workflow.nodes[task.node].on_error == "stop":
                error = {"node": task.node, "message": run.error}
                failed = task
                break
            self._deliver(run, stack, waiting)
        result = ExecutionResult(status="error" if error else "success", runs=self.runs,
                                 execution_id=self.execution_id, error=error, last_node=self.last_node,
                                 started_at=started, finished_at=utcnow(), custom_data=self.custom_data)
        if failed is not None:

            failed_run = self.runs[failed.node].pop()  # the retry runs it again
            result.snapshot = freeze(self, stack, waiting, failed, "failed")
            self.runs[failed.node].append(failed_run)
        return result

    def paired_item(self, name: str, item: Item | None) -> Item | None:
        """Walk `item`'s lineage back to an item produced by node `name`."""
        if item is None:
            return None
        ids = self._item_ids(name)
        current: Item | None = item
        while current is not None:
            if id(current) in ids:
                return current
            for other in current.also:  # an item made of several: the other lines too
                found = self.paired_item(name, other)
                if found is not None:
                    return found
            current = current.source
        return None

    async def run_subworkflow(self, ref: str | Mapping[str, Any], items: list[Item]) -> list[Item]:
        """Run another workflow (executeWorkflow: a reference, or the workflow's JSON) with `items`; returns its
        last node's items."""
        if self.depth >= MAX_SUBWORKFLOW_DEPTH:
            raise NodeError(f"sub-workflows nested deeper than {MAX_SUBWORKFLOW_DEPTH} levels")
        if isinstance(ref, Mapping):
            from flowbox.n8n import accept

            workflow = load_workflow(accept(ref)[0])
        else:
            workflow = await self.services.load_workflow(ref)
        sub = Runner(workflow, services=self.services, mode="integrated", depth=self.depth + 1)
        plain = [Item(i.json, i.binary) for i in items]
        if self.services.record_subexecution is not None:
            result = await self.services.record_subexecution(sub, plain)
        else:
            result = await sub.run(plain)
        if result.status != "success":
            err = result.error or {}
            raise NodeError(f"sub-workflow '{workflow.name}' failed in node '{err.get('node')}': "
                            f"{err.get('message')}")
        return result.last_output()

    def log(self, message: str) -> None:
        self.logs.append(message)
        print(message, file=sys.stderr)

    # ------------------------------------------------------------ internals
    def _item_ids(self, name: str) -> set[int]:
        runs = self.runs.get(name, [])
        cached = self._id_sets.get(name)
        if cached and cached[0] == len(runs):
            return cached[1]
        ids = {id(item) for run in runs for output in run.outputs for item in output}
        self._id_sets[name] = (len(runs), ids)
        return ids

    @property
    def _legacy_order(self) -> bool:
        return self.workflow.settings.get("executionOrder") == "v0"

    def _inputs(self, name: str) -> int:
        """How many inputs node `name` has (a function of its parameters for Merge's numberInputs)."""
        return self.specs[name].input_count(self.workflow.nodes[name].parameters)

    def _unrun_feeders(self, name: str, delivered: dict[int, list[Item]]) -> list[str]:
        """The never-run nodes without inputs (triggers aside) that feed an input of `name` nothing reached."""
        found: list[str] = []
        for c in self.workflow.incoming(name):
            if c.input in delivered or c.source in self.runs:
                continue
            for n in [c.source, *sorted(self.workflow.ancestors(c.source))]:
                if (n not in self.runs and n not in found and not self.workflow.incoming(n)
                        and not self.specs[n].trigger and not self.workflow.nodes[n].disabled
                        and (self._allowed is None or n in self._allowed)):
                    found.append(n)
        return found

    def _stalled_loop(self) -> str | None:
        for name, state in self.node_state.items():
            if state.get("active") and self.specs[name].cycle_ok:
                return name
        return None

    def _next_waiting(self, waiting: dict[str, dict[int, list[Item]]]) -> str:
        """The first waiting node that no other waiting node can still feed."""
        for name in waiting:
            if not any(other != name and self._reaches(other, name) for other in waiting):
                return name
        return next(iter(waiting))

    def _reaches(self, src: str, dst: str) -> bool:
        seen, todo = {src}, [src]
        while todo:
            for target in self.workflow.successors(todo.pop()):
                if target == dst:
                    return True
                if target not in seen:
                    seen.add(target)
                    todo.append(target)
        return False

    def _deliver(self, run: RunData, stack: list[Task], waiting: dict[str, dict[int, list[Item]]]) -> None:
        pushes: list[Task] = []
        for output, items in enumerate(run.outputs):
            if not items:
                continue
            for c in self.workflow.targets(run.node, output):
                if self._allowed is not None and c.target not in self._allowed:
                    continue
                n_in = self._inputs(c.target)
                if n_in == 1:
                    pushes.append(Task(c.target, [items], (run.node, output)))
                    continue
                slot = waiting.setdefault(c.target, {})
                slot[c.input] = slot.get(c.input, []) + items
                if self.workflow.connected_inputs(c.target) <= set(slot):
                    del waiting[c.target]
                    pushes.append(Task(c.target, [slot.get(i, []) for i in range(n_in)], (run.node, output)))
        stack.extend(reversed(pushes))

    async def _run_node(self, task: Task) -> RunData:
        name = task.node
        node = self.workflow.nodes[name]
        spec = self.specs[name]
        runs = self.runs.setdefault(name, [])
        run = RunData(name, len(runs), task.inputs, [], started_at=utcnow(),
                      source=task.source[0] if task.source else None)
        self.running_node = name
        if self.on_node_start is not None:
            await self.on_node_start(name)
        n_out = output_count(spec, node)
        inputs = task.inputs
        first = inputs[0] if inputs else []
        if task.output is not None:  # a resumed Wait: its result was decided when it was parked
            run.outputs = task.output
        elif name in self.replay and name != self.destination:  # a partial run reuses earlier output
            run.outputs = [[Item(i.json, i.binary, first[k] if k < len(first) else (first[0] if first else None))
                            for k, i in enumerate(output)] for output in self.replay[name]]
        elif name in self.pin_data:
            pinned = make_items(self.pin_data[name])
            for i, item in enumerate(pinned):
                if item.source is None and first:
                    item.source = first[i] if len(first) == len(pinned) else first[0]
            run.outputs = [pinned]
        elif node.disabled:
            run.outputs = [[item for items in inputs for item in items]]
        else:
            run.outputs, run.error = await self._execute(node, spec, task, run.run_index, n_out)
        if node.always_output_data and run.error is None and not any(run.outputs):
            run.outputs = [[Item({}, None, first[0] if first else None)]]
        run.outputs += [[] for _ in range(n_out - len(run.outputs))]
        run.finished_at = utcnow()
        runs.append(run)
        self.last_node = name
        if self.on_node_run is not None:
            await self.on_node_run(run)
        return run

    async def _execute(self, node: Any, spec: NodeSpec, task: Task, run_index: int,
                       n_out: int) -> tuple[list[list[Item]], str | None]:
        first = task.inputs[0] if task.inputs else []
        tries = node.max_tries if node.retry_on_fail else 1
        failure: FlowboxError | None = None
        for attempt in range(tries):
            ctx = NodeContext(self, node, spec, first, run_index=run_index, source=task.source)
            try:
                arg: Any = first if self._inputs(node.name) == 1 else task.inputs
                result = spec.fn(ctx, arg)
                if inspect.isawaitable(result):
                    result = await result
                return self._normalize(result, first, node.name, n_out), None
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # a node failing must fail its execution, never the runner
                failure = as_node_error(exc, node.name)
                if attempt + 1 < tries:
                    await asyncio.sleep(node.wait_between_tries / 1000)
        assert failure is not None
        message = failure.message
        if node.on_error == "continue":
            return [[Item({"error": message}, None, first[0] if first else None)]], message
        if node.on_error == "passThrough":  # n8n's continue: the input goes on as it came
            return [[item.derive(item.json) for item in first]], message
        if node.on_error == "errorOutput":
            failed = [item.derive({**item.json, "error": message}) for item in first] or [Item({"error": message})]
            return [*[[] for _ in range(n_out - 1)], failed], message
        return [], message

    def _normalize(self, result: Any, inputs: list[Item], name: str, n_out: int) -> list[list[Item]]:
        if result is None:
            return []
        if not isinstance(result, list) or (result and not all(isinstance(o, list) for o in result)):
            raise NodeError(f"node returned {type(result).__name__}, expected a list of item lists", node=name)
        if len(result) > n_out:
            raise NodeError(f"node returned {len(result)} outputs but has {n_out}", node=name)
        outputs = []
        for output in result:
            items = output if all(type(i) is Item for i in output) else make_items(output)
            if items and items[0].source is None and inputs:
                if len(items) == len(inputs):
                    for item, src in zip(items, inputs, strict=True):
                        if item.source is None and item is not src:
                            item.source = src
                elif len(inputs) == 1:
                    for item in items:
                        if item.source is None and item is not inputs[0]:
                            item.source = inputs[0]
            outputs.append(items)
        return outputs


def as_node_error(exc: BaseException, node: str) -> NodeError:
    """Wrap any exception from a node as a NodeError naming the node (n8n's NodeOperationError)."""
    if isinstance(exc, NodeError):
        if exc.node is None:
            exc.node = node
            exc.details["node"] = node
        return exc
    return NodeError(describe(exc), node=node)
