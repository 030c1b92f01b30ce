"""Set: add or change fields on each item (dotted paths nest), optionally keep only those."""

import contextlib
import copy
import json
from typing import Any

from flowbox.node import Context, Item, ItemErrors, N8n, N8nNotes, Param, node, remove_path, set_path
from flowbox.nodes._n8n import Params, bad, is_expression, json_value, rows, split_names
from flowbox.nodes._paths import MISSING, comma_list, get_field, set_field


def _not_n8n_layout(fields: Any) -> None:
    """n8n's Set keeps its rows as `{"values": [{"name": ..., "stringValue": ...}]}`; read as flowbox's
    `{path: value}` that would set one field named "values", so it is refused until n8n workflows are
    converted on import."""
    rows = fields.get("values") if isinstance(fields, dict) and len(fields) == 1 else None
    if isinstance(rows, list) and rows and all(isinstance(r, dict) and "name" in r for r in rows):
        raise ValueError('looks like n8n\'s Set layout ({"values": [{"name": ..., ...}]}), which flowbox does not '
                         'read; write the fields as {path: value}, e.g. {"total": "{{ $json.price }}"}')


_SET_V1_TYPES = {"string": "", "number": 0, "boolean": False}
_SET_V3_KEYS = {"stringValue": "string", "numberValue": "number", "booleanValue": "boolean",
                "arrayValue": "array", "objectValue": "object"}


def _typed(value: Any, kind: str, where: str, p: Params) -> Any:
    """An n8n Set value of `kind` as n8n would write it into the item (an expression stays as written: the
    node converts its result, `types`)."""
    if is_expression(value):
        return value
    if kind == "number" and isinstance(value, str):
        try:
            number = float(value)
        except ValueError:
            raise bad(where, f"is not a number: {value!r}") from None
        return int(number) if number.is_integer() else number
    if kind == "boolean" and isinstance(value, str):
        if value.strip().lower() not in ("true", "false"):
            raise bad(where, f"is not true or false: {value!r}")
        return value.strip().lower() == "true"
    if kind in ("array", "object") and isinstance(value, str):
        parsed = json_value(value, where)
        if not isinstance(parsed, list if kind == "array" else dict):
            raise bad(where, f"is not a JSON {kind}: {value[:40]!r}")
        return parsed
    if kind == "string" and not isinstance(value, str):
        return "" if value is None else json.dumps(value) if isinstance(value, (dict, list)) else str(value)
    return value


