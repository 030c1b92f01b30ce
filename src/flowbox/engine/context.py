"""The context a node function gets: its parameters evaluated per item, and the `$` names.

`NodeContext` implements `flowbox.node.Context`. Parameters are compiled once per
node run and evaluated for item i against a namespace that is built once and
updated per item (`$json`, `$binary`, `$itemIndex`, `$input.item`).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from flowbox.engine.expressions import (
    SandboxViolation,
    Value,
    allow_attributes,
    base_namespace,
    compile_value,
    to_text,
)
from flowbox.engine.state import Suspend
from flowbox.errors import NodeError
from flowbox.node import Item, NodeSpec

if TYPE_CHECKING:
    from flowbox.engine.runner import Runner
    from flowbox.workflow import Node


class InputProxy:
    """`$input`: the items the node is working on."""

    def __init__(self, ctx: NodeContext) -> None:
        self._ctx = ctx

    @property
    def item(self) -> Item | None:
        items = self._ctx.items
        i = self._ctx.item_index
        return items[i] if i < len(items) else None

    def all(self) -> list[Item]:
        return list(self._ctx.items)

    def first(self) -> Item | None:
        return self._ctx.items[0] if self._ctx.items else None

    def last(self) -> Item | None:
        return self._ctx.items[-1] if self._ctx.items else None


class NodeProxy:
    """`$("Node name")` / `$node["Node name"]`: another node's data in this execution."""

    def __init__(self, ctx: NodeContext, name: str) -> None:
        self._ctx = ctx
        self._name = name

    def _runs(self) -> list[Any]:
        runs = self._ctx.runner.runs.get(self._name)
        if not runs:
            raise SandboxViolation(f"node '{self._name}' has not run yet in this execution")
        return runs

    def all(self, branch: int = 0, run: int = -1) -> list[Item]:
        outputs = self._runs()[run].outputs
        return list(outputs[branch]) if branch < len(outputs) else []

    def first(self, branch: int = 0, run: int = -1) -> Item | None:
        items = self.all(branch, run)
        return items[0] if items else None

    def last(self, branch: int = 0, run: int = -1) -> Item | None:
        items = self.all(branch, run)
        return items[-1] if items else None

    @property
    def item(self) -> Item:
        """The item of that node from which the current item descends (paired item)."""
        self._runs()
        current = self._ctx.current_item
        found = self._ctx.runner.paired_item(self._name, current)
        if found is None:
            raise SandboxViolation(
                f"no item of node '{self._name}' is paired with item {self._ctx.item_index} "
                f"(use $(\"{self._name}\").first() or .all() instead)")
        return found

    @property
    def json(self) -> dict[str, Any]:
        first = self.first()
        return first.json if first else {}

    @property
    def binary(self) -> dict[str, Any]:
        first = self.first()
        return (first.binary or {}) if first else {}

    @property
    def isExecuted(self) -> bool:  # noqa: N802 - n8n's name
        return bool(self._ctx.runner.runs.get(self._name))

    @property
    def runIndex(self) -> int:  # noqa: N802 - n8n's name
        return len(self._ctx.runner.runs.get(self._name, [])) - 1

    @property
    def params(self) -> dict[str, Any]:
        node = self._ctx.runner.workflow.nodes[self._name]
        return dict(node.parameters)


class NodeLookup:
    """`$node`: `$node["Name"]` is `$("Name")`."""

    def __init__(self, ctx: NodeContext) -> None:
        self._ctx = ctx

    def __getitem__(self, name: str) -> NodeProxy:
        return self._ctx.node_proxy(name)


class EnvDisabled:
    """`$env` when FLOWBOX_ALLOW_ENV_IN_EXPRESSIONS is not 1."""

    def __getitem__(self, name: str) -> Any:
        raise SandboxViolation("$env is disabled; set FLOWBOX_ALLOW_ENV_IN_EXPRESSIONS=1 to allow it")


allow_attributes(Item, {"json", "binary"})
allow_attributes(InputProxy, {"item", "all", "first", "last"})
allow_attributes(NodeProxy, {"item", "all", "first", "last", "json", "binary", "isExecuted", "runIndex", "params"})
allow_attributes(NodeLookup, set())
allow_attributes(EnvDisabled, set())
allow_attributes(ZoneInfo, {"key"})


ENV_DISABLED = EnvDisabled()
CUSTOM_KEYS, CUSTOM_KEY, CUSTOM_VALUE = 10, 50, 255  # n8n's limits on an execution's custom data
ENV_ALLOWED = os.environ.get("FLOWBOX_ALLOW_ENV_IN_EXPRESSIONS") == "1"  # read once, at start


