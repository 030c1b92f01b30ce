"""Helpers for the nodes' n8n converters (`N8n(convert=...)` on a node, `flowbox.n8n` calls them).

A converter reads the n8n parameters through `Params`, which remembers what it read: whatever is
left at `done()` is reported "unsupported", so the node becomes a placeholder rather than running
without it. n8n leaves parameters at their default out of an export, so every `take` names n8n's
default for that version. A value starting with `=` is an n8n expression and is kept as written.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from flowbox.errors import WorkflowInvalid
from flowbox.node import N8nNotes
from flowbox.node import is_js_expression as is_expression  # n8n's "=..." values, for the converters

_MISSING = object()


def bad(parameter: str, message: str) -> WorkflowInvalid:
    """A fixed n8n parameter value that cannot be read (flowbox.n8n names the node)."""
    return WorkflowInvalid(f"parameter '{parameter}' {message}", field=parameter)


class Params:
    """An n8n node's parameters being read by a converter, and the converter's notes."""

    def __init__(self, params: Mapping[str, Any], version: float) -> None:
        self.raw = dict(params)
        self.version = version
        self.used: set[str] = set()
        self.notes: N8nNotes = []

    def take(self, name: str, default: Any = None) -> Any:
        """Parameter `name` (n8n's `default` when the export leaves it out); marks it read."""
        self.used.add(name)
        return self.raw.get(name, default)

    def ignore(self, *names: str) -> None:
        """Parameters that change nothing in flowbox (editor-only notices, layout hints)."""
        self.used.update(names)

    def approximated(self, message: str) -> None:
        self.notes.append(("approximated", message))

    def unsupported(self, message: str) -> None:
        self.notes.append(("unsupported", message))

    def options(self, name: str, known: Iterable[str]) -> dict[str, Any]:
        """The collection `name` (n8n's `options`); keys outside `known` are reported unsupported."""
        value = self.take(name, {}) or {}
        if not isinstance(value, dict):
            raise bad(name, f"must be an object; got {json.dumps(value)[:40]}")
        for key in value:
            if key not in known:
                self.unsupported(f"option '{name}.{key}' is not supported")
        return value

    def same(self, names: Iterable[str], lists: Mapping[str, str] | None = None,
             collections: Mapping[str, Iterable[str]] | None = None) -> dict[str, Any]:
        """For a flowbox node whose parameters carry n8n's names: the parameters the export sets, as they
        are. A fixedCollection named in `lists` (name -> its key) becomes its list of rows; the keys of a
        collection in `collections` are checked against the known ones. A parameter the export leaves out
        stays out, so the node applies its n8n version's default (it reads the kept typeVersion)."""
        out: dict[str, Any] = {}
        for name in names:
            if name in self.raw:
                out[name] = self.take(name)
        for name, key in (lists or {}).items():
            if name in self.raw:
                out[name] = rows(self.take(name), key, name)
        for name, known in (collections or {}).items():
            if name in self.raw:
                out[name] = self.options(name, tuple(known))
        return out

    def done(self, out: dict[str, Any]) -> tuple[dict[str, Any], N8nNotes]:
        """The flowbox parameters, with every parameter not read reported as unsupported."""
        for key in self.raw:
            if key not in self.used:
                self.unsupported(f"parameter '{key}' is not supported")
        return out, self.notes


def codec(name: Any) -> str:
    """n8n's (iconv-lite's) name of a text encoding as Python's: windows1256 -> cp1256, latin1, utf16le, ..."""
    import codecs
    import re

    text = str(name or "utf-8").strip()
    found = re.fullmatch(r"(?i)(?:windows|win|cp)-?(\d{3,4})", text)
    candidate = f"cp{found.group(1)}" if found else {"binary": "latin-1", "ucs2": "utf-16-le",
                                                     "utf16le": "utf-16-le", "utf16be": "utf-16-be"}.get(text.lower(), text)
    try:
        return codecs.lookup(candidate).name
    except LookupError:
        return text  # the node names it when it runs


def byte_encoding(out: dict[str, Any], p: Params, text_operation: str, byte_operation: str) -> bool:
    """iconv-lite's byte encodings (base64, hex) on a text operation: n8n moves bytes, not text, so the operation
    becomes `byte_operation` (hex, which flowbox lacks, reported unsupported). Whether it did."""
    if out.get("operation") != text_operation or out.get("encoding") not in ("base64", "hex"):
        return False
    if out.pop("encoding") == "hex":
        p.unsupported("encoding 'hex' is not supported")
    out["operation"] = byte_operation
    return True


def rows(value: Any, key: str, parameter: str) -> list[dict[str, Any]]:
    """The rows of an n8n fixedCollection (`{"parameters": [{...}]}` -> the list under `key`)."""
    if value in (None, "", {}):
        return []
    if not isinstance(value, dict) or not isinstance(value.get(key, []), list):
        raise bad(parameter, f"must be an object with a list '{key}'; got {json.dumps(value)[:40]}")
    found = value.get(key, [])
    if not all(isinstance(row, dict) for row in found):
        raise bad(parameter, f"'{key}' must hold objects")
    return found


def pairs(value: Any, parameter: str, key: str = "parameters") -> dict[str, Any]:
    """n8n's name/value rows (`{"parameters": [{"name", "value"}]}`) as a {name: value} object."""
    return {str(row.get("name", "")): row.get("value", "") for row in rows(value, key, parameter)}


def json_value(value: Any, parameter: str) -> Any:
    """A JSON text parameter (n8n keeps JSON bodies as text) as its value; an expression stays text."""
    if not isinstance(value, str) or is_expression(value):
        return value
    try:
        return json.loads(value) if value.strip() else None
    except ValueError as exc:
        raise bad(parameter, f"is not valid JSON: {exc}") from None


def field_names(value: Any, parameter: str) -> list[str]:
    """n8n's field-name lists: a comma-separated text, or a fixedCollection `{"fields": [{fieldName}]}`."""
    if isinstance(value, dict):
        return [str(r.get("fieldName", "")).strip() for r in rows(value, "fields", parameter)]
    return split_names(value)


def split_names(value: Any) -> list[str]:
    """n8n's comma-separated field names as a list."""
    if isinstance(value, list):
        return [str(v) for v in value]
    return [part.strip() for part in str(value or "").split(",") if part.strip()]


# ---------------------------------------------------------------- conditions (If, Filter, Switch)

_V2_OPS = {  # (n8n operator type, operation) -> flowbox op; type "any" matches every type
    ("any", "exists"): "exists", ("any", "notExists"): "notExists", ("any", "empty"): "isEmpty",
    ("any", "notEmpty"): "isNotEmpty", ("any", "equals"): "equals", ("any", "notEquals"): "notEquals",
    ("string", "contains"): "contains", ("string", "notContains"): "notContains",
    ("string", "startsWith"): "startsWith", ("string", "endsWith"): "endsWith",
    ("string", "notStartsWith"): "notStartsWith", ("string", "notEndsWith"): "notEndsWith",
    ("string", "regex"): "regex", ("string", "notRegex"): "notRegex",
    ("number", "gt"): "gt", ("number", "gte"): "gte", ("number", "lt"): "lt", ("number", "lte"): "lte",
    ("boolean", "true"): "isTrue", ("boolean", "false"): "isFalse",
    ("array", "contains"): "contains", ("array", "notContains"): "notContains",
    ("dateTime", "after"): "gt", ("dateTime", "afterOrEquals"): "gte", ("dateTime", "before"): "lt",
    ("dateTime", "beforeOrEquals"): "lte",
}
UNARY = frozenset({"exists", "notExists", "isEmpty", "isNotEmpty", "isTrue", "isFalse"})


def conditions_v2(value: Any, parameter: str, p: Params) -> tuple[list[dict[str, Any]], str]:
    """n8n's filter layout (If v2, Filter v2, Switch v3 rules): `{"conditions": [{leftValue, rightValue,
    operator: {type, operation}}], "combinator", "options": {caseSensitive, typeValidation}}` as flowbox
    condition rows and how they combine."""
    if not isinstance(value, dict):
        raise bad(parameter, f"must be an object with 'conditions'; got {json.dumps(value)[:40]}")
    options = value.get("options") or {}
    ignore_case = options.get("caseSensitive") is False
    if options.get("typeValidation") == "loose":
        p.approximated(f"'{parameter}': loose type validation compares as flowbox does (numbers with numeric "
                       "text as numbers)")
    combinator = value.get("combinator", "and")
    if combinator not in ("and", "or"):
        raise bad(f"{parameter}.combinator", f"must be 'and' or 'or'; got {combinator!r}")
    out = []
    for i, row in enumerate(rows(value, "conditions", parameter)):
        operator = row.get("operator") or {}
        kind, operation = operator.get("type", "string"), operator.get("operation", "equals")
        op = _V2_OPS.get((kind, operation)) or _V2_OPS.get(("any", operation))
        if kind == "boolean" and operation in ("equals", "notEquals"):
            p.approximated(f"'{parameter}' condition {i + 1}: boolean {operation} compares the values as given")
        if op is None:
            p.unsupported(f"'{parameter}' condition {i + 1}: operator {kind}.{operation} is not supported")
            continue
        entry = {"left": row.get("leftValue", ""), "op": op}
        if op not in UNARY:
            entry["right"] = row.get("rightValue", "")
            if kind == "dateTime":
                entry["type"] = "dateTime"
            elif ignore_case and kind in ("string", "array"):
                entry["ignoreCase"] = True
        out.append(entry)
    return out, combinator


_V1_OPS = {
    "boolean": {"equal": "equals", "notEqual": "notEquals"},
    "number": {"smaller": "lt", "smallerEqual": "lte", "equal": "equals", "notEqual": "notEquals",
               "larger": "gt", "largerEqual": "gte", "isEmpty": "isEmpty", "isNotEmpty": "isNotEmpty"},
    "dateTime": {"after": "gt", "before": "lt"},
    "string": {"contains": "contains", "notContains": "notContains", "endsWith": "endsWith",
               "notEndsWith": "notEndsWith", "notStartsWith": "notStartsWith",
               "equal": "equals", "notEqual": "notEquals", "regex": "regex", "notRegex": "notRegex",
               "startsWith": "startsWith", "isEmpty": "isEmpty", "isNotEmpty": "isNotEmpty"},
}


def conditions_v1(value: Any, parameter: str, p: Params) -> list[dict[str, Any]]:
    """n8n's If/Filter v1 typed condition groups (`{"string": [{value1, operation, value2}], "number": [...],
    "boolean": [...], "dateTime": [...]}`) as flowbox condition rows (in n8n's order of the groups)."""
    if value in (None, {}):
        return []
    if not isinstance(value, dict):
        raise bad(parameter, f"must be an object of condition groups; got {json.dumps(value)[:40]}")
    out = []
    for kind, group in value.items():
        ops = _V1_OPS.get(kind)
        if ops is None:
            p.unsupported(f"'{parameter}': {kind} conditions are not supported")
            continue
        if not isinstance(group, list):
            raise bad(f"{parameter}.{kind}", "must be a list")
        for i, row in enumerate(group):
            operation = row.get("operation", {"number": "smaller", "dateTime": "after"}.get(kind, "equal"))
            op = ops.get(operation)
            if kind == "boolean" and op and isinstance(row.get("value2", False), bool):  # == true: isTrue
                op = "isTrue" if row.get("value2", False) == (op == "equals") else "isFalse"
            if op is None:
                p.unsupported(f"'{parameter}.{kind}' condition {i + 1}: operation {operation!r} is not supported")
                continue
            default = {"boolean": False, "number": 0}.get(kind, "")
            entry = {"left": row.get("value1", default), "op": op}
            if op not in UNARY:
                entry["right"] = row.get("value2", default)
            if kind == "dateTime":
                entry["type"] = "dateTime"
            out.append(entry)
    return out


def conditions_from_n8n(params: dict[str, Any], version: float) -> tuple[dict[str, Any], N8nNotes]:
    """If and Filter (same layouts): v1 `conditions` groups + `combineOperation` (Filter: `combineConditions`); v2.x `conditions` in the
    filter layout + `looseTypeValidation` and `options` (ignoreCase, looseTypeValidation)."""
    p = Params(params, version)
    if version < 2:
        found = conditions_v1(p.take("conditions", {}), "conditions", p)
        combine = "or" if p.take("combineOperation", "all") == "any" else "and"
        if str(p.take("combineConditions", "AND")).upper() == "OR":  # Filter v1's name for it
            combine = "or"
    else:
        found, combine = conditions_v2(p.take("conditions", {}), "conditions", p)
        options = p.options("options", ("ignoreCase", "looseTypeValidation", "caseSensitive"))
        if options.get("ignoreCase") or options.get("caseSensitive") is False:
            for row in found:
                if "right" in row and row.get("type") != "dateTime":
                    row["ignoreCase"] = True
        if p.take("looseTypeValidation", False) or options.get("looseTypeValidation"):
            p.approximated("loose type validation compares as flowbox does (numbers with numeric text as numbers)")
    return p.done({"conditions": found, "combine": combine})
