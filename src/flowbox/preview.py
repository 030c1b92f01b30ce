"""Expression preview for the editor: a parameter value evaluated for the first input item.

The editor shows, under every `{{ }}` it is editing, what the engine would make of it.
This module runs the engine's own code for that: `compile_value` (the same parsing,
sandbox and error messages) and `NodeContext.namespace` (the same `$json`, `$input`,
`$("Node")`, `$now`, `$vars`, `$workflow` ...), against a `Runner` whose run data is
what the editor has from the last execution. Nothing runs except the expression.

    >>> preview_expression("{{ $json.price * 2 }}", node="Total", parameter="fields.total",
    ...                    item={"price": 21}).value
    42

It never raises: a syntax error, a sandbox refusal, a failing or slow expression comes
back as `Preview(ok=False, error=<the engine's message>)`.

It lives outside `engine/` because the UI may import it (the layering test keeps the UI
away from `flowbox.engine`), and it may import the engine.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from flowbox import registry
from flowbox.engine.context import NodeContext
from flowbox.engine.expressions import compile_value, to_text
from flowbox.engine.runner import EngineServices, Runner
from flowbox.engine.state import RunData
from flowbox.errors import describe
from flowbox.node import Item, NodeSpec, make_items
from flowbox.workflow import Node, Workflow, check_timezone, load_workflow

__all__ = ["Preview", "preview_expression"]


@dataclass(frozen=True)
class Preview:
    """What an expression gives: `value` (its type kept), `text` (how it is inserted into text).

    `ok` is False when it failed; `error` then holds the engine's message, which names the
    parameter and the expression (`parameter 'url': {{ $json.x + }}: syntax error: ...`).
    """

    ok: bool
    value: Any = None
    text: str = ""
    error: str | None = None


class _PreviewRunner(Runner):
    """A Runner that only holds run data for expressions to read.

    The editor's run data is plain JSON without lineage, so `$("Node").item` falls back to
    the item at the same position, as the runner itself does for pinned and replayed data.
    """

    def __post_init__(self) -> None:
        super().__post_init__()
        self.positions: dict[int, int] = {}  # id(input item) -> its index

    def paired_item(self, name: str, item: Item | None) -> Item | None:
        found = super().paired_item(name, item)
        if found is not None or item is None:
            return found
        runs = self.runs.get(name)
        outputs = runs[-1].outputs if runs else []
        items = outputs[0] if outputs else []
        index = self.positions.get(id(item), 0)
        if items:
            return items[index] if index < len(items) else items[0]
        return None


async def _never(ctx: Any, items: Any) -> list[list[Item]]:  # pragma: no cover - never called
    return [items]


def _spec_of(type_: str) -> NodeSpec:
    try:
        return registry.get(type_)
    except Exception:  # an unknown (or not yet installed) type: previews still work, without defaults
        return NodeSpec(type=type_, display_name=type_, group="", description="", params=(), fn=_never)


def _workflow(workflow: Mapping[str, Any] | None, node: str, names: list[str], timezone: str | None) -> Workflow:
    """The workflow the expression lives in; the editor's draft may be incomplete, so fall back gently."""
    loaded: Workflow | None = None
    if workflow:
        try:
            loaded = load_workflow(dict(workflow))
        except Exception:
            loaded = None
    if loaded is None:
        data = dict(workflow or {})
        loaded = Workflow(name=str(data.get("name") or "Untitled"), nodes={}, connections=[],
                          settings=dict(data.get("settings") or {}) if isinstance(data.get("settings"), dict)
                          else {}, id=data.get("id"), data=data)
        raw_nodes = data.get("nodes") if isinstance(data.get("nodes"), list) else []
        for raw in raw_nodes:
            if isinstance(raw, Mapping) and isinstance(raw.get("name"), str) and raw["name"] not in loaded.nodes:
                params = raw.get("parameters")
                loaded.nodes[raw["name"]] = Node(name=raw["name"], type=str(raw.get("type") or "noOp"),
                                                 parameters=dict(params) if isinstance(params, Mapping) else {})
    if not workflow:
        # without a workflow, the nodes with run data are the ones expressions may name
        for name in names:
            loaded.nodes.setdefault(name, Node(name=name, type="noOp"))
    loaded.nodes.setdefault(node, Node(name=node, type="noOp"))
    if timezone:
        loaded.settings["timezone"] = timezone
    return loaded


def _outputs(value: Any) -> list[list[Item]]:
    """Run data of one node: a list of items (output 0), or a list of such lists (one per output)."""
    if isinstance(value, list) and value and all(isinstance(v, list) for v in value):
        return [make_items(v) for v in value]
    return [make_items(value or [])]


def preview_expression(value: Any, *, node: str, parameter: str, item: dict[str, Any] | None = None,
                       workflow: dict[str, Any] | None = None, run_data: dict[str, list[Any]] | None = None,
                       variables: dict[str, Any] | None = None, timezone: str | None = None,
                       items: list[dict[str, Any]] | None = None) -> Preview:
    """Evaluate parameter `value` of node `node` for its first input item, as the engine would.

    value      the parameter as written: a template string, or a list/dict with templates inside
    node       the node's name (error messages name it; `$parameter` reads its parameters)
    parameter  the parameter's path, e.g. `url` or `conditions[0].left` (error messages name it)
    item       the first input item's json (None: the node has no input yet, `$json` is `{}`)
    items      all input items' json, for `$input.all()` / `.last()` (default: `[item]`)
    workflow   the workflow JSON (n8n-shaped) the node belongs to: `$workflow`, `$prevNode`,
               `$("Node")` name checks and the timezone come from it; an unfinished draft is fine
    run_data   other nodes' output items by node name, `{"Fetch": [{...}, ...]}` (or a list of
               lists, one per output), as the editor has them from the last execution
    variables  `$vars`
    timezone   `$now` / `$today` zone; default: the workflow's `settings.timezone`, else UTC
    """
    try:
        run_data = dict(run_data or {})
        wf = _workflow(workflow, node, list(run_data), timezone)
        compiled = None if wf.javascript else compile_value(value, node=node, parameter=parameter)
        if compiled is not None and compiled.fn is None:
            return Preview(True, value, to_text(value))
        check_timezone(wf.timezone, "timezone")
        specs = {name: _spec_of(n.type) for name, n in wf.nodes.items()}
        runner = _PreviewRunner(wf, services=EngineServices(variables=dict(variables or {})), specs=specs)
        for name, data in run_data.items():
            runner.runs[name] = [RunData(node=name, run_index=0, inputs=[], outputs=_outputs(data))]
        input_items = make_items(items if items is not None else ([item] if item is not None else []))
        runner.positions = {id(it): i for i, it in enumerate(input_items)}
        incoming = wf.incoming(node)
        source = (incoming[0].source, incoming[0].output) if incoming else None
        ctx = NodeContext(runner, wf.nodes[node], specs[node], input_items, run_index=0, source=source)
        result = ctx.evaluate(compiled or ctx.compile(value, parameter), 0)
        return Preview(True, result, to_text(result))
    except Exception as exc:  # the preview never fails the editor: errors are shown, with the engine's words
        return Preview(False, None, "", describe(exc))
