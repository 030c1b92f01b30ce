"""Dotted paths into item data: `customer.name`, list indexes as `rows.0` or `rows[0]`."""

from __future__ import annotations

import re
from typing import Any

_NOTHING = object()


def _keys(path: str) -> list[str | int]:
    """A path's keys: dotted names, and `[n]` list indexes as ints (`rows[0].name` -> ["rows", 0, "name"])."""
    if "[" not in path:
        return list(path.split("."))
    keys: list[str | int] = []
    for part in path.split("."):
        name, *indexes = re.split(r"\[(-?\d+)\]", part)
        if name or not indexes:
            keys.append(name)
        keys.extend(int(i) for i in indexes[::2] if i != "")
    return keys


def get_path(data: Any, path: str, default: Any = None) -> Any:
    """`get_path({"a": {"b": 1}}, "a.b") == 1`; list indexes work (`items.0.name`, `items[0].name`); missing
    gives `default`."""
    if path in data if isinstance(data, dict) else False:
        return data[path]
    current = data
    for key in _keys(path):
        if isinstance(current, dict):
            current = current.get(str(key), _NOTHING)
        elif isinstance(current, list) and (isinstance(key, int) or key.lstrip("-").isdigit()) \
                and -len(current) <= int(key) < len(current):
            current = current[int(key)]
        else:
            return default
        if current is _NOTHING:
            return default
    return current


def set_path(data: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    """A copy of `data` with dotted `path` set to `value` (nested dicts and lists copied on the way, not
    mutated); a `[n]` index makes (or pads) a list, as n8n's Set does (`tags[1]` -> [None, value])."""
    keys = _keys(path)
    out = dict(data)
    current: Any = out
    for key, after in zip(keys, keys[1:], strict=False):
        existing = current[key] if _has(current, key) else None
        if isinstance(after, int):
            nxt: Any = list(existing) if isinstance(existing, list) else {} if isinstance(existing, dict) else []
        else:
            nxt = dict(existing) if isinstance(existing, dict) else {}
        _put(current, key, nxt)
        current = nxt
    _put(current, keys[-1], value)
    return out


def _has(container: Any, key: str | int) -> bool:
    if isinstance(container, list):
        return isinstance(key, int) and 0 <= key < len(container)
    return str(key) in container


def _put(container: Any, key: str | int, value: Any) -> None:
    if isinstance(container, list) and isinstance(key, int) and key >= 0:
        container.extend([None] * (key + 1 - len(container)))
        container[key] = value
    else:
        container[str(key)] = value


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
