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
(`inputs=2`, Merge) receive a list of input lists instead of `items`.
The parameter list is the single source for validation, the `/api/v1/nodes`
catalog and the editor's parameter panel.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

PARAM_KINDS = frozenset(
    {"string", "number", "boolean", "options", "json", "collection", "list", "credential", "code", "datetime"}
)


class Item:
    """One item flowing between nodes: `json` data, optional `binary` data, and its lineage.

    `source` is the input item this one was made from (the "paired item"), so
    `$("Earlier node").item` can walk back several nodes.
    """

    __slots__ = ("json", "binary", "source")

    def __init__(self, json: dict[str, Any] | None = None, binary: dict[str, Any] | None = None,
                 source: Item | None = None) -> None:
        self.json = json if json is not None else {}
        self.binary = binary
        self.source = source

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

    def __post_init__(self) -> None:
        if self.kind not in PARAM_KINDS:
            raise ValueError(f"parameter {self.name!r}: unknown kind {self.kind!r}")
        if self.options is not None:
            object.__setattr__(self, "options", tuple(self.options))
        object.__setattr__(self, "fields", tuple(self.fields))

    def shown(self, params: Mapping[str, Any]) -> bool:
        """Whether this parameter applies given the node's other parameter values."""
        if not self.show_if:
            return True
        return all(params.get(key) in tuple(values) for key, values in self.show_if.items())

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
        return out


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


NodeFunction = Callable[..., Awaitable[list[list[Item]]]]
ListenFunction = Callable[["TriggerContext"], Awaitable[None]]


@dataclass(frozen=True)
class NodeSpec:
    """A node type: its description and its function.

    `outputs` is a count, or a function of the node's parameters for nodes whose
    outputs depend on them (Switch). `trigger` nodes start executions and take the
    run's input items as their own input; a trigger with `listen` also runs that function
    while its workflow is active (`flowbox.listeners`).
    """

    type: str
    display_name: str
    group: str
    description: str
    params: tuple[Param, ...]
    fn: NodeFunction
    inputs: int = 1
    outputs: int | Callable[[Mapping[str, Any]], int] = 1
    output_names: tuple[str, ...] | Callable[[Mapping[str, Any]], tuple[str, ...]] = ()
    version: int = 1
    trigger: bool = False
    icon: str = ""
    credentials: tuple[str, ...] = ()
    cycle_ok: bool = False
    module: str = ""
    listen: ListenFunction | None = None

    def output_count(self, params: Mapping[str, Any]) -> int:
        """How many outputs a node with these parameters has (before `onError: errorOutput`)."""
        return self.outputs(params) if callable(self.outputs) else self.outputs

    def output_labels(self, params: Mapping[str, Any]) -> list[str]:
        """Names for the outputs (handles on the canvas)."""
        names = self.output_names(params) if callable(self.output_names) else self.output_names
        n = self.output_count(params)
        return [names[i] if i < len(names) else ("" if n == 1 else f"output {i}") for i in range(n)]

    def param(self, name: str) -> Param | None:
        for p in self.params:
            if p.name == name:
                return p
        return None

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
            "description": self.description, "version": self.version, "inputs": self.inputs,
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

    async def run_workflow(self, ref: str, items: list[Item]) -> list[Item]: ...

    async def run_code(self, code: str, mode: str, items: list[Item], timeout: float) -> list[Any]: ...

    async def sleep(self, seconds: float) -> None: ...

    async def wait_until(self, moment: Any) -> None:
        """Wait until an aware datetime; under a server a long wait parks the execution instead."""

    def wait_for_webhook(self) -> None:
        """Park the execution until /webhook-waiting/<execution id> is called (raises to stop the node)."""

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
         inputs: int = 1, outputs: int | Callable[[Mapping[str, Any]], int] = 1,
         output_names: tuple[str, ...] | Callable[[Mapping[str, Any]], tuple[str, ...]] = (),
         version: int = 1, trigger: bool = False, icon: str = "",
         credentials: Iterable[str] = (), cycle_ok: bool = False,
         listen: ListenFunction | None = None) -> Callable[[NodeFunction], NodeFunction]:
    """Declare a node type; registers it in `flowbox.registry` at import time.

    `cycle_ok` marks the node (Loop) through which a cycle may pass. `listen` (triggers only):
    `async def listen(ctx: TriggerContext)` runs as a task while the workflow is active and
    calls `await ctx.emit(items)` to start an execution; `polling(check)` makes one that polls.
    """
    if listen is not None and not trigger:
        raise ValueError(f"node type {type!r}: only a trigger node can listen")

    def wrap(fn: NodeFunction) -> NodeFunction:
        from flowbox import registry

        spec = NodeSpec(type=type, display_name=display_name, group=group, description=description,
                        params=tuple(params), fn=fn, inputs=inputs, outputs=outputs,
                        output_names=output_names, version=version, trigger=trigger, icon=icon,
                        credentials=tuple(credentials), cycle_ok=cycle_ok, module=fn.__module__,
                        listen=listen)
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

    "continue" puts `{"error": message}` in place of the item; "errorOutput" sends the
    item with an "error" field to the extra last output; "stop" fails the node, naming the item.
    """

    def __init__(self, ctx: Context) -> None:
        self.mode = ctx.on_error
        self.ctx = ctx
        self.items: list[Item] = []

    def fail(self, item: Item, i: int, exc: Exception, out: list[Item]) -> None:
        from flowbox.errors import NodeError, describe

        message = describe(exc)
        if self.mode == "continue":
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


_NOTHING = object()


def get_path(data: Any, path: str, default: Any = None) -> Any:
    """`get_path({"a": {"b": 1}}, "a.b") == 1`; list indexes work (`items.0.name`); missing gives `default`."""
    if path in data if isinstance(data, dict) else False:
        return data[path]
    current = data
    for key in path.split("."):
        if isinstance(current, dict):
            current = current.get(key, _NOTHING)
        elif isinstance(current, list) and key.lstrip("-").isdigit() and -len(current) <= int(key) < len(current):
            current = current[int(key)]
        else:
            return default
        if current is _NOTHING:
            return default
    return current


def set_path(data: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    """A copy of `data` with dotted `path` set to `value` (nested dicts copied on the way, not mutated)."""
    keys = path.split(".")
    out = dict(data)
    current = out
    for key in keys[:-1]:
        nxt = current.get(key)
        nxt = dict(nxt) if isinstance(nxt, dict) else {}
        current[key] = nxt
        current = nxt
    current[keys[-1]] = value
    return out


def remove_path(data: dict[str, Any], path: str) -> dict[str, Any]:
    """A copy of `data` without dotted `path` (unchanged when the path is missing)."""
    if path in data:
        out = dict(data)
        del out[path]
        return out
    keys = path.split(".")
    parent = get_path(data, ".".join(keys[:-1])) if len(keys) > 1 else data
    if not isinstance(parent, dict) or keys[-1] not in parent:
        return data
    pruned = {k: v for k, v in parent.items() if k != keys[-1]}
    return set_path(data, ".".join(keys[:-1]), pruned)