def from_n8n(params: dict[str, Any], version: float) -> tuple[dict[str, Any], N8nNotes]:
    """n8n's Edit Fields (Set): v1/v2 `values` by type + `keepOnlySet`; v3.0-3.2 `fields.values` with
    `include`; v3.3+ `assignments` with `includeOtherFields`. Dot notation (n8n's default) is flowbox's
    too (options.dotNotation false keeps dotted names whole); `include` selected keeps the `includeFields`
    of the input. Raw JSON mode and item duplication are not supported."""
    p = Params(params, version)
    fields: dict[str, Any] = {}
    types: dict[str, str] = {}  # v3: what an expression's result is converted to
    remove: list[str] = []
    keep: list[str] = []
    if version < 3:
        options = p.options("options", ("dotNotation",))
        for kind, group in (p.take("values", {}) or {}).items():
            if kind not in _SET_V1_TYPES:
                raise bad(f"values.{kind}", "is not a Set v1 value type (string, number, boolean)")
            for row in group:
                name = str(row.get("name", "propertyName"))
                fields[name] = _typed(row.get("value", _SET_V1_TYPES[kind]), kind, f"values.{kind}", p)
                if version >= 2 and kind != "string" and is_expression(fields[name]):
                    types[name] = kind  # v2 converts an expression's result to its number or boolean; v1 keeps it
        keep_only = bool(p.take("keepOnlySet", False))
    else:
        options = p.options("options", ("dotNotation", "includeBinary", "ignoreConversionErrors", "stripBinary"))
        mode = p.take("mode", "manual")
        if mode != "manual":
            p.unsupported(f"mode {mode!r} (JSON output) is not supported; manual mapping is")
            p.ignore("jsonOutput")
        if version >= 3.3:
            for row in rows(p.take("assignments", {}), "assignments", "assignments"):
                name, kind = str(row.get("name", "")), str(row.get("type", "string"))
                fields[name] = _typed(row.get("value"), kind, f"assignments.{name}", p)
                if is_expression(fields[name]) and kind in TYPES:
                    types[name] = kind
            include = p.take("include", "all") if p.take("includeOtherFields", False) else "none"
        else:
            for row in rows(p.take("fields", {}), "values", "fields"):
                name, kind = str(row.get("name", "")), str(row.get("type", "stringValue"))
                if kind not in _SET_V3_KEYS:
                    raise bad(f"fields.{name}", f"has an unknown type {kind!r}")
                fields[name] = _typed(row.get(kind, "" if kind == "stringValue" else None), _SET_V3_KEYS[kind],
                                      f"fields.{name}", p)
                if is_expression(fields[name]):
                    types[name] = _SET_V3_KEYS[kind]
            include = p.take("include", "all")
        keep_only = include in ("none", "selected")
        if include == "except":
            remove = [f for f in split_names(p.take("excludeFields", "")) if f not in fields]
        elif include == "selected":
            keep = split_names(p.take("includeFields", ""))
        elif include not in ("all", "none"):
            raise bad("include", f"must be all, none, selected or except; got {include!r}")
        if options.get("includeBinary") is False or options.get("stripBinary") is True:
            p.unsupported("dropping the input's binary data is not supported")
        if p.take("duplicateItem", False):
            p.unsupported("duplicateItem is not supported")
        p.ignore("duplicateCount")
    out: dict[str, Any] = {"fields": fields, "keepOnly": keep_only}
    if options.get("dotNotation") is False and any("." in name or "[" in name for name in fields):
        out["dotNotation"] = False
    if remove:
        out["remove"] = remove
    if keep:
        out["keep"] = keep
    if types:
        out["types"] = types
        if options.get("ignoreConversionErrors"):
            out["ignoreConversionErrors"] = True
    return p.done(out)


TYPES = ("string", "number", "boolean", "array", "object")


def convert(value: Any, kind: str) -> Any:
    """`value` as `kind`, as n8n's Edit Fields converts a field; ValueError says why it cannot be."""
    if value is None or kind not in TYPES:
        return value
    if kind == "string":
        if isinstance(value, str):
            return value
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, (dict, list)):
            return json.dumps(value, separators=(",", ":"), ensure_ascii=False)
        return str(int(value)) if isinstance(value, float) and value.is_integer() else str(value)
    if kind == "number":
        if isinstance(value, bool):
            return int(value)
        if isinstance(value, (int, float)):
            return value
        try:
            number = float(str(value).strip() or "0")
        except ValueError:
            raise ValueError(f"expects a number but we got '{value}'") from None
        return int(number) if number.is_integer() else number
    if kind == "boolean":
        text = str(value).strip().lower() if not isinstance(value, bool) else ("true" if value else "false")
        if text in ("true", "1"):
            return True
        if text in ("false", "0"):
            return False
        raise ValueError(f"expects a boolean but we got '{value}'")
    wanted = list if kind == "array" else dict
    if isinstance(value, str):
        with contextlib.suppress(ValueError):
            value = json.loads(value)
    if not isinstance(value, wanted):
        raise ValueError(f"expects an {kind} but we got '{value}'")
    return value


def _n8n_kind(value: Any) -> str:
    """The n8n Set v3.4 assignment type of a flowbox field value."""
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    return {list: "array", dict: "object"}.get(type(value), "string")


