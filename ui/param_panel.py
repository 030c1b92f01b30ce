"""The node's parameter panel: a form generated from the node's parameter schema (DESIGN §9).

    ParamPanel(spec, node, on_change, preview)

builds, in the current NiceGUI context, one field per parameter of `spec` (the catalog
entry, `NodeSpec.to_dict()`), filled from `node` (the workflow node as in the file), and
a "Settings" section for the node-level fields. Every edit calls `on_change` with the
whole updated node (a copy); the panel never renames the node (the editor does that).

Field per kind: string/datetime -> input; number -> number (min/max); boolean -> switch;
options -> select; json -> JSON editor (invalid JSON shows an error and is not passed
on); code -> Python editor; list with `fields` -> rows of sub-fields with add, remove,
move up/down; list without fields -> rows of text; collection -> a nested group;
credential -> select. `showIf` hides and shows fields live as the values they depend
on change.

string, number, boolean, options, datetime and json fields have an "fx" toggle that
turns them into an expression (`{{ ... }}`) input; a value holding `{{` opens in that
mode. Under an expression, `preview(parameter_path, value)` is shown for the first
input item, refreshed ~200 ms after the last keystroke: the value, or the error in red.
`parameter_path` names the field as the engine's error messages do: `url`,
`conditions[0].left`, `rules[1].conditions[0].right`, `options.timeout`.

A node type that signs with credentials (`spec["credentials"]`) gets a credential select
right under its `authentication` parameter (at the top when it has none), for the type
that parameter names; it follows the parameter as it changes, and offers "create new"
through `credentials` (a `CredentialSource`). `readonly=True` draws the same form with
every field disabled and no buttons (a past execution).
"""

from __future__ import annotations

import ast
import asyncio
import contextlib
import copy
import inspect
import json
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Protocol

from nicegui import background_tasks, run, ui

from flowbox.node import Param

if TYPE_CHECKING:
    from flowbox.preview import Preview

__all__ = ["CredentialSource", "ParamPanel", "PreviewFn", "credential_kind"]

PreviewFn = Callable[[str, Any], Any]
"""`preview(parameter_path, value)` -> `flowbox.preview.Preview` (or an awaitable of one).
A plain function runs in a worker thread so a slow expression never blocks the page."""



class CredentialSource(Protocol):
    """Where the panel's credential select gets its choices, and how it creates one on the spot."""

    async def options(self, kind: str) -> dict[str, str]:
        """{credential id: name} of the credentials of type `kind` the user may use."""

    def create(self, kind: str, on_created: Callable[[str], None]) -> None:
        """Open a form for a new credential of type `kind`; call `on_created(id)` once it is saved."""


def credential_kind(spec: Mapping[str, Any], parameters: Mapping[str, Any]) -> str | None:
    """The credential type a node signs with: the one its `authentication` parameter names, or the
    type's only credential type when it has no such parameter; None when it signs with none."""
    types = list(spec.get("credentials") or [])
    auth = next((p for p in spec.get("params") or [] if p.get("name") == "authentication"), None)
    if auth is not None:
        chosen = parameters.get("authentication", auth.get("default"))
        return chosen if chosen in types else None
    return types[0] if len(types) == 1 else None


EXPRESSION_KINDS = frozenset({"string", "number", "boolean", "options", "datetime", "json"})
ON_ERROR = {"stop": "Stop the workflow", "continue": "Continue (the error becomes an item)",
            "passThrough": "Continue (a failed node passes its input on, as n8n does)",
            "errorOutput": "Continue using an error output"}
PREVIEW_CHARS = 400


def _label(param: Mapping[str, Any]) -> str:
    label = str(param.get("label") or param.get("name") or "")
    return f"{label} *" if param.get("required") else label


def _shown(param: Mapping[str, Any], values: Mapping[str, Any], defaults: Mapping[str, Any]) -> bool:
    """Whether the parameter of a schema dict applies, as `Param.shown` says, given the values so far."""
    return not param.get("showIf") or Param.from_dict(param).shown({**defaults, **values})


