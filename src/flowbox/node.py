"""The node SDK: what a node module needs to declare and run a node.

A node is one module in `flowbox.nodes` (or a third-party package) holding one
`@node(...)`-decorated async function::

    @node(type="limit", display_name="Limit", group="transform",
          description="Keep only the first or last N items",
          params=[Param("max", "number", default=1, min=0, required=True),
                  Param("keep", "options", default="first", options=["first", "last"])])
    async def limit(ctx: Context, items: list[Item]) -> list[list[Item]]:
        n = ctx.param("max")
        return [items[:n] if ctx.param("keep") == "first" else items[-n:] if n else []]

The function returns one list of items per output. Nodes with several inputs
(`inputs=2`, or a function of the parameters: Merge's numberInputs) receive a list of input lists instead
of `items`.
The parameter list is the single source for validation, the `/api/v1/nodes`
catalog and the editor's parameter panel.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from flowbox import registry
from flowbox.errors import NodeError, describe
from flowbox.paths import get_path, remove_path, set_path  # noqa: F401 (part of the node SDK)

PARAM_KINDS = frozenset(
    {"string", "number", "boolean", "options", "json", "collection", "list", "credential", "code", "datetime"}
)


class Item:
    """One item flowing between nodes: `json` data, optional `binary` data, and its lineage.

    `source` is the input item this one was made from (the "paired item"), so
    `$("Earlier node").item` can walk back several nodes; `also` are further items it was made from (an
    item made of several inputs' items), whose lines are searched too.
    """

    __slots__ = ("json", "binary", "source", "also")

    def __init__(self, json: dict[str, Any] | None = None, binary: dict[str, Any] | None = None,
                 source: Item | None = None, also: tuple[Item, ...] = ()) -> None:
        self.json = json if json is not None else {}
        self.binary = binary
        self.source = source
        self.also = also

    def derive(self, json: dict[str, Any], binary: dict[str, Any] | None | bool = True) -> Item:
        """A new item made from this one (keeps lineage; keeps binary unless given)."""
        return Item(json, self.binary if binary is True else binary or None, self)

    def to_dict(self) -> dict[str, Any]:
        """The n8n-shaped `{"json": ..., "binary": ...}` form."""
        return {"json": self.json, "binary": self.binary} if self.binary else {"json": self.json}

    def __repr__(self) -> str:
        return f"Item({self.json!r})"


def make_items(values: Iterable[Any], source: Item | None = None) -> list[Item]:
    """Items from plain dicts or n8n-style `{"json": ..}` dicts (anything else is refused)."""
    values = values if isinstance(values, list) else list(values)
    if all(type(v) is dict and "json" not in v for v in values):
        return [Item(v, None, source) for v in values]
    out = []
    for value in values:
        if isinstance(value, Item):
            out.append(value)
        elif isinstance(value, dict) and "json" in value and isinstance(value["json"], dict) and (
            set(value) <= {"json", "binary", "pairedItem"}
        ):
            out.append(Item(value["json"], value.get("binary") or None, source))
        elif isinstance(value, dict):
            out.append(Item(value, None, source))
        else:
            raise TypeError(f"an item must be a JSON object, got {type(value).__name__}: {value!r:.80}")
    return out


@dataclass(frozen=True)
class Param:
    """One node parameter as the editor, the catalog and validation see it.

    kind: string|number|boolean|options|json|collection|list|credential|code|datetime.
    `options` lists the allowed values of an "options" parameter; `fields` describes
    the rows of a "list" parameter or the keys of a "collection"; `show_if` is
    n8n's displayOptions.show: {"other_param": [values that show this one]}.
    `check(value)` refuses a fixed (non-expression) value that cannot work by raising
    ValueError with the rest of the sentence: "node 'X': parameter 'p' <message>".
    `integer` makes a number parameter take whole numbers only; `secret` marks a credential field.
    """

    name: str
    kind: str
    default: Any = None
    label: str | None = None
    required: bool = False
    options: tuple[Any, ...] | list[Any] | None = None
    show_if: Mapping[str, Iterable[Any]] | None = None
    min: float | None = None
    max: float | None = None
    description: str = ""
    fields: tuple[Param, ...] | list[Param] = ()
    placeholder: str | None = None
    check: Callable[[Any], None] | None = None
    integer: bool = False
    secret: bool = False  # a credential field kept encrypted, masked on read and never logged

    def __post_init__(self) -> None:
        if self.kind not in PARAM_KINDS:
            raise ValueError(f"parameter {self.name!r}: unknown kind {self.kind!r}")
        if self.options is not None:
            object.__setattr__(self, "options", tuple(self.options))
        object.__setattr__(self, "fields", tuple(self.fields))

    def coerce(self, value: Any) -> Any:
        """`value` (a parameter as evaluated for one item) as this parameter's kind, the default for None;
        ValueError says what is wrong ("must be a number; got 'abc'").

        Text kinds take numbers and booleans as their text (lists and objects as compact JSON), an empty text
        their default; numbers take
        numeric text, and whole numbers where `integer`; booleans take "true"/"false"/"1"/"0"/"yes"/"no"
        and numbers; options must be one of them; a plain list takes a comma-separated text."""
        if value is None:
            value = self.default
            if value is None:
                return None
        kind = self.kind
        if kind in ("string", "datetime", "credential", "code"):
            if isinstance(value, str):
                # a field left empty takes the default (the editor writes "" when one is cleared)
                return value if value or not isinstance(self.default, str) else self.default
            if kind == "datetime" and (hasattr(value, "isoformat") or isinstance(value, (int, float))):
                return value  # a date, or epoch seconds / milliseconds: the node reads them
            if isinstance(value, bool):
                return "true" if value else "false"
            if isinstance(value, (int, float)):
                return str(value)
            if hasattr(value, "isoformat"):
                return value.isoformat()
            import json

            return json.dumps(value, default=str, ensure_ascii=False, separators=(",", ":"))  # as JSON.stringify
        if kind == "number":
            return _number(value, self)
        if kind == "boolean":
            return _boolean(value)
        if kind == "options":
            if self.options and value not in self.options:
                raise ValueError(f"must be one of {', '.join(repr(o) for o in self.options)}; got {value!r}")
            return value
        if kind == "list":
            if isinstance(value, str) and not self.fields:
                return [part.strip() for part in value.split(",") if part.strip()]
            if isinstance(value, dict) and self.fields:
                return [value]  # one row
            if not isinstance(value, (list, tuple)):
                plain = "" if self.fields else " (or a comma-separated text)"
                raise ValueError(f"must be a list{plain}; got {_shown(value)}")
            return list(value)
        if kind == "collection" and not isinstance(value, dict):
            raise ValueError(f"must be an object; got {_shown(value)}")
        return value

    def shown(self, params: Mapping[str, Any]) -> bool:
        """Whether this parameter applies given the node's other parameter values."""
        if not self.show_if:
            return True
        return all(params.get(key) in tuple(values) for key, values in self.show_if.items())

    @classmethod
    def from_dict(cls, schema: Mapping[str, Any]) -> Param:
        """The parameter a `to_dict()` schema describes (the editor's panel reads the catalog's schema and
        asks the parameter itself what is shown and what a value becomes)."""
        return cls(name=str(schema.get("name") or ""), kind=schema.get("kind") or "string",
                   default=schema.get("default"), label=schema.get("label"), required=bool(schema.get("required")),
                   options=schema.get("options"), show_if=schema.get("showIf"), min=schema.get("min"),
                   max=schema.get("max"), description=schema.get("description") or "",
                   fields=[cls.from_dict(f) for f in schema.get("fields") or ()],
                   placeholder=schema.get("placeholder"), integer=bool(schema.get("integer")),
                   secret=bool(schema.get("secret")))

    def to_dict(self) -> dict[str, Any]:
        """JSON schema of this parameter for the catalog and the editor."""
        out: dict[str, Any] = {"name": self.name, "kind": self.kind, "label": self.label or label_of(self.name),
                               "default": self.default, "required": self.required,
                               "description": self.description}
        if self.options is not None:
            out["options"] = list(self.options)
        if self.show_if:
            out["showIf"] = {k: list(v) for k, v in self.show_if.items()}
        if self.min is not None:
            out["min"] = self.min
        if self.max is not None:
            out["max"] = self.max
        if self.fields:
            out["fields"] = [f.to_dict() for f in self.fields]
        if self.placeholder:
            out["placeholder"] = self.placeholder
        if self.integer:
            out["integer"] = True
        if self.secret:
            out["secret"] = True
        return out


def _shown(value: Any) -> str:
    """A value as JSON (or repr), cut to 40 characters, for an error message."""
    import json

    try:
        text = json.dumps(value, default=str)
    except (TypeError, ValueError):
        text = repr(value)
    return text[:40]


_TRUE = frozenset({"true", "1", "yes", "on"})
_FALSE = frozenset({"false", "0", "no", "off", ""})


def _number(value: Any, p: Param) -> int | float:
    if isinstance(value, bool):
        raise ValueError(f"must be a number; got {value!r}")
    if isinstance(value, str):
        try:
            value = float(value.strip())
        except ValueError:
            raise ValueError(f"must be a number; got {value!r:.60}") from None
    if not isinstance(value, (int, float)):
        raise ValueError(f"must be a number; got {value!r:.60}")
    if value != value or value in (float("inf"), float("-inf")):
        raise ValueError(f"must be a finite number; got {value!r}")
    if p.min is not None and value < p.min:
        raise ValueError(f"must be at least {p.min:g}; got {value!r}")
    if p.max is not None and value > p.max:
        raise ValueError(f"must be at most {p.max:g}; got {value!r}")
    if isinstance(value, float) and value.is_integer() and (p.integer or abs(value) < 2 ** 53):
        return int(value)
    if p.integer and not isinstance(value, int):
        raise ValueError(f"must be a whole number; got {value!r}")
    return value


def _boolean(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        text = value.strip().lower()
        if text in _TRUE or text in _FALSE:
            return text in _TRUE
        raise ValueError(f"must be true or false; got {value!r:.60}")
    if isinstance(value, (int, float)):
        return value != 0
    raise ValueError(f"must be true or false; got {_shown(value)}")


def label_of(name: str) -> str:
    """`waitBetweenTries` -> `Wait Between Tries`."""
    words, word = [], ""
    for ch in name:
        if ch.isupper() and word:
            words.append(word)
            word = ch
        else:
            word += ch
    words.append(word)
    return " ".join(w[:1].upper() + w[1:] for w in words if w)


@dataclass(frozen=True)
class WebhookSpec:
    """What a webhook trigger answers: its route and how it replies (a trigger's `webhook(node)` returns it).

    `credential` is the id of the credential of type `auth` callers must send (None: no check)."""

    path: str
    method: str = "POST"
    respond: str = "immediately"  # immediately | lastNode | respondNode
    response_data: str = "firstEntryJson"  # firstEntryJson | allEntries
    response_code: int = 200
    auth: str = "none"
    credential: str | None = None


@dataclass(frozen=True)
class TimerSpec:
    """When a timer trigger fires (its `timer(node, timezone)` returns it): a cron, or every N seconds."""

    cron: str | None
    every: float | None
    timezone: str


N8nNotes = list[tuple[str, str]]
"""What a converter reports: (level, message) pairs, level "mapped" | "approximated" | "unsupported"."""
N8nConverter = Callable[[dict[str, Any], float], tuple[dict[str, Any], N8nNotes]]
N8nExporter = Callable[[dict[str, Any], "float | None"], tuple[dict[str, Any], float, N8nNotes]]
"""The inverse: this node's parameters (and the typeVersion it came from, None for a node made in flowbox)
-> n8n's parameters, the typeVersion they are written for, and notes (`flowbox.n8n.export` calls it)."""
N8nRoute = Callable[[dict[str, Any], float], "tuple[str, float, dict[str, Any]] | None"]
"""A layout one n8n type's converter hands to another's (`N8n.route`)."""


@dataclass(frozen=True)
class N8n:
    """How an n8n node becomes this node (`flowbox.n8n` finds it through the registry).

    `types` are the n8n node types it takes (`n8n-nodes-base.set`); `versions` the typeVersions
    the converter knows (another one is refused, naming the node); `convert(parameters, version)`
    returns this node's parameters and its notes. A note of level "unsupported" keeps the node as
    a placeholder that refuses to run; a fixed value that cannot be read raises `WorkflowInvalid`
    with `field` naming the n8n parameter. `credentials` renames the node's credential references
    (n8n's `mySql` is flowbox's `mysql`). `export`, when given, writes this node's parameters back as
    n8n's `types[0]` (a node edited in flowbox; an unedited one gets its original n8n parameters).
    `route(parameters, version)`, when given, may hand a layout this node cannot take to another n8n
    type's converter: it returns (n8n type, typeVersion, parameters), or None to convert here.
    """

    types: tuple[str, ...]
    versions: tuple[float, ...]
    convert: N8nConverter
    export: N8nExporter | None = None
    credentials: Mapping[str, str] = field(default_factory=dict)  # n8n's credential type -> flowbox's, where they differ
    route: N8nRoute | None = None


NodeFunction = Callable[..., Awaitable[list[list[Item]]]]
ListenFunction = Callable[["TriggerContext"], Awaitable[None]]


@dataclass(frozen=True)
class NodeSpec:
    """A node type: its description and its function.

    `outputs` is a count, or a function of the node's parameters for nodes whose
    outputs depend on them (Switch). `trigger` nodes start executions and take the
    run's input items as their own input. How a trigger goes live is declared here, and core
    code only calls it (never compares a node's type):

    manual      started by hand only (the Run button, `flowbox run`, the API's run); cannot make a
                workflow active on its own, and is where a manual run starts
    webhook     `webhook(node) -> WebhookSpec`: the route of an HTTP call that starts the workflow
    timer       `timer(node, timezone) -> TimerSpec`: when the scheduler fires it
    listen      `async def listen(ctx: TriggerContext)`: runs while the workflow is active
                (`flowbox.listeners`), calling `ctx.emit(items)`
    on_failure  starts when a workflow naming this one as `settings.errorWorkflow` fails

    `runs_code` marks a node that runs user code (an access rule of its own), `runs_commands` one that runs
    commands on the host outside any sandbox (owners and admins only); `sub_workflow`
    names the parameter holding a sub-workflow's id, `inline_workflow` the one that may hold a whole
    sub-workflow's JSON (its nodes are checked by nobody, so members may not run one); `n8n` says which n8n nodes convert to this one
    (one `N8n` per parameter layout: Schedule takes n8n's scheduleTrigger, cron and interval);
    `refuse_run(params)` says why a node with these parameters must not run (None: it may), which
    saving allows and every run refuses (`flowbox.workflow.validate_for_run`).
    """

    type: str
    display_name: str
    group: str
    description: str
    params: tuple[Param, ...]
    fn: NodeFunction
    inputs: int | Callable[[Mapping[str, Any]], int] = 1
    outputs: int | Callable[[Mapping[str, Any]], int] = 1
    output_names: tuple[str, ...] | Callable[[Mapping[str, Any]], tuple[str, ...]] = ()
    version: int = 1
    trigger: bool = False
    icon: str = ""
    credentials: tuple[str, ...] = ()
    cycle_ok: bool = False
    module: str = ""
    listen: ListenFunction | None = None
    manual: bool = False
    webhook: Callable[[Any], WebhookSpec] | None = None
    timer: Callable[[Any, str], TimerSpec] | None = None
    on_failure: bool = False
    runs_code: bool = False
    runs_commands: bool = False
    sub_workflow: str | None = None
    inline_workflow: str | None = None
    n8n: tuple[N8n, ...] = ()
    refuse_run: Callable[[Mapping[str, Any]], str | None] | None = None

    def input_count(self, params: Mapping[str, Any]) -> int:
        """How many inputs a node with these parameters has (Merge's numberInputs)."""
        return self.inputs(params) if callable(self.inputs) else self.inputs

    def output_count(self, params: Mapping[str, Any]) -> int:
        """How many outputs a node with these parameters has (before `onError: errorOutput`)."""
        return self.outputs(params) if callable(self.outputs) else self.outputs

    def output_labels(self, params: Mapping[str, Any]) -> list[str]:
        """Names for the outputs (handles on the canvas)."""
        names = self.output_names(params) if callable(self.output_names) else self.output_names
        n = self.output_count(params)
        return [names[i] if i < len(names) else ("" if n == 1 else f"output {i}") for i in range(n)]

    def param(self, name: str) -> Param | None:
        """The parameter `name` declares (None: undeclared)."""
        found = self.__dict__.get("_by_name")
        if found is None:
            found = {p.name: p for p in self.params}
            object.__setattr__(self, "_by_name", found)
        return found.get(name)

    def defaults(self) -> dict[str, Any]:
        """Each parameter's default (a fresh dict; the values themselves are shared)."""
        cached = self.__dict__.get("_defaults")
        if cached is None:
            cached = {p.name: p.default for p in self.params}
            object.__setattr__(self, "_defaults", cached)
        return dict(cached)

    def to_dict(self) -> dict[str, Any]:
        """The catalog entry (`flowbox nodes --json`, `/api/v1/nodes`)."""
        static_outputs = None if callable(self.outputs) else self.outputs
        return {
            "type": self.type, "displayName": self.display_name, "group": self.group,
            "description": self.description, "version": self.version, "inputs": self.input_count(self.defaults()),
            "outputs": static_outputs, "outputNames": self.output_labels(self.defaults()),
            "trigger": self.trigger, "icon": self.icon, "credentials": list(self.credentials),
            "params": [p.to_dict() for p in self.params],
        }


class Context(Protocol):
    """What a node function gets besides its items. Implemented by the engine.

    param(name, i)   the parameter evaluated for input item i (expressions resolved)
    raw_param(name)  the parameter as written in the workflow (no evaluation)
    state            a dict kept across runs of this node within one execution (Loop)
    """

    node_name: str
    node_type: str
    run_index: int
    state: dict[str, Any]
    timezone: str
    on_error: str          # "stop" | "continue" | "errorOutput": how failing items are handled
    continue_on_fail: bool

    def param(self, name: str, i: int = 0, default: Any = None) -> Any: ...

    def raw_param(self, name: str, default: Any = None) -> Any: ...

    def error(self, message: str, item_index: int | None = None, description: str | None = None) -> Exception: ...

    @property
    def http(self) -> Any: ...

    @property
    def files_dir(self) -> Path:
        """The one folder file nodes may read and write (FLOWBOX_FILES_DIR)."""

    async def credential(self, type_: str) -> dict[str, Any] | None:
        """The decrypted credential of this type the node names, or None when it names none."""

    async def run_workflow(self, ref: str | Mapping[str, Any], items: list[Item]) -> list[Item]:
        """Run a sub-workflow (its stored id or file path, or its JSON, flowbox's or n8n's) with `items`."""

    async def run_code(self, code: str, mode: str, items: list[Item], timeout: float, *,
                       item_errors: bool = False, language: str = "python") -> list[Any]:
        """Run Python (or `language="javaScript"`) in the isolated worker (`flowbox.engine.codebox`); with
        `item_errors` (eachItem), a failing item comes back as `{"error": NodeError, "pairedItem": i}` instead of
        failing the run."""

    async def sleep(self, seconds: float) -> None: ...

    async def wait_until(self, moment: Any) -> None:
        """Wait until an aware datetime; under a server a long wait parks the execution instead."""

    async def wait_for_webhook(self, limit: Any = None) -> None:
        """Park the execution until /webhook-waiting/<execution id> is called, or until the aware datetime
        `limit` (raises to stop the node; without a server it waits until `limit`, or refuses)."""

    def set_custom_data(self, values: Mapping[str, Any]) -> None:
        """Save text key/values on this execution (Execution Data): up to 10 keys of at most 50 characters, values
        of at most 255; ValueError naming what is too much."""

    def respond(self, response: dict[str, Any]) -> None:
        """Answer the webhook call that started this run: {"status", "headers", "body"}."""

    def log(self, message: str) -> None: ...


class TriggerContext(Protocol):
    """What a listening trigger's `listen(ctx)` gets while its workflow is active (`flowbox.listeners`).

    static         this node's persistent static data (a JSON-able dict, e.g. a polling cursor); loaded
                   from the store each time the listener (re)starts, saved by `emit()` and `save()`
    param(name)    a parameter with expressions evaluated without an item (`$vars`, `$now` work)
    emit(items)    record a queued execution that starts at this node with `items` (returns its id),
                   then save `static`: a cursor moved for these items is saved only once they are queued
    """

    workflow_id: str
    node_name: str
    node_type: str
    static: dict[str, Any]

    def param(self, name: str, default: Any = None) -> Any: ...

    def raw_param(self, name: str, default: Any = None) -> Any: ...

    def error(self, message: str, description: str | None = None) -> Exception: ...

    @property
    def http(self) -> Any: ...

    async def credential(self, type_: str) -> dict[str, Any] | None: ...

    async def emit(self, items: list[Item] | list[dict[str, Any]]) -> str: ...

    async def save(self) -> None:
        """Save `static` now when it changed since it was loaded or last saved."""

    async def sleep(self, seconds: float) -> None: ...

    def log(self, message: str) -> None: ...


def node(*, type: str, display_name: str, group: str, description: str, params: Iterable[Param] = (),
         inputs: int | Callable[[Mapping[str, Any]], int] = 1, outputs: int | Callable[[Mapping[str, Any]], int] = 1,
         output_names: tuple[str, ...] | Callable[[Mapping[str, Any]], tuple[str, ...]] = (),
         version: int = 1, trigger: bool = False, icon: str = "",
         credentials: Iterable[str] = (), cycle_ok: bool = False,
         listen: ListenFunction | None = None, manual: bool = False,
         webhook: Callable[[Any], WebhookSpec] | None = None, timer: Callable[[Any, str], TimerSpec] | None = None,
         on_failure: bool = False, runs_code: bool = False, runs_commands: bool = False,
         sub_workflow: str | None = None, inline_workflow: str | None = None, n8n: N8n | Iterable[N8n] = (),
         refuse_run: Callable[[Mapping[str, Any]], str | None] | None = None,
         ) -> Callable[[NodeFunction], NodeFunction]:
    """Declare a node type; registers it in `flowbox.registry` at import time.

    `cycle_ok` marks the node (Loop) through which a cycle may pass. `manual`, `webhook`, `timer`,
    `listen` and `on_failure` (triggers only) say how it goes live (see `NodeSpec`); `polling(check)`
    makes a `listen` that polls.
    """
    if not trigger and (listen or manual or webhook or timer or on_failure):
        raise ValueError(f"node type {type!r}: only a trigger node can listen, fire or be started by hand")

    def wrap(fn: NodeFunction) -> NodeFunction:
        spec = NodeSpec(type=type, display_name=display_name, group=group, description=description,
                        params=tuple(params), fn=fn, inputs=inputs, outputs=outputs,
                        output_names=output_names, version=version, trigger=trigger, icon=icon,
                        credentials=tuple(credentials), cycle_ok=cycle_ok, module=fn.__module__,
                        listen=listen, manual=manual, webhook=webhook, timer=timer, on_failure=on_failure,
                        runs_code=runs_code, runs_commands=runs_commands, sub_workflow=sub_workflow,
                        inline_workflow=inline_workflow,
                        n8n=(n8n,) if isinstance(n8n, N8n) else tuple(n8n), refuse_run=refuse_run)
        registry.register(spec)
        fn.spec = spec  # type: ignore[attr-defined]
        return fn

    return wrap


# ---------------------------------------------------------------- helpers for node authors

POLL_SECONDS = Param("every", "number", 60, min=0.1, required=True,
                     description="Seconds between two checks while the workflow is active")


def polling(check: Callable[[TriggerContext], Awaitable[list[Item]]]) -> ListenFunction:
    """A `listen` function that calls `check(ctx)` at once, then every `every` (add `POLL_SECONDS`
    to the node's params).

    `check` reads its cursor from `ctx.static`, moves it past what it returns and returns the new
    items. They start one execution; the moved cursor is saved only after that execution is durably
    queued (at once when there are no items), so a restart neither repeats nor skips items. When
    `check` or the queueing fails, the listener restarts from the last saved cursor.
    """

    async def listen(ctx: TriggerContext) -> None:
        while True:
            items = await check(ctx)
            if items:
                await ctx.emit(items)
            else:
                await ctx.save()
            await ctx.sleep(float(ctx.param("every", default=60)))

    listen.__qualname__ = listen.__name__ = f"polling({getattr(check, '__name__', 'check')})"
    return listen


class ItemErrors:
    """Per-item `onError` routing for nodes that handle items one by one (n8n's continueOnFail).

        errors = ItemErrors(ctx)
        for i, item in enumerate(items):
            try:
                out.append(item.derive(work(i)))
            except Exception as exc:
                errors.fail(item, i, exc, out)   # raises when onError is "stop"
        return errors.outputs(out)

    "continue" and "passThrough" put `{"error": message}` in place of the item; "errorOutput" sends the
    item with an "error" field to the extra last output; "stop" fails the node, naming the item.
    """

    def __init__(self, ctx: Context) -> None:
        self.mode = ctx.on_error
        self.ctx = ctx
        self.items: list[Item] = []

    def fail(self, item: Item, i: int, exc: Exception, out: list[Item]) -> None:
        message = describe(exc)
        if self.mode in ("continue", "passThrough"):
            out.append(item.derive({"error": message}, binary=None))
        elif self.mode == "errorOutput":
            self.items.append(item.derive({**item.json, "error": message}))
        elif isinstance(exc, NodeError):
            if exc.item_index is None:
                exc.item_index = exc.details["itemIndex"] = i
            raise exc
        else:
            raise self.ctx.error(message, i) from exc

    def outputs(self, *outputs: list[Item]) -> list[list[Item]]:
        """The node's outputs, plus the error output when onError is "errorOutput"."""
        return [*outputs, self.items] if self.mode == "errorOutput" else list(outputs)


def make_binary(data: bytes, file_name: str = "data", mime_type: str | None = None,
                directory: str | None = None) -> dict[str, Any]:
    """A binary property (DESIGN §3): base64 `data`, `mimeType` (guessed from the name unless given),
    `fileName`, `fileExtension`, `fileSize` (bytes) and, when given, `directory`."""
    import base64
    import mimetypes

    name = file_name or "data"
    if not mime_type:
        guessed, encoding = mimetypes.guess_type(name, strict=False)
        mime_type = "application/gzip" if encoding == "gzip" else guessed or "application/octet-stream"
    out: dict[str, Any] = {"data": base64.b64encode(data).decode("ascii"), "mimeType": mime_type,
                           "fileName": name, "fileSize": len(data)}
    if "." in name.strip("."):
        out["fileExtension"] = name.rsplit(".", 1)[1].lower()
    if directory:
        out["directory"] = directory
    return out


def is_js_expression(value: Any) -> bool:
    """Whether a value is an n8n (JavaScript-mode) expression: a text starting with `=`."""
    return isinstance(value, str) and value.startswith("=")


def binary_bytes(item: Item, prop: str = "data") -> bytes:
    """The bytes of `item`'s binary property `prop`; ValueError naming the property when it is missing."""
    import base64
    import binascii

    entry = (item.binary or {}).get(prop)
    if not isinstance(entry, dict) or not isinstance(entry.get("data"), str):
        have = ", ".join(repr(k) for k in item.binary or {}) or "none"
        raise ValueError(f"the item has no binary property {prop!r} (binary properties: {have})")
    try:
        return base64.b64decode(entry["data"], validate=True)
    except (binascii.Error, ValueError):
        raise ValueError(f"binary property {prop!r} is not valid base64") from None


