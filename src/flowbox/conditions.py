"""Conditions shared by the If, Filter and Switch nodes (DESIGN §5 "Condition ops").

A condition is `{"left", "op", "right"}`; left and right arrive already evaluated.
Comparing a number with a numeric string compares numbers.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from functools import lru_cache
from typing import Any

from flowbox.node import Param

OPS = ("equals", "notEquals", "gt", "gte", "lt", "lte", "contains", "notContains", "startsWith", "endsWith",
       "regex", "notRegex", "isEmpty", "isNotEmpty", "exists", "notExists", "isTrue", "isFalse")

UNARY = frozenset({"isEmpty", "isNotEmpty", "exists", "notExists", "isTrue", "isFalse"})


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return value
    if isinstance(value, str):
        try:
            return float(value.strip())
        except ValueError:
            return None
    return None


def _coerce(left: Any, right: Any) -> tuple[Any, Any]:
    """Numbers against numeric strings compare as numbers."""
    if isinstance(left, str) != isinstance(right, str):
        ln, rn = _number(left), _number(right)
        if ln is not None and rn is not None:
            return ln, rn
    return left, right


def _empty(value: Any) -> bool:
    return value is None or value == "" or (isinstance(value, (list, dict, tuple, set)) and not value)


def _truthy(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("true", "1", "yes", "on")
    return bool(value)


@lru_cache(maxsize=512)
def _regex(pattern: str) -> re.Pattern[str]:
    m = re.fullmatch(r"/(.*)/([imsx]*)", pattern, re.S)
    if m:
        flags = 0
        for ch in m.group(2):
            flags |= {"i": re.I, "m": re.M, "s": re.S, "x": re.X}[ch]
        return re.compile(m.group(1), flags)
    return re.compile(pattern)


def _compare(op: str) -> Callable[[Any, Any], bool]:
    import operator

    fn = {"gt": operator.gt, "gte": operator.ge, "lt": operator.lt, "lte": operator.le}[op]

    def compare(left: Any, right: Any) -> bool:
        left, right = _coerce(left, right)
        if left is None or right is None:
            return False
        try:
            return bool(fn(left, right))
        except TypeError:
            raise ValueError(f"cannot compare {left!r} and {right!r} with {op}") from None

    return compare


def _contains(left: Any, right: Any) -> bool:
    if left is None:
        return False
    if isinstance(left, (list, tuple, set)):
        return right in left
    if isinstance(left, dict):
        return right in left
    return str(right) in str(left)


def _equals(left: Any, right: Any) -> bool:
    left, right = _coerce(left, right)
    return bool(left == right)


_IMPL: dict[str, Callable[[Any, Any], bool]] = {
    "equals": _equals,
    "notEquals": lambda a, b: not _equals(a, b),
    "gt": _compare("gt"), "gte": _compare("gte"), "lt": _compare("lt"), "lte": _compare("lte"),
    "contains": _contains,
    "notContains": lambda a, b: not _contains(a, b),
    "startsWith": lambda a, b: a is not None and str(a).startswith(str(b)),
    "endsWith": lambda a, b: a is not None and str(a).endswith(str(b)),
    "regex": lambda a, b: a is not None and _regex(str(b)).search(str(a)) is not None,
    "notRegex": lambda a, b: a is None or _regex(str(b)).search(str(a)) is None,
    "isEmpty": lambda a, b: _empty(a),
    "isNotEmpty": lambda a, b: not _empty(a),
    "exists": lambda a, b: a is not None,
    "notExists": lambda a, b: a is None,
    "isTrue": lambda a, b: _truthy(a),
    "isFalse": lambda a, b: not _truthy(a),
}


def check(op: str, left: Any, right: Any = None) -> bool:
    """Apply condition `op` to already-evaluated operands."""
    try:
        fn = _IMPL[op]
    except KeyError:
        raise ValueError(f"unknown condition op {op!r}; use one of {', '.join(OPS)}") from None
    return fn(left, right)


def combine(rows: Iterable[Mapping[str, Any]], how: str = "and") -> bool:
    """All (`and`) or any (`or`) of evaluated condition rows hold."""
    results = (check(str(r.get("op") or "equals"), r.get("left"), r.get("right")) for r in rows)
    return all(results) if how != "or" else any(results)


CONDITION_ROW = (
    Param("left", "string", "", description="Value to test, usually an expression like {{ $json.status }}"),
    Param("op", "options", "equals", options=OPS),
    Param("right", "string", "", description="Value to compare with (not used by unary ops)"),
)

CONDITION_PARAMS = (
    Param("condition", "string", None, description="One expression that is true or false, e.g. "
          "{{ $json.total > 100 }}. Used when set; otherwise `conditions` are used."),
    Param("conditions", "list", [], fields=CONDITION_ROW, description="Rows of left / op / right"),
    Param("combine", "options", "and", options=("and", "or"), description="How the rows combine"),
)


def item_passes(ctx: Any, i: int) -> bool:
    """Evaluate an If/Filter node's condition(s) for input item i."""
    condition = ctx.param("condition", i)
    if condition is not None and condition != "":
        return _truthy(condition) if isinstance(condition, str) else bool(condition)
    rows = ctx.param("conditions", i) or []
    if isinstance(rows, dict):
        rows = [rows]
    return combine(rows, ctx.param("combine", i) or "and")