def to_n8n(params: dict[str, Any], version: float | None) -> tuple[dict[str, Any], float, N8nNotes]:
    """The inverse of `from_n8n`: Edit Fields v3.4 `assignments` (arrays and objects as JSON text, as n8n's
    editor writes them), `includeOtherFields` unless keepOnly, `include: except` for removed fields; an
    expression's type from `types`, else string (what n8n then converts its result to)."""
    fields = params.get("fields") or {}
    types = params.get("types") or {}
    assignments = [{"id": f"field-{i}", "name": name, "type": types.get(name) or _n8n_kind(value),
                    "value": json.dumps(value) if isinstance(value, (list, dict)) else value}
                   for i, (name, value) in enumerate(fields.items())]
    out: dict[str, Any] = {"assignments": {"assignments": assignments}}
    remove = params.get("remove") or []
    if not params.get("keepOnly"):
        out["includeOtherFields"] = True
        if remove:
            out.update(include="except", excludeFields=", ".join(remove) if isinstance(remove, list) else remove)
    return out, 3.4, []


N8N = N8n(types=("n8n-nodes-base.set",), versions=(1, 2, 3, 3.1, 3.2, 3.3, 3.4), convert=from_n8n, export=to_n8n)


def _converted(path: str, value: Any, kind: str | None, lenient: bool) -> Any:
    if kind is None:
        return value
    try:
        return convert(value, kind)
    except ValueError as exc:
        if lenient:
            return value
        raise ValueError(f"'{path}' {exc}") from None


@node(n8n=N8N, type="set", display_name="Edit Fields (Set)", group="transform", icon="pen",
      description="Set fields on each item; values may be expressions like {{ $json.price * $json.qty }}",
      params=[
          Param("fields", "json", {}, description="Field path -> value; `a.b` sets a nested field",
                check=_not_n8n_layout),
          Param("keepOnly", "boolean", False, description="Drop every field not set here (but those in keep)"),
          Param("keep", "list", [], show_if={"keepOnly": [True]},
                description="Field paths of the input kept with keepOnly (n8n's 'selected' input fields)"),
          Param("remove", "list", [], description="Field paths to remove"),
          Param("dotNotation", "boolean", True,
                description="`a.b` and `a[0]` in a field's name nest; off: the name is one field, dots and all"),
          Param("types", "json", {}, description="Field path -> string, number, boolean, array or object: the "
                                                  "value is converted to it (n8n's Edit Fields types)"),
          Param("ignoreConversionErrors", "boolean", False,
                description="Keep a value that cannot be converted to its type instead of failing the item"),
      ])
async def set_fields(ctx: Context, items: list[Item]) -> list[list[Item]]:
    keep_only = ctx.param("keepOnly")
    types = ctx.raw_param("types") or {}
    lenient = ctx.param("ignoreConversionErrors")
    dots = ctx.param("dotNotation")
    remove = comma_list(ctx.raw_param("remove"))
    keep = comma_list(ctx.raw_param("keep")) if keep_only else []
    out: list[Item] = []
    errors = ItemErrors(ctx)
    for i, item in enumerate(items):
        try:
            fields = ctx.param("fields", i) or {}
            if types and isinstance(fields, dict):
                fields = {path: _converted(path, value, types.get(path), lenient) for path, value in fields.items()}
        except Exception as exc:
            errors.fail(item, i, exc, out)
            continue
        if not isinstance(fields, dict):
            raise ctx.error(f"parameter 'fields' must be an object of path -> value, got {type(fields).__name__}", i)
        data = {} if keep_only else dict(item.json)
        for path in keep:
            value = get_field(item.json, path, dots)
            if value is not MISSING:
                set_field(data, path, copy.deepcopy(value), dots)
        for path, value in fields.items():
            if dots and ("." in path or "[" in path) and path not in data:
                data = set_path(data, path, value)
            else:
                data[path] = value
        for path in remove:
            data = remove_path(data, path)
        out.append(item.derive(data))
    return errors.outputs(out)