def _is_expression(value: Any) -> bool:
    return isinstance(value, str) and "{{" in value


_NUMBER = Param("value", "number")


def _number(value: Any) -> int | float | None:
    """A number as the engine reads it (`Param.coerce`: 5 rather than 5.0), None when it is none."""
    try:
        return None if value is None or value == "" else _NUMBER.coerce(value)
    except ValueError:
        return None


def to_expression(value: Any, kind: str) -> str:
    """The expression text a fixed value becomes when the fx toggle is switched on."""
    if value is None or value == "" or (kind == "json" and value in ({}, [])):
        return ""
    if isinstance(value, str) and kind in ("string", "datetime"):
        return value  # text stays text: `Hello {{ $json.name }}` is a template around it
    return "{{ " + repr(value) + " }}"


def from_expression(text: Any, param: Mapping[str, Any]) -> Any:
    """The fixed value an expression becomes when the fx toggle is switched off.

    `{{ <literal> }}` gives the literal, plain text is parsed for the kind; anything
    that needs evaluating falls back to the parameter's default.
    """
    kind, default = param.get("kind"), copy.deepcopy(param.get("default"))
    if not isinstance(text, str):
        return text
    stripped = text.strip()
    if not stripped:
        return "" if kind in ("string", "datetime") else default
    candidates: list[Any] = []
    if stripped.startswith("{{") and stripped.endswith("}}") and stripped.count("{{") == 1:
        with contextlib.suppress(ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
            candidates.append(ast.literal_eval(stripped[2:-2].strip()))
    elif "{{" not in text:
        if kind == "json":
            with contextlib.suppress(ValueError):
                candidates.append(json.loads(stripped))
        candidates.append(text)
    for value in candidates:
        if kind in ("string", "datetime") and isinstance(value, str):
            return value
        if kind == "number":
            number = _number(value)
            if number is not None:
                return number
        if kind == "boolean":
            if isinstance(value, bool):
                return value
            if isinstance(value, str) and value.strip().lower() in ("true", "false", "1", "0"):
                return value.strip().lower() in ("true", "1")
        if kind == "options" and value in tuple(param.get("options") or ()):
            return value
        if kind == "json" and not isinstance(value, str):
            return value
    return default


def _singular(label: str) -> str:
    label = label.rstrip(" *")
    if label.endswith("ies"):
        return label[:-3] + "y"
    if label.endswith("s") and not label.endswith("ss"):
        return label[:-1]
    return label or "Item"


class _Group:
    """The fields of one dict of values: the node's parameters, a list row, or a collection."""

    def __init__(self, panel: ParamPanel, params: list[Mapping[str, Any]], values: dict[str, Any], path: str,
                 notify: Callable[[], None], *, horizontal: bool = False) -> None:
        self.panel = panel
        self.params = params
        self.values = values
        self.path = path
        self.notify = notify
        self.defaults = {p["name"]: p.get("default") for p in params}
        self.entries: list[tuple[ui.element, Mapping[str, Any], _Field]] = []
        box = ui.row().classes("w-full items-start gap-2 no-wrap") if horizontal else ui.column().classes(
            "w-full gap-1")
        with box:
            for param in params:
                name = param["name"]
                value = values[name] if name in values else copy.deepcopy(param.get("default"))
                with ui.column().classes("gap-0 " + ("flex-1 min-w-0" if horizontal else "w-full")) as holder:
                    field = _Field(panel, param, value, f"{path}{name}",
                                   lambda v, n=name: self.set(n, v))
                holder.mark(f"holder:{path}{name}")
                self.entries.append((holder, param, field))
                if not path and name == "authentication":
                    panel.credential_box()
        self.refresh()

    def set(self, name: str, value: Any) -> None:
        self.values[name] = value
        self.notify()

    def refresh(self) -> None:
        """Show the fields whose `showIf` holds for the current values; recurse into rows."""
        for holder, param, field in self.entries:
            holder.set_visibility(_shown(param, self.values, self.defaults))
            field.refresh()


class _Field:
    """One parameter: its input (fixed or expression mode), fx toggle, preview and description."""

    def __init__(self, panel: ParamPanel, param: Mapping[str, Any], value: Any, path: str,
                 on_value: Callable[[Any], None]) -> None:
        self.panel = panel
        self.param = param
        self.kind = str(param.get("kind") or "string")
        self.value = value
        self.path = path
        self.on_value = on_value
        # a boolean without a default is "an expression that decides" (If's condition): it opens as one
        self.expression = self.kind in EXPRESSION_KINDS and (_is_expression(value) or (
            self.kind == "boolean" and param.get("default") is None and value in (None, "")))
        self.children: list[_Group] = []
        self._task: asyncio.Task[Any] | None = None
        self.preview_label: ui.label | None = None
        with ui.row().classes("w-full items-start gap-1 no-wrap"):
            self.body = ui.column().classes("flex-1 min-w-0 gap-0")
            if self.kind in EXPRESSION_KINDS and not panel.readonly:
                self.fx = ui.button("fx", on_click=self.toggle).props("flat dense no-caps size=sm").classes(
                    "mt-2").mark(f"fx:{path}")
                self.fx.tooltip("Use an expression ({{ ... }})")
        if param.get("description"):
            ui.label(str(param["description"])).classes("text-xs text-grey-7")
        self.render()

    # ---- building
    def render(self) -> None:
        self.body.clear()
        self.children = []
        self.preview_label = None
        if self.kind in EXPRESSION_KINDS and not self.panel.readonly:
            self.fx.props(f"color={'primary' if self.expression else 'grey'}")
        renderers = {"string": self._string, "datetime": self._datetime, "number": self._number,
                     "boolean": self._boolean, "options": self._options, "credential": self._credential,
                     "code": self._code, "json": self._json, "list": self._list, "collection": self._collection}
        with self.body:
            if self.expression:
                self._expression_input()
            else:
                renderers.get(self.kind, self._string)()
        if self.panel.readonly:
            disable(self.body)

    def _expression_input(self) -> None:
        text = self.value if isinstance(self.value, str) else to_expression(self.value, self.kind)
        ui.textarea(_label(self.param), value=text, placeholder="{{ $json.field }}",
                    on_change=lambda e: self._changed(e.value)).props(
            "dense outlined autogrow rows=1 spellcheck=false").classes("w-full font-mono").mark(
            f"param:{self.path}")
        if self.panel.preview is not None:
            self.preview_label = ui.label("").classes("fb-preview text-xs font-mono whitespace-pre-wrap break-all").mark(
                f"preview:{self.path}")
            self.schedule_preview(0)

    def _string(self) -> None:
        ui.input(_label(self.param), value="" if self.value is None else str(self.value),
                 placeholder=self.param.get("placeholder") or None,
                 on_change=lambda e: self._changed(e.value)).props("dense outlined").classes("w-full").mark(
            f"param:{self.path}")

    def _datetime(self) -> None:
        ui.input(_label(self.param), value="" if self.value is None else str(self.value),
                 placeholder=self.param.get("placeholder") or "2025-01-31T09:00:00+01:00",
                 on_change=lambda e: self._changed(e.value)).props("dense outlined").classes("w-full").mark(
            f"param:{self.path}")

    def _number(self) -> None:
        number = ui.number(_label(self.param), value=_number(self.value), min=self.param.get("min"),
                           max=self.param.get("max"), placeholder=self.param.get("placeholder") or None,
                           precision=0 if self.param.get("integer") else None,
                           on_change=lambda e: self._changed(_number(e.value)))
        number.props("dense outlined").classes("w-full").mark(f"param:{self.path}")

    def _boolean(self) -> None:
        ui.switch(_label(self.param), value=bool(self.value),
                  on_change=lambda e: self._changed(bool(e.value))).props("dense").mark(f"param:{self.path}")

    def _options(self) -> None:
        options = list(self.param.get("options") or [])
        if self.value is not None and self.value not in options:
            options.append(self.value)  # keep an unknown value visible (validation names it) rather than drop it
        ui.select(options, label=_label(self.param), value=self.value if self.value in options else None,
                  on_change=lambda e: self._changed(e.value)).props("dense outlined").classes("w-full").mark(
            f"param:{self.path}")

    def _credential(self) -> None:
        options = [] if self.value in (None, "") else [self.value]
        ui.select(options, label=_label(self.param), value=self.value if options else None, clearable=True,
                  on_change=lambda e: self._changed(e.value)).props("dense outlined").classes("w-full").mark(
            f"param:{self.path}")

    def _code(self) -> None:
        ui.label(_label(self.param)).classes("text-sm text-grey-8")
        ui.codemirror("" if self.value is None else str(self.value), language="Python",
                      on_change=lambda e: self._changed(e.value)).classes("w-full h-64 border").mark(
            f"param:{self.path}")

    def _json(self) -> None:
        ui.label(_label(self.param)).classes("text-sm text-grey-8")
        text = "" if self.value is None else json.dumps(self.value, indent=2, ensure_ascii=False)
        ui.codemirror(text, language="JSON", on_change=lambda e: self._json_changed(e.value)).classes(
            "w-full h-40 border").mark(f"param:{self.path}")
        self.json_error = ui.label("").classes("text-xs text-negative").mark(f"error:{self.path}")
        self.json_error.set_visibility(False)
        if self.panel.preview is not None:
            self.preview_label = ui.label("").classes("fb-preview text-xs font-mono whitespace-pre-wrap break-all").mark(
                f"preview:{self.path}")
            self.preview_label.set_visibility(_has_template(self.value))
            if _has_template(self.value):
                self.schedule_preview(0)

    def _json_changed(self, text: str) -> None:
        try:
            value = json.loads(text) if text.strip() else None
        except ValueError as exc:
            self.json_error.set_text(f"Invalid JSON: {exc}")
            self.json_error.set_visibility(True)
            return
        self.json_error.set_visibility(False)
        if self.preview_label is not None:
            self.preview_label.set_visibility(_has_template(value))
        self._changed(value, preview=_has_template(value))

    def _list(self) -> None:
        fields = list(self.param.get("fields") or [])
        rows = self.value if isinstance(self.value, list) else []
        self.value = rows = copy.deepcopy(rows)
        title = _singular(_label(self.param))
        ui.label(_label(self.param)).classes("text-sm text-grey-8")
        rows_box = ui.column().classes("w-full gap-1")

        def changed() -> None:
            self._changed(self.value, preview=False)

        def build() -> None:
            rows_box.clear()
            self.children = []
            with rows_box:
                for i, row in enumerate(rows):
                    with ui.card().props("flat bordered").classes("w-full p-2 gap-1").mark(
                            f"row:{self.path}[{i}]"):
                        with ui.row().classes("w-full items-center gap-1 no-wrap"):
                            ui.label(f"{title} {i + 1}").classes("text-xs text-grey-7")
                            ui.space()
                            ui.button(icon="arrow_upward", on_click=lambda i=i: move(i, -1)).props(
                                "flat dense round size=sm").mark(f"up:{self.path}[{i}]").set_enabled(i > 0)
                            ui.button(icon="arrow_downward", on_click=lambda i=i: move(i, 1)).props(
                                "flat dense round size=sm").mark(f"down:{self.path}[{i}]").set_enabled(
                                i < len(rows) - 1)
                            ui.button(icon="delete", on_click=lambda i=i: remove(i)).props(
                                "flat dense round size=sm color=negative").mark(f"remove:{self.path}[{i}]")
                        if fields:
                            if not isinstance(row, dict):
                                rows[i] = row = {}
                            horizontal = len(fields) <= 3 and all(
                                f.get("kind") not in ("list", "collection", "json", "code") for f in fields)
                            self.children.append(_Group(self.panel, fields, row, f"{self.path}[{i}].", changed,
                                                        horizontal=horizontal))
                        else:
                            item_param = {"name": str(i), "kind": "string", "label": f"{title} {i + 1}",
                                          "default": ""}
                            _Field(self.panel, item_param, row, f"{self.path}[{i}]",
                                   lambda v, i=i: set_item(i, v))
            with rows_box:
                ui.button(f"Add {title.lower()}", icon="add", on_click=add).props(
                    "flat dense no-caps size=sm").mark(f"add:{self.path}")

        def set_item(i: int, value: Any) -> None:
            rows[i] = value
            changed()

        def add() -> None:
            rows.append({f["name"]: copy.deepcopy(f.get("default")) for f in fields} if fields else "")
            build()
            changed()

        def remove(i: int) -> None:
            del rows[i]
            build()
            changed()

        def move(i: int, step: int) -> None:
            j = i + step
            if 0 <= j < len(rows):
                rows[i], rows[j] = rows[j], rows[i]
                build()
                changed()

        build()

    def _collection(self) -> None:
        fields = list(self.param.get("fields") or [])
        data = self.value if isinstance(self.value, dict) else {}
        self.value = data = copy.deepcopy(data)
        with ui.expansion(_label(self.param), value=True).props("dense").classes("w-full border rounded").mark(
                f"collection:{self.path}"):
            self.children = [_Group(self.panel, fields, data, f"{self.path}.",
                                    lambda: self._changed(self.value, preview=False))]

    # ---- changes
    def _changed(self, value: Any, *, preview: bool = True) -> None:
        self.value = value
        self.on_value(value)
        if preview and (self.expression or self.kind == "json"):
            self.schedule_preview()

    def toggle(self) -> None:
        """Switch between a fixed value and an expression, converting the value (see to/from_expression)."""
        old = self.value
        self.expression = not self.expression
        self.value = to_expression(old, self.kind) if self.expression else from_expression(old, self.param)
        self.render()
        if self.value != old or type(self.value) is not type(old):
            self.on_value(self.value)

    def refresh(self) -> None:
        for group in self.children:
            group.refresh()

    # ---- preview
    def schedule_preview(self, delay: float | None = None) -> None:
        if self.panel.preview is None or self.preview_label is None:
            return
        if self._task is not None and not self._task.done():
            self._task.cancel()
        wait = self.panel.debounce if delay is None else delay
        self._task = background_tasks.create(self._preview(wait), name=f"preview {self.path}")

    async def _preview(self, delay: float) -> None:
        if delay:
            await asyncio.sleep(delay)
        label, value, preview = self.preview_label, self.value, self.panel.preview
        if label is None or preview is None:
            return
        try:
            if inspect.iscoroutinefunction(preview):
                result = await preview(self.path, value)
            else:
                result = await run.io_bound(preview, self.path, value)
                if inspect.isawaitable(result):
                    result = await result
        except Exception as exc:  # a broken preview callback must not break the form
            result = _Failed(f"preview failed: {type(exc).__name__}: {exc}")
        if result is None or label.is_deleted or label is not self.preview_label:
            return
        show_preview(label, result)


def disable(element: ui.element) -> None:
    """Make everything inside `element` read-only: fields disabled, buttons gone."""
    from nicegui.elements.mixins.disableable_element import DisableableElement

    for child in element.descendants():
        if isinstance(child, ui.button):
            child.set_visibility(False)
        elif isinstance(child, DisableableElement):
            child.disable()


class _Failed:
    """A Preview-shaped failure for when the preview callback itself raised."""

    ok = False
    value = None
    text = ""

    def __init__(self, error: str) -> None:
        self.error = error


def _has_template(value: Any) -> bool:
    if isinstance(value, str):
        return "{{" in value
    if isinstance(value, list):
        return any(_has_template(v) for v in value)
    if isinstance(value, dict):
        return any(_has_template(v) for v in value.values())
    return False


def show_preview(label: ui.label, result: Preview | _Failed) -> None:
    """Put a preview into its label: the value (and its type when not text), or the error in red."""
    if not result.ok:
        label.set_text(str(result.error))
        label.classes(add="text-negative", remove="text-grey-8")
        return
    text = result.text if isinstance(result.value, str) else result.text or "null"
    if len(text) > PREVIEW_CHARS:
        text = text[:PREVIEW_CHARS] + f"… ({len(result.text):,} characters)"
    kind = "" if isinstance(result.value, str) else f"  [{_type_name(result.value)}]"
    label.set_text(f"= {text}{kind}" if text else "= (empty text)")
    label.classes(add="text-grey-8", remove="text-negative")


def _type_name(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, dict):
        return "object"
    if isinstance(value, (list, tuple)):
        return "list"
    return type(value).__name__


class ParamPanel:
    """The parameter form of one node; see the module docstring.

    spec         the node type's catalog entry (`NodeSpec.to_dict()`: "params", "displayName", ...)
    node         the workflow node: name, type, parameters, credentials, onError, retryOnFail, maxTries,
                 waitBetweenTries, alwaysOutputData, disabled, notes (missing fields take their defaults)
    on_change    called with the whole updated node (a fresh copy) after every edit
    preview      `preview(parameter_path, value) -> Preview` for expressions, or None for no previews
    credentials  where the credential select gets its choices (None: no credential select)
    readonly     every field disabled, no buttons
    debounce     seconds to wait after the last keystroke before previewing
    """

    def __init__(self, spec: Mapping[str, Any], node: Mapping[str, Any], on_change: Callable[[dict[str, Any]], None],
                 preview: PreviewFn | None = None, *, credentials: CredentialSource | None = None,
                 readonly: bool = False, debounce: float = 0.2) -> None:
        self.spec = spec
        self.node: dict[str, Any] = copy.deepcopy(dict(node))
        params = self.node.get("parameters")
        self.node["parameters"] = params if isinstance(params, dict) else {}
        self.on_change = on_change
        self.preview = preview
        self.credentials = credentials
        self.readonly = readonly
        self.debounce = debounce
        self._credential_holder: ui.column | None = None
        self._credential_kind: str | None = None
        with ui.column().classes("w-full gap-2").mark("param-panel") as self.element:
            schema = [p for p in spec.get("params") or [] if isinstance(p, Mapping) and p.get("name")]
            if not any(p["name"] == "authentication" for p in schema):
                self.credential_box()
            self.group: _Group | None = None
            if schema:
                self.group = _Group(self, schema, self.node["parameters"], "", self.changed)
            else:
                ui.label("This node has no parameters.").classes("text-sm text-grey-7")
            self._settings()
            if readonly:
                disable(self.element)

    @property
    def value(self) -> dict[str, Any]:
        """The node as edited so far (a copy)."""
        return copy.deepcopy(self.node)

    def changed(self) -> None:
        if self.group is not None:
            self.group.refresh()
        if self._credential_holder is not None and credential_kind(self.spec, self.node["parameters"]) \
                != self._credential_kind:
            self._draw_credential()
        self.on_change(copy.deepcopy(self.node))

    def _set(self, key: str, value: Any) -> None:
        self.node[key] = value
        self._retry_box.set_visibility(bool(self.node.get("retryOnFail")))
        self.on_change(copy.deepcopy(self.node))

    # ---- credentials
    def credential_box(self) -> None:
        """The place of the credential select (drawn when the node signs with a credential)."""
        if not self.spec.get("credentials") or self._credential_holder is not None:
            return
        self._credential_holder = ui.column().classes("w-full gap-0").mark("credential-box")
        self._draw_credential()

    def _draw_credential(self) -> None:
        holder = self._credential_holder
        assert holder is not None
        self._credential_kind = kind = credential_kind(self.spec, self.node["parameters"])
        holder.clear()
        if kind is None:
            return
        with holder, ui.row().classes("w-full items-center gap-1 no-wrap"):
            current = (self.node.get("credentials") or {}).get(kind)
            current = current.get("id") if isinstance(current, dict) else current
            select = ui.select({current: current} if current else {}, label=f"Credential ({kind})",
                               value=current or None,
                               on_change=lambda e: self._set_credential(kind, e.value)).props(
                'dense outlined data-testid="credential-select"').classes("flex-1 min-w-0")
            if self.readonly:
                select.disable()
            elif self.credentials is not None:
                ui.button(icon="add", on_click=lambda: self.credentials.create(  # type: ignore[union-attr]
                    kind, lambda new: self._created(kind, new))).props(
                    'flat dense round size=sm data-testid="credential-create"').tooltip(
                    f"Create a new {kind} credential")
        if self.credentials is not None:
            background_tasks.create(self._fill_credentials(select, kind, current), name="credential options")

    async def _fill_credentials(self, select: ui.select, kind: str, current: str | None) -> None:
        options = await self.credentials.options(kind)  # type: ignore[union-attr]
        if select.is_deleted:
            return
        if current and current not in options:
            options[current] = f"{current} (not found)"
        select.set_options(options, value=current or None)

    def _set_credential(self, kind: str, value: str | None) -> None:
        credentials = dict(self.node.get("credentials") or {})
        if value:
            credentials[kind] = value
        else:
            credentials.pop(kind, None)
        if credentials == (self.node.get("credentials") or {}):
            return
        self.node["credentials"] = credentials
        self.on_change(copy.deepcopy(self.node))

    def _created(self, kind: str, credential_id: str) -> None:
        self._set_credential(kind, credential_id)
        self._draw_credential()

    def _settings(self) -> None:
        node = self.node
        with ui.expansion("Settings", icon="settings").props("dense").classes("w-full").mark("settings"):
            on_error = node.get("onError") or "stop"
            options = dict(ON_ERROR)
            options.setdefault(on_error, on_error)
            ui.select(options, label="On error", value=on_error,
                      on_change=lambda e: self._set("onError", e.value)).props("dense outlined").classes(
                "w-full").mark("setting:onError")
            ui.switch("Retry on fail", value=bool(node.get("retryOnFail")),
                      on_change=lambda e: self._set("retryOnFail", bool(e.value))).props("dense").mark(
                "setting:retryOnFail")
            with ui.row().classes("w-full gap-2 no-wrap") as self._retry_box:
                ui.number("Max tries", value=_number(node.get("maxTries", 3)), min=1, max=100,
                          on_change=lambda e: self._set("maxTries", _number(e.value))).props(
                    "dense outlined").classes("flex-1").mark("setting:maxTries")
                ui.number("Wait between tries (ms)", value=_number(node.get("waitBetweenTries", 1000)), min=0,
                          on_change=lambda e: self._set("waitBetweenTries", _number(e.value))).props(
                    "dense outlined").classes("flex-1").mark("setting:waitBetweenTries")
            self._retry_box.set_visibility(bool(node.get("retryOnFail")))
            ui.switch("Always output data", value=bool(node.get("alwaysOutputData")),
                      on_change=lambda e: self._set("alwaysOutputData", bool(e.value))).props("dense").mark(
                "setting:alwaysOutputData")
            ui.switch("Disabled (pass items through)", value=bool(node.get("disabled")),
                      on_change=lambda e: self._set("disabled", bool(e.value))).props("dense").mark(
                "setting:disabled")
            ui.textarea("Notes", value=node.get("notes") or "",
                        on_change=lambda e: self._set("notes", e.value)).props("dense outlined autogrow").classes(
                "w-full").mark("setting:notes")
