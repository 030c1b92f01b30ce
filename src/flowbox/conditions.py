"""Conditions shared by the If, Filter and Switch nodes (DESIGN §5 "Condition ops").

A condition is `{"left", "op", "right"}`; left and right arrive already evaluated.
Comparing a number with a numeric string compares numbers.

`regex` / `notRegex` match with the `regex` module under a time limit (REGEX_TIMEOUT per
match): a webhook caller controls the text, and a backtracking pattern such as `^(a|aa)+$`
on 40 a's and a `!` would otherwise hold the server for minutes. A pattern is Python's
syntax, which covers JavaScript's (named groups `(?<name>...)`, lookbehind), or `/.../flags`
with flags i, m, s, x (g and u are accepted and change nothing for a test).
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable, Mapping
from functools import lru_cache
from typing import Any

import regex

from flowbox.node import Param

OPS = ("equals", "notEquals", "gt", "gte", "lt", "lte", "contains", "notContains", "startsWith", "endsWith",
       "notStartsWith", "notEndsWith", "regex", "notRegex", "isEmpty", "isNotEmpty", "exists", "notExists", "isTrue", "isFalse")

UNARY = frozenset({"isEmpty", "isNotEmpty", "exists", "notExists", "isTrue", "isFalse"})
REGEX_TIMEOUT = float(os.environ.get("FLOWBOX_REGEX_TIMEOUT", "0.2"))  # seconds per match


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
def _regex(pattern: str) -> regex.Pattern[str]:
    m = re.fullmatch(r"/(.*)/([gimsux]*)", pattern, re.S)
    source, flags = (m.group(1), m.group(2)) if m else (pattern, "")
    bits = regex.V0
    for ch in flags:
        bits |= {"i": regex.I, "m": regex.M, "s": regex.S, "x": regex.X}.get(ch, 0)
    try:
        return regex.compile(source, bits)
    except regex.error as exc:
        raise ValueError(f"invalid regex {pattern!r}: {exc}") from None


def _search(pattern: Any, text: Any) -> bool:
    """Whether `pattern` matches somewhere in `text`, deciding within REGEX_TIMEOUT."""
    value = str(text)
    try:
        return _regex(str(pattern)).search(value, timeout=REGEX_TIMEOUT) is not None
    except TimeoutError:
        raise ValueError(f"regex {str(pattern)!r} took longer than {REGEX_TIMEOUT:g} s on a "
                         f"{len(value):,}-character value (it backtracks too much: simplify it)") from None


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
    "notStartsWith": lambda a, b: a is None or not str(a).startswith(str(b)),
    "notEndsWith": lambda a, b: a is None or not str(a).endswith(str(b)),
    "regex": lambda a, b: a is not None and _search(b, a),
    "notRegex": lambda a, b: a is None or not _search(b, a),
    "isEmpty": lambda a, b: _empty(a),
    "isNotEmpty": lambda a, b: not _empty(a),
    "exists": lambda a, b: a is not None,
    "notExists": lambda a, b: a is None,
    "isTrue": lambda a, b: _truthy(a),
    "isFalse": lambda a, b: not _truthy(a),
}


def _date(value: Any) -> Any:
    """A date operand as an aware datetime: a datetime, ISO 8601 text, or epoch seconds / milliseconds;
    anything else as it is (so the comparison fails naming it)."""
    import datetime as dt

    if isinstance(value, dt.datetime):
        moment = value
    elif isinstance(value, dt.date):
        moment = dt.datetime(value.year, value.month, value.day)
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        moment = dt.datetime.fromtimestamp(value / 1000 if abs(value) >= 1e11 else value, dt.UTC)
    elif isinstance(value, str) and value.strip():
        try:
            moment = dt.datetime.fromisoformat(value.strip())
        except ValueError:
            raise ValueError(f"{value!r} is not a date (use ISO 8601, e.g. 2024-05-31T14:30:00Z)") from None
    else:
        return value
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=dt.UTC)


def check(op: str, left: Any, right: Any = None, *, kind: str = "", ignore_case: bool = False) -> bool:
    """Apply condition `op` to already-evaluated operands; `kind` "dateTime" compares them as dates,
    `ignore_case` compares text case-insensitively."""
    try:
        fn = _IMPL[op]
    except KeyError:
        raise ValueError(f"unknown condition op {op!r}; use one of {', '.join(OPS)}") from None
    if kind == "dateTime" and op not in UNARY:
        left, right = _date(left), _date(right)
    elif ignore_case and op in ("regex", "notRegex") and isinstance(right, str):
        m = re.fullmatch(r"/(.*)/([gimsux]*)", right, re.S)
        right = f"/{m.group(1)}/{m.group(2)}i" if m else f"/{right}/i"
    elif ignore_case and isinstance(left, str) and isinstance(right, str):
        left, right = left.lower(), right.lower()
    return fn(left, right)


def combine(rows: Iterable[Mapping[str, Any]], how: str = "and") -> bool:
    """All (`and`) or any (`or`) of evaluated condition rows hold."""
    results = (check(str(r.get("op") or "equals"), r.get("left"), r.get("right"), kind=str(r.get("type") or ""),
                     ignore_case=bool(r.get("ignoreCase"))) for r in rows)
    return all(results) if how != "or" else any(results)


CONDITION_ROW = (
    Param("left", "string", "", description="Value to test, usually an expression like {{ $json.status }}"),
    Param("op", "options", "equals", options=OPS),
    Param("right", "string", "", description="Value to compare with (not used by unary ops)"),
    Param("type", "options", "", options=("", "dateTime"),
          description="dateTime: compare both sides as dates (ISO 8601 text, epoch seconds or milliseconds)"),
    Param("ignoreCase", "boolean", False, description="Compare text case-insensitively"),
)

CONDITION_PARAMS = (
    Param("condition", "boolean", None, description="One expression that is true or false, e.g. "
          "{{ $json.total > 100 }}. Used when set; otherwise `conditions` are used."),
    Param("conditions", "list", [], fields=CONDITION_ROW, description="Rows of left / op / right"),
    Param("combine", "options", "and", options=("and", "or"), description="How the rows combine"),
)


def item_passes(ctx: Any, i: int) -> bool:
    """Evaluate an If/Filter node's condition(s) for input item i."""
    if ctx.raw_param("condition") not in (None, ""):
        return bool(ctx.param("condition", i))
    rows = ctx.param("conditions", i) or []
    if isinstance(rows, dict):
        rows = [rows]
    return combine(rows, ctx.param("combine", i) or "and")
