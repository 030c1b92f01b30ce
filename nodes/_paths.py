"""Field paths as n8n's nodes read them (lodash `get`/`set`/`unset`): `a.b`, `a[0].b`, `a["x y"]`, with a
MISSING marker for "not there" (JavaScript's undefined, which differs from null), plus the few JavaScript
value rules the n8n-compatible nodes need (`String(value)`, fixedCollection rows)."""

from __future__ import annotations

import json
import re
from typing import Any


class _Missing:
    """JavaScript's `undefined`: a field that is not there (null is None)."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "MISSING"

    def __bool__(self) -> bool:
        return False


MISSING: Any = _Missing()
_PART = re.compile(r"""[^.\[\]]+|\[(?:(-?\d+)|"([^"]*)"|'([^']*)')\]""")


def split_path(path: str) -> list[str | int]:
    """`a[0].b` -> ["a", 0, "b"]; `a["x.y"]` -> ["a", "x.y"] (lodash's path syntax)."""
    parts: list[str | int] = []
    for m in _PART.finditer(path):
        if m.group(1) is not None:
            parts.append(int(m.group(1)))
        elif m.group(2) is not None or m.group(3) is not None:
            parts.append(m.group(2) if m.group(2) is not None else m.group(3))
        else:
            parts.append(m.group(0))
    return parts


def get_field(data: Any, path: str, dot_notation: bool = True) -> Any:
    """The value at `path` (lodash `get`), or MISSING; with `dot_notation` off `path` is one key."""
    if isinstance(data, dict) and path in data:
        return data[path]
    if not dot_notation:
        return MISSING
    current = data
    for part in split_path(path):
        if isinstance(current, dict):
            key = str(part)
            if key not in current:
                return MISSING
            current = current[key]
        elif isinstance(current, list) and (isinstance(part, int) or str(part).isdigit()):
            index = int(part)
            if not 0 <= index < len(current):
                return MISSING
            current = current[index]
        else:
            return MISSING
    return current


def set_field(data: dict[str, Any], path: str, value: Any, dot_notation: bool = True) -> None:
    """Set `path` in `data` in place, making objects on the way (lodash `set`; a number part makes a list)."""
    parts = split_path(path) if dot_notation else [path]
    if not parts:
        return
    current: Any = data
    for part, nxt in zip(parts, parts[1:], strict=False):
        child = _child(current, part)
        if not isinstance(child, (dict, list)):
            child = [] if isinstance(nxt, int) else {}
            _put(current, part, child)
        current = child
    _put(current, parts[-1], value)


def unset_field(data: dict[str, Any], path: str, dot_notation: bool = True) -> bool:
    """Remove `path` from `data` in place (lodash `unset`); whether something was removed."""
    if path in data:
        del data[path]
        return True
    parts = split_path(path) if dot_notation else [path]
    current: Any = data
    for part in parts[:-1]:
        current = _child(current, part)
        if not isinstance(current, (dict, list)):
            return False
    last = parts[-1] if parts else path
    if isinstance(current, dict) and str(last) in current:
        del current[str(last)]
        return True
    return False


def _child(container: Any, part: str | int) -> Any:
    if isinstance(container, dict):
        return container.get(str(part), MISSING)
    if isinstance(container, list) and isinstance(part, int) and 0 <= part < len(container):
        return container[part]
    return MISSING


def _put(container: Any, part: str | int, value: Any) -> None:
    if isinstance(container, list) and isinstance(part, int):
        container.extend([None] * (part + 1 - len(container)))
        container[part] = value
    elif isinstance(container, dict):
        container[str(part)] = value


def comma_list(text: Any) -> list[str]:
    """`"a, b,,c"` -> ["a", "b", "c"] (n8n's "field names separated by commas"); a list passes through."""
    if isinstance(text, (list, tuple)):
        return [str(t).strip() for t in text if str(t).strip()]
    return [part.strip() for part in str(text or "").split(",") if part.strip()]


def js_string(value: Any) -> str:
    """JavaScript's `String(value)` for JSON values: 1.0 -> "1", True -> "true", None -> "null"."""
    if value is MISSING:
        return "undefined"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() and abs(value) < 1e21 else repr(value)
    if isinstance(value, (dict, list)):
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    return str(value)


def rows(value: Any, key: str) -> list[dict[str, Any]]:
    """The rows of a list parameter, whether flowbox's `[row, ...]` or n8n's fixedCollection `{key: [row, ...]}`
    (as written in an n8n export)."""
    if isinstance(value, dict):
        value = value.get(key, [value] if value else [])
    if isinstance(value, list) and len(value) == 1 and isinstance(value[0], dict) and set(value[0]) == {key}:
        value = value[0][key]
    if isinstance(value, dict):
        value = [value]
    return [row for row in value or [] if isinstance(row, dict)]