def _env_value() -> Any:
    return dict(os.environ) if ENV_ALLOWED else ENV_DISABLED


class NodeContext:
    """Everything a node sees while it runs once."""

    def __init__(self, runner: Runner, node: Node, spec: NodeSpec, items: list[Item], *, run_index: int,
                 source: tuple[str, int] | None) -> None:
        self.runner = runner
        self.node = node
        self.spec = spec
        self.items = items
        self.node_name = node.name
        self.node_type = node.type
        self.run_index = run_index
        self.source = source
        self.state = runner.node_state.setdefault(node.name, {})
        self.timezone = runner.workflow.timezone
        self.on_error = node.on_error
        self.continue_on_fail = node.on_error != "stop"
        self.item_index = 0
        self._compiled: dict[tuple[str, str], Value] = runner.workflow.compiled
        self.js = runner.workflow.javascript
        self._js_scope: Any = None
        self._params = {**spec.defaults(), **node.parameters} if node.parameters else spec.defaults()
        self._ns: dict[str, Any] | None = None
        self._ns_index = -1

    # ---- parameters
    def raw_param(self, name: str, default: Any = None) -> Any:
        value = self._params.get(name)
        return default if value is None else value

    def param(self, name: str, i: int = 0, default: Any = None) -> Any:
        """Parameter `name` evaluated for input item `i` (n8n's getNodeParameter(name, i)), as its declared
        kind (`Param.coerce`: text, a number in bounds, a boolean, one of the options, a list ...); a value
        that cannot be one fails the node naming the parameter and the item."""
        result = self.evaluate(self._compiled_param(name), i)
        declared = self.spec.param(name)
        if declared is not None:
            try:
                result = declared.coerce(result)
            except ValueError as exc:
                item = f" (item {i})" if len(self.items) > 1 else ""
                raise NodeError(f"parameter '{name}' {exc}{item}", node=self.node_name, item_index=i) from None
        return default if result is None else result

    def has_expressions(self, name: str) -> bool:
        """Whether parameter `name` holds any expression (so it may differ per item)."""
        return self._compiled_param(name).fn is not None

    def _compiled_param(self, name: str) -> Value:
        value = self._compiled.get((self.node_name, name))
        if value is None:
            value = self._compiled[(self.node_name, name)] = self.compile(self._params.get(name), name)
        return value

    def compile(self, value: Any, parameter: str) -> Value:
        """A parameter value compiled in the workflow's expression language (DESIGN §4, §10)."""
        if self.js:
            from flowbox.engine.javascript import compile_js_value

            return compile_js_value(value, node=self.node_name, parameter=parameter)
        return compile_value(value, node=self.node_name, parameter=parameter)

    def evaluate(self, value: Value, i: int = 0) -> Any:
        """A compiled value evaluated for input item `i`."""
        if value.fn is None:
            return value.const
        if not self.js:
            return value.fn(self.namespace(i))
        scope = self._js_scope
        if scope is None:
            from flowbox.engine.javascript import JsScope

            scope = self._js_scope = JsScope(self, dict(os.environ) if ENV_ALLOWED else None)
        self.item_index = scope.index = i
        return value.fn(scope)

    def raw_parameters(self) -> dict[str, Any]:
        """This node's parameters as written (defaults filled in): `$parameter`."""
        return dict(self._params)

    @property
    def current_item(self) -> Item | None:
        return self.items[self.item_index] if self.item_index < len(self.items) else None

    def namespace(self, i: int = 0) -> dict[str, Any]:
        """The expression namespace positioned on item `i`."""
        ns = self._ns
        if ns is None:
            ns = self._ns = self._build_namespace()
        if i != self._ns_index:
            self.item_index = i
            item = self.items[i] if i < len(self.items) else None
            ns["_S_json"] = item.json if item is not None else {}
            ns["_S_binary"] = (item.binary or {}) if item is not None else {}
            ns["_S_itemIndex"] = i
            self._ns_index = i
        return ns

    def _build_namespace(self) -> dict[str, Any]:
        runner = self.runner
        tz = ZoneInfo(self.timezone)
        now = dt.datetime.now(tz)
        ns = base_namespace()
        ns.update({
            "_S_": self.node_proxy, "_S_node": NodeLookup(self), "_S_input": InputProxy(self),
            "_S_runIndex": self.run_index, "_S_now": now,
            "_S_today": now.replace(hour=0, minute=0, second=0, microsecond=0),
            "_S_vars": runner.variables, "_S_env": _env_value(),  # expressions cannot change them
            "_S_execution": {"id": runner.execution_id, "mode": runner.mode},
            "_S_workflow": {"id": runner.workflow.id, "name": runner.workflow.name},
            "_S_prevNode": {"name": self.source[0] if self.source else None,
                            "outputIndex": self.source[1] if self.source else 0},
            "_S_parameter": dict(self._params),
        })
        return ns

    def node_proxy(self, name: str) -> NodeProxy:
        if name not in self.runner.workflow.nodes:
            raise SandboxViolation(f"there is no node named '{name}' in this workflow")
        return NodeProxy(self, name)

    def node_items(self, name: str, output: int = 0) -> list[Item]:
        """Items of `name`'s last run on `output` (empty when it has not run)."""
        runs = self.runner.runs.get(name)
        if not runs or output >= len(runs[-1].outputs):
            return []
        return runs[-1].outputs[output]

    @property
    def variables(self) -> Mapping[str, Any]:
        return self.runner.variables

    # ---- services
    def error(self, message: str, item_index: int | None = None, description: str | None = None) -> NodeError:
        """A NodeError naming this node (raise it)."""
        return NodeError(message, node=self.node_name, item_index=item_index, description=description)

    @property
    def http(self) -> Any:
        return self.runner.services.http_client()

    @property
    def files_dir(self) -> Path:
        """The one folder file nodes may read and write (FLOWBOX_FILES_DIR, default `<data dir>/files`)."""
        found = self.runner.services.files_dir
        if found is None:
            from flowbox.settings import Settings

            found = Settings.load().files_dir
        return Path(found)

    async def credential(self, type_: str) -> dict[str, Any] | None:
        ref = self.node.credentials.get(type_)
        if ref is None:
            return None
        ref_id = ref.get("id") if isinstance(ref, dict) else ref
        return await self.runner.services.credential(type_, str(ref_id))

    async def run_workflow(self, ref: str | Mapping[str, Any], items: list[Item]) -> list[Item]:
        return await self.runner.run_subworkflow(ref, items)

    async def run_code(self, code: str, mode: str, items: list[Item], timeout: float, *,
                       item_errors: bool = False, language: str = "python") -> list[Any]:
        return await self.runner.services.run_code(self, code, mode, items, timeout, item_errors=item_errors,
                                                   language=language)

    def set_custom_data(self, values: Mapping[str, Any]) -> None:
        """Save text key/values on the execution (n8n's limits: 10 keys, 50-character keys, 255-character values)."""
        merged = dict(self.runner.custom_data)
        for key, value in values.items():
            key, text = str(key), to_text(value)
            if not key or len(key) > CUSTOM_KEY:
                raise ValueError(f"custom data key {key!r} must have 1 to {CUSTOM_KEY} characters")
            if len(text) > CUSTOM_VALUE:
                raise ValueError(f"custom data {key!r}: the value has {len(text)} characters; at most {CUSTOM_VALUE}")
            merged[key] = text
        if len(merged) > CUSTOM_KEYS:
            raise ValueError(f"an execution keeps at most {CUSTOM_KEYS} custom data keys; this run would have "
                             f"{len(merged)} ({', '.join(merged)})")
        self.runner.custom_data = merged

    def respond(self, response: dict[str, Any]) -> None:
        """Set the answer to the webhook call that started this run (respondToWebhook)."""
        if self.runner.response is None:
            self.runner.response = response
            if self.runner.on_respond is not None:
                self.runner.on_respond(response)

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)

    async def wait_until(self, moment: dt.datetime) -> None:
        """Wait until `moment`: sleep, or under a server park the execution when the wait is long."""

        seconds = (moment - dt.datetime.now(dt.UTC)).total_seconds()
        limit = self.runner.services.suspend_after
        if limit is not None and seconds > limit:
            raise Suspend(moment, "time")
        if seconds > 0:
            await self.sleep(seconds)

    async def wait_for_webhook(self, limit: dt.datetime | None = None) -> None:
        """Park the execution until `/webhook-waiting/<execution id>` is called (needs a server), or until
        `limit` (without a server nothing can call: the wait simply lasts until the limit)."""

        if self.runner.services.suspend_after is None or not self.runner.execution_id:
            if limit is None:
                raise self.error("resume by webhook needs a running server (flowbox serve) that records the "
                                 "execution")
            await self.wait_until(limit)
            return
        raise Suspend(limit, "webhook")

    def log(self, message: str) -> None:
        self.runner.log(f"[{self.node_name}] {message}")
