"""The expression sandbox: what Python inside `{{ }}` may do, and how much of it (DESIGN §4).

`parse_expression` rewrites an expression before it is compiled:

- `$name` becomes the hidden name `_S_name` (`$("Node")` calls `_S_`);
- every attribute read `a.b` goes through `safe_attr`, which allows only public,
  non-mutating attributes of safe types (str, numbers, list, dict, datetime, ...)
  and our own proxies; on a dict, `.key` reads the key (a missing key gives None);
- every subscript `a[k]` goes through `safe_item` (a missing dict key gives None);
- `+ * ** << %` go through `safe_op`, which refuses results above the size limits
  before building them, so `'a' * 10**10` and `10 ** 10 ** 10` fail at once;
- `in` / `not in` go through `safe_in`, comprehensions through `collect`, `*x` through `bounded`;
- names starting with `_` (other than the rewritten ones), `str.format` and
  friends, and every builtin not listed are refused when the expression is parsed.

Bounded work. The watchdog (`flowbox.engine.watchdog`) stops an evaluation at its time
limit, but only between two bytecodes: a long C call (sorting a million strings, `pow`
with a huge modulus, `sum` of lists, which is quadratic) runs to its end first. So the
builtins here do their C-level work in chunks of `CHUNK` elements, with Python between the
chunks where the watchdog can stop them; sizes are capped (`MAX_LEN` characters,
`MAX_ITEMS` elements counted with repetition, so `[[0] * 1000] * 1000` counts a million,
`MAX_INT_BITS`), and arithmetic whose cost grows faster than its result (`pow(a, b, m)`)
is capped by its cost. Each C-level step then stays within a few tens of milliseconds.
"""

from __future__ import annotations

import ast
import datetime as dt
import heapq
import itertools
import json
import math
import operator
import re
from collections.abc import Callable, Iterable, Iterator
from functools import lru_cache, partial
from typing import Any

MAX_LEN = 10_000_000          # longest str/bytes an expression may build
MAX_ITEMS = 1_000_000         # most elements of a list/tuple/dict/set, nested ones counted with repetition
MAX_INT_BITS = 100_000        # largest int (about 30,000 digits)
MAX_RANGE = 10_000_000
MAX_POW_COST = 2048 * 2048 ** 1.6  # pow(a, b, m): bits(b) * bits(m) ** 1.6, about RSA-2048 (a few ms)
CHUNK = 50_000                # elements per C-level step
MAX_TEXT_ITEMS = 500_000      # most elements a value may hold to be turned into text in one C call
MAX_JSON_TEXT = 5_000_000     # longest text json_loads parses in one C call
MAX_ROUND_DIGITS = 1_000      # round(x, n): |n| (round(5, -10**9) would compute 10**10**9)


class SandboxViolation(Exception):
    """The expression tried something the sandbox does not allow."""


# ---------------------------------------------------------------- safe attribute table

_SAFE_TYPES: dict[type, frozenset[str]] = {}
_TEXT = frozenset({str, bytes})
_CONTAINERS = frozenset({list, tuple, dict, set, frozenset})


def allow_attributes(cls: type, names: set[str] | frozenset[str]) -> None:
    """Let expressions read these attributes of objects of `cls` (for our own proxies)."""
    _SAFE_TYPES[cls] = frozenset(names)


def _public(cls: type, drop: set[str] = frozenset()) -> frozenset[str]:  # type: ignore[assignment]
    return frozenset(n for n in dir(cls) if not n.startswith("_")) - drop


_MUTATORS = {"append", "extend", "insert", "pop", "remove", "clear", "update", "setdefault", "popitem",
             "sort", "reverse", "add", "discard", "difference_update", "intersection_update",
             "symmetric_difference_update"}
for _cls in (str, int, float, bool, list, tuple, dict, set, frozenset, bytes, complex):
    _SAFE_TYPES[_cls] = _public(_cls, _MUTATORS | {"format", "format_map", "to_bytes", "from_bytes",
                                                   "maketrans", "fromkeys", "fromhex"})
for _cls in (dt.datetime, dt.date, dt.time, dt.timedelta):
    _SAFE_TYPES[_cls] = _public(_cls, {"max", "min", "resolution"})
_SAFE_TYPES[type(None)] = frozenset()

_CLASS_ATTRS = {
    dt.datetime: {"now", "fromisoformat", "strptime", "fromtimestamp", "combine"},
    dt.date: {"today", "fromisoformat"},
}


def checked_len(value: Any) -> Any:
    """`value`, unless it is a str/bytes longer than MAX_LEN or a container of more than MAX_ITEMS elements."""
    cls = type(value)
    if cls in _TEXT:
        if len(value) > MAX_LEN:
            raise SandboxViolation(f"result too large ({len(value):,} > {MAX_LEN:,} characters)")
    elif cls in _CONTAINERS and len(value) > MAX_ITEMS:
        raise SandboxViolation(f"result too large ({len(value):,} > {MAX_ITEMS:,} elements)")
    return value


def _pad_guard(method: Callable[..., Any], width: Any, *args: Any) -> Any:
    if isinstance(width, int) and width > MAX_LEN:
        raise SandboxViolation(f"result too large (width {width:,} > {MAX_LEN:,})")
    return method(width, *args)


def _replace_guard(text: str, old: Any, new: Any, count: int = -1) -> str:
    if isinstance(old, str) and isinstance(new, str):
        hits = text.count(old) if old else len(text) + 1
        if count >= 0:
            hits = min(hits, count)
        if len(text) + hits * (len(new) - len(old)) > MAX_LEN:
            raise SandboxViolation("result too large (str.replace)")
    return text.replace(old, new, count)


def _join_guard(sep: str, parts: Any) -> str:
    parts = collect(list, parts)
    if sum(len(p) for p in parts if isinstance(p, str)) + len(sep) * len(parts) > MAX_LEN:
        raise SandboxViolation("result too large (str.join)")
    return sep.join(parts)


def _tabs_guard(text: str, tabsize: int = 8) -> str:
    if isinstance(tabsize, int) and text.count("\t") * max(tabsize, 0) > MAX_LEN:
        raise SandboxViolation("result too large (str.expandtabs)")
    return text.expandtabs(tabsize)


_WHITESPACE = " \t\n\r\x0b\x0c\x1c\x1d\x1e\x1f\x85\xa0\u2028\u2029"


def _split_guard(method: Callable[..., Any], text: str, sep: Any = None, maxsplit: int = -1) -> list[str]:
    if maxsplit < 0 or maxsplit > MAX_ITEMS:
        if isinstance(sep, str) and sep:
            parts = text.count(sep) + 1
        else:  # whitespace: at most one part per run of whitespace
            parts = sum(text.count(c) for c in _WHITESPACE) + 1 if len(text) > MAX_ITEMS else 0
        if parts > MAX_ITEMS:
            raise SandboxViolation(f"result too large (split into {parts:,} > {MAX_ITEMS:,} parts)")
    return method(sep, maxsplit)


def _splitlines_guard(text: str, keepends: bool = False) -> list[str]:
    if len(text) > MAX_ITEMS and sum(text.count(c) for c in "\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029") \
            > MAX_ITEMS:
        raise SandboxViolation(f"result too large (more than {MAX_ITEMS:,} lines)")
    return text.splitlines(keepends)


def _translate_guard(text: str, table: Any) -> str:
    if isinstance(table, dict):
        longest = max((len(v) for v in table.values() if isinstance(v, str)), default=1)
        if len(text) * longest > MAX_LEN:
            raise SandboxViolation("result too large (str.translate)")
    return text.translate(table)


def _strftime_guard(value: Any, fmt: str) -> str:
    return checked_len(value.strftime(fmt))


_GUARDED_STR = {
    "ljust": lambda s: partial(_pad_guard, s.ljust), "rjust": lambda s: partial(_pad_guard, s.rjust),
    "center": lambda s: partial(_pad_guard, s.center), "zfill": lambda s: partial(_pad_guard, s.zfill),
    "replace": lambda s: partial(_replace_guard, s), "join": lambda s: partial(_join_guard, s),
    "expandtabs": lambda s: partial(_tabs_guard, s), "translate": lambda s: partial(_translate_guard, s),
    "split": lambda s: partial(_split_guard, s.split, s), "rsplit": lambda s: partial(_split_guard, s.rsplit, s),
    "splitlines": lambda s: partial(_splitlines_guard, s),
}


def safe_attr(obj: Any, name: str) -> Any:
    """`obj.name` inside an expression."""
    cls = type(obj)
    if cls is dict:
        value = obj.get(name, _MISSING)
        if value is not _MISSING:
            return value
        if name in _SAFE_TYPES[dict]:
            return getattr(obj, name)
        if name in _MUTATORS and hasattr(dict, name):
            raise SandboxViolation(f"dict.{name} is not available in expressions (they cannot change data)")
        return None
    allowed = _SAFE_TYPES.get(cls)
    if allowed is None:
        for base, names in _SAFE_TYPES.items():
            if isinstance(obj, base) and base not in (bool, int) and name in names:
                allowed = names
                break
        else:
            if isinstance(obj, type) and name in _CLASS_ATTRS.get(obj, ()):
                return getattr(obj, name)
            raise SandboxViolation(f"attribute '{name}' of {cls.__name__} is not available in expressions")
    if name not in allowed:
        if name.startswith("_"):
            raise SandboxViolation(f"attribute '{name}' is not allowed (names starting with '_' are private)")
        if name in _MUTATORS:
            raise SandboxViolation(f"{cls.__name__}.{name} is not available in expressions (they cannot change data)")
        raise SandboxViolation(f"attribute '{name}' of {cls.__name__} is not available in expressions")
    if cls is str and name in _GUARDED_STR:
        return _GUARDED_STR[name](obj)
    if name == "strftime":
        return partial(_strftime_guard, obj)
    return getattr(obj, name)


_MISSING = object()


def safe_item(obj: Any, key: Any) -> Any:
    """`obj[key]` inside an expression; a missing dict key gives None."""
    if type(obj) is dict:
        return obj.get(key)
    getter = getattr(type(obj), "__getitem__", None)
    if getter is None:
        raise SandboxViolation(f"{type(obj).__name__} is not subscriptable")
    if type(obj) not in _SAFE_TYPES and not isinstance(obj, (list, tuple, str, dict)):
        raise SandboxViolation(f"indexing {type(obj).__name__} is not available in expressions")
    return obj[key]


_SEQ = (str, bytes, list, tuple)


def safe_op(op: str, a: Any, b: Any) -> Any:
    """Binary `+ * ** << %` with size checks made before the result is built."""
    ta, tb = type(a), type(b)
    if (ta is float and (tb is float or tb is int)) or (tb is float and ta is int):
        return _FLOAT_OPS[op](a, b)
    if op == "+":
        if isinstance(a, _SEQ) and isinstance(b, _SEQ):
            if ta in _TEXT and len(a) + len(b) > MAX_LEN:
                raise SandboxViolation(f"result too large ({len(a) + len(b):,} > {MAX_LEN:,} characters)")
            if ta not in _TEXT and weight(a) + weight(b) > MAX_ITEMS:
                raise SandboxViolation(f"result too large (more than {MAX_ITEMS:,} elements)")
        return a + b
    if op == "*":
        if ta is int and tb is int:
            if a.bit_length() + b.bit_length() > MAX_INT_BITS:
                raise SandboxViolation("integer result too large")
            return a * b
        seq, n = (a, b) if isinstance(b, int) else (b, a)
        if isinstance(seq, _SEQ) and isinstance(n, int) and n > 0:
            if type(seq) in _TEXT:
                if len(seq) * n > MAX_LEN:
                    raise SandboxViolation(f"result too large ({len(seq) * n:,} > {MAX_LEN:,} characters)")
            elif len(seq) * n > MAX_ITEMS or weight(seq) * n > MAX_ITEMS:
                raise SandboxViolation(f"result too large (more than {MAX_ITEMS:,} elements)")
        return a * b
    if op == "**":
        if isinstance(a, int) and isinstance(b, int) and b > 0 and abs(a) > 1 and (
                b > MAX_INT_BITS or b * math.log2(abs(a)) > MAX_INT_BITS):
            raise SandboxViolation(f"integer result too large ({a} ** {b})")
        return a ** b
    if op == "<<":
        if isinstance(a, int) and isinstance(b, int) and a.bit_length() + b > MAX_INT_BITS:
            raise SandboxViolation("integer result too large")
        return a << b
    if op == "%":
        if isinstance(a, (str, bytes)) and re.search(r"%[-+ #0]*(\*|\d{5,})|%[-+ #0]*\d*\.(\*|\d{5,})", str(a)):
            raise SandboxViolation("%-format width too large")
        return checked_len(a % b)
    raise SandboxViolation(f"operator {op} not supported")


_FLOAT_OPS = {"+": operator.add, "*": operator.mul, "**": operator.pow, "<<": operator.lshift, "%": operator.mod}


def safe_range(*args: Any) -> range:
    r = range(*args)
    if len(r) > MAX_RANGE:
        raise SandboxViolation(f"range too long ({len(r):,} > {MAX_RANGE:,})")
    return r


def safe_pow(a: Any, b: Any, mod: Any = None) -> Any:
    """`pow`; with a modulus its cost grows with bits(b) * bits(mod) ** 1.6, far faster than its result."""
    if mod is None:
        return safe_op("**", a, b)
    if isinstance(b, int) and isinstance(mod, int) and \
            abs(b).bit_length() * max(abs(mod).bit_length(), 1) ** 1.6 > MAX_POW_COST:
        raise SandboxViolation(f"pow() with a {abs(b).bit_length():,}-bit exponent and a "
                               f"{abs(mod).bit_length():,}-bit modulus would take too long")
    return pow(a, b, mod)


# ---------------------------------------------------------------- bounded work

def weight(value: Any, limit: int = MAX_ITEMS) -> int:
    """How many elements `value` holds, nested containers included and counted as often as they
    appear (so `[[0] * 1000] * 1000` weighs a million); counting stops past `limit`.

    Each distinct container is looked at once, so a deeply shared structure costs little to weigh."""
    seen: dict[int, int] = {}

    def walk(v: Any) -> int:
        if type(v) not in _CONTAINERS:
            return 0
        known = seen.get(id(v))
        if known is not None:
            return known
        seen[id(v)] = 0  # a container inside itself (cannot be built here, but be safe)
        children = v.items() if type(v) is dict else v
        total = len(v)
        for child in children:
            if type(v) is dict:
                total += walk(child[1])
            elif type(child) in _CONTAINERS:
                total += walk(child)
            if total > limit:
                break
        seen[id(v)] = total
        return total

    return walk(value)


def bounded(iterable: Any) -> Any:
    """`iterable`, or an iterator over it that refuses to go past MAX_ITEMS elements (for `*x`)."""
    if type(iterable) in _CONTAINERS or type(iterable) in _TEXT:
        return iterable
    return _counted(iter(iterable))


def _counted(it: Iterator[Any]) -> Iterator[Any]:
    for n, value in enumerate(it, 1):
        if n > MAX_ITEMS:
            raise SandboxViolation(f"too many elements (more than {MAX_ITEMS:,})")
        yield value


def _chunks(iterable: Iterable[Any], limit: int | None = MAX_ITEMS) -> Iterator[list[Any]]:
    """Lists of up to CHUNK elements, each taken in one short C call; past `limit` elements in all
    (None: no limit, for what keeps no element, like `sum`) SandboxViolation."""
    if type(iterable) is dict:
        iterable = iterable.keys()
    if isinstance(iterable, (list, tuple, str, bytes, range)):
        if limit is not None and len(iterable) > limit:
            raise SandboxViolation(f"too many elements ({len(iterable):,} > {limit:,})")
        for start in range(0, len(iterable), CHUNK):
            yield list(iterable[start:start + CHUNK])
        return
    it, total = iter(iterable), 0
    while chunk := list(itertools.islice(it, CHUNK)):
        total += len(chunk)
        if limit is not None and total > limit:
            raise SandboxViolation(f"too many elements (more than {limit:,})")
        yield chunk


def collect(kind: type, iterable: Any = ()) -> Any:
    """`kind(iterable)` for list, tuple, set, frozenset and dict, built chunk by chunk."""
    if type(iterable) in _CONTAINERS and len(iterable) <= CHUNK:
        return kind(iterable)
    if kind is dict:
        out: Any = {}
        source = iterable.items() if isinstance(iterable, dict) else iterable
        for chunk in _chunks(source):
            out.update(chunk)
        return out
    grow: Any = set() if kind in (set, frozenset) else []
    add = grow.update if kind in (set, frozenset) else grow.extend
    for chunk in _chunks(iterable):
        add(chunk)
    return grow if kind in (list, set) else kind(grow)


_KINDS: dict[str, type] = {"list": list, "set": set, "dict": dict}


def collect_named(kind: str, iterable: Any) -> Any:
    """What a comprehension compiles to: `collect` of the kind it builds."""
    return collect(_KINDS[kind], iterable)


def _dict(iterable: Any = (), **kwargs: Any) -> dict[Any, Any]:
    out = collect(dict, iterable)
    out.update(kwargs)
    return checked_len(out)


def _sorted(iterable: Any, *, key: Callable[[Any], Any] | None = None, reverse: bool = False) -> list[Any]:
    """`sorted`: runs of CHUNK sorted in C, merged in Python (where the watchdog can stop it)."""
    items = collect(list, iterable)
    if len(items) <= CHUNK:
        return sorted(items, key=key, reverse=reverse)
    runs = [sorted(items[i:i + CHUNK], key=key, reverse=reverse) for i in range(0, len(items), CHUNK)]
    return list(_counted(heapq.merge(*runs, key=key, reverse=reverse)))


def _sum(iterable: Any, start: Any = 0) -> Any:
    """`sum`; lists and tuples are joined in one pass (the builtin copies the total at every step)."""
    if isinstance(start, (list, tuple)):
        out = list(start)
        for part in bounded(iterable):
            if not isinstance(part, (list, tuple)):
                raise TypeError(f"can only concatenate list (not \"{type(part).__name__}\") to list")
            out.extend(part)
            if len(out) > MAX_ITEMS:
                raise SandboxViolation(f"result too large (more than {MAX_ITEMS:,} elements)")
        return out if isinstance(start, list) else tuple(out)
    total = start
    for chunk in _chunks(iterable, None):
        total = sum(chunk, total)
    return total


def _extreme(pick: Callable[..., Any]) -> Callable[..., Any]:
    """`min` / `max` over chunks (with a key the key's own calls are where the watchdog steps in)."""

    def extreme(*args: Any, **kwargs: Any) -> Any:
        if len(args) != 1 or "key" in kwargs:
            return pick(*(bounded(a) for a in args), **kwargs)
        picks = [pick(chunk) for chunk in _chunks(args[0], None)]
        if not picks:
            if "default" in kwargs:
                return kwargs["default"]
            raise ValueError(f"{pick.__name__}() arg is an empty sequence")
        return pick(picks)

    return extreme


def _any_all(pick: Callable[[Iterable[Any]], bool], stop: bool) -> Callable[[Any], bool]:
    def check(iterable: Any) -> bool:
        for chunk in _chunks(iterable, None):
            if pick(chunk) is stop:
                return stop
        return not stop

    return check


def safe_in(item: Any, container: Any) -> bool:
    """`item in container`: a lazy iterator is searched chunk by chunk."""
    if type(container) in _CONTAINERS or type(container) in _TEXT or not hasattr(container, "__next__"):
        return item in container
    return any(item in chunk for chunk in _chunks(container, None))


def textable(value: Any) -> Any:
    """`value`, unless it holds more than MAX_TEXT_ITEMS elements: too many to turn into text in one C call
    (str, repr, json_dumps, f-strings and templates all check)."""
    if type(value) in _CONTAINERS and weight(value, MAX_TEXT_ITEMS) > MAX_TEXT_ITEMS:
        raise SandboxViolation(f"too large to turn into text (more than {MAX_TEXT_ITEMS:,} elements)")
    return value


def _text_of(convert: Callable[..., str]) -> Callable[..., str]:
    def text(value: Any = "", *args: Any, **kwargs: Any) -> str:
        return checked_len(convert(textable(value), *args, **kwargs))

    return text


def _json_loads(text: Any, **kwargs: Any) -> Any:
    if isinstance(text, (str, bytes)) and len(text) > MAX_JSON_TEXT:
        raise SandboxViolation(f"json_loads of {len(text):,} characters (more than {MAX_JSON_TEXT:,})")
    return json.loads(text, **kwargs)


def _round(number: Any, ndigits: Any = None) -> Any:
    if isinstance(ndigits, int) and abs(ndigits) > MAX_ROUND_DIGITS:
        raise SandboxViolation(f"round() to {ndigits:,} digits (at most {MAX_ROUND_DIGITS:,})")
    return round(number) if ndigits is None else round(number, ndigits)


SAFE_BUILTINS: dict[str, Any] = {
    "len": len, "str": _text_of(str), "int": int, "float": float, "bool": bool, "round": _round,
    "min": _extreme(min), "max": _extreme(max), "sum": _sum, "sorted": _sorted, "abs": abs,
    "any": _any_all(any, True), "all": _any_all(all, False), "range": safe_range,
    "enumerate": enumerate, "zip": zip, "list": partial(collect, list), "dict": _dict,
    "set": partial(collect, set), "tuple": partial(collect, tuple), "frozenset": partial(collect, frozenset),
    "reversed": reversed, "map": map, "filter": filter, "isinstance": isinstance, "divmod": divmod,
    "chr": chr, "ord": ord, "pow": safe_pow, "hex": hex, "bin": bin, "oct": oct, "repr": _text_of(repr),
    "True": True, "False": False, "None": None,
    "datetime": dt.datetime, "date": dt.date, "timedelta": dt.timedelta,
    "json_dumps": _text_of(lambda v, **kw: json.dumps(v, default=str, **kw)), "json_loads": _json_loads,
    "null": None, "true": True, "false": False,
}


# ---------------------------------------------------------------- parsing

_DOLLAR = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)?")
_ALLOWED_NODES = (
    ast.Expression, ast.BoolOp, ast.BinOp, ast.UnaryOp, ast.Lambda, ast.IfExp, ast.Dict, ast.Set,
    ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp, ast.Compare, ast.Call, ast.FormattedValue,
    ast.JoinedStr, ast.Constant, ast.Attribute, ast.Subscript, ast.Starred, ast.Name, ast.List, ast.Tuple,
    ast.Slice, ast.Load, ast.Store, ast.And, ast.Or, ast.Add, ast.Sub, ast.Mult, ast.Div, ast.Mod,
    ast.Pow, ast.LShift, ast.RShift, ast.BitOr, ast.BitXor, ast.BitAnd, ast.FloorDiv, ast.MatMult,
    ast.Invert, ast.Not, ast.UAdd, ast.USub, ast.Eq, ast.NotEq, ast.Lt, ast.LtE, ast.Gt, ast.GtE, ast.Is,
    ast.IsNot, ast.In, ast.NotIn, ast.comprehension, ast.arguments, ast.arg, ast.keyword, ast.NamedExpr,
)
_OPS = {ast.Add: "+", ast.Mult: "*", ast.Pow: "**", ast.LShift: "<<", ast.Mod: "%"}
_HIDDEN = ("_S_",)


def rewrite_dollars(source: str) -> str:
    """Replace `$name` with `_S_name` (and a bare `$` with `_S_`) outside string literals."""
    out: list[str] = []
    i, n = 0, len(source)
    while i < n:
        ch = source[i]
        if ch in "'\"":
            prefix_start = len(out)
            # an f-string's prefix is already in `out`; find it to decide whether to rewrite inside
            j = prefix_start - 1
            prefix = ""
            while j >= 0 and out[j].isalpha() and len(prefix) < 2:
                prefix = out[j] + prefix
                j -= 1
            quote = source[i:i + 3] if source[i:i + 3] in ("'''", '"""') else ch
            end = i + len(quote)
            while end < n and not source.startswith(quote, end):
                end += 2 if source[end] == "\\" else 1
            literal = source[i:end + len(quote)]
            out.append(_DOLLAR.sub(_dollar_name, literal) if "f" in prefix.lower() else literal)
            i = end + len(quote)
        elif ch == "$":
            m = _DOLLAR.match(source, i)
            out.append(_dollar_name(m))  # type: ignore[arg-type]
            i = m.end()  # type: ignore[union-attr]
        else:
            out.append(ch)
            i += 1
    return "".join(out)


def _dollar_name(m: re.Match[str]) -> str:
    return f"_S_{m.group(1) or ''}"


class _Rewriter(ast.NodeTransformer):
    """Check every node against the allow-list and route attribute, item and size-risky ops through guards."""

    def generic_visit(self, node: ast.AST) -> ast.AST:
        if not isinstance(node, _ALLOWED_NODES):
            raise SandboxViolation(f"{type(node).__name__} is not allowed in expressions")
        return super().generic_visit(node)

    def visit_Name(self, node: ast.Name) -> ast.AST:
        if node.id.startswith("_") and node.id != "_" and not node.id.startswith(_HIDDEN):
            raise SandboxViolation(f"name '{node.id}' is not allowed (names starting with '_' are private)")
        return node

    def visit_NamedExpr(self, node: ast.NamedExpr) -> ast.AST:
        if node.target.id.startswith("_"):
            raise SandboxViolation(f"cannot assign to '{node.target.id.replace('_S_', '$')}'")
        node.value = self.visit(node.value)
        return node

    def visit_arg(self, node: ast.arg) -> ast.AST:
        if node.arg.startswith("_") and node.arg != "_":
            raise SandboxViolation(f"name '{node.arg}' is not allowed (names starting with '_' are private)")
        return node

    def visit_Attribute(self, node: ast.Attribute) -> ast.AST:
        if node.attr.startswith("_"):
            raise SandboxViolation(f"attribute '{node.attr}' is not allowed (names starting with '_' are private)")
        if node.attr in ("format", "format_map"):
            raise SandboxViolation(f"str.{node.attr} is not available in expressions; use an f-string or +")
        if not isinstance(node.ctx, ast.Load):
            raise SandboxViolation("assigning attributes is not allowed")
        if isinstance(node.value, ast.Name) and node.value.id == "_S_json" and not hasattr(dict, node.attr):
            # $json is always a dict: `$json.key` is `$json.get("key")` (the hot path of most workflows)
            return ast.copy_location(ast.Call(ast.Attribute(node.value, "get", ast.Load()),
                                              [ast.Constant(node.attr)], []), node)
        value = self.visit(node.value)
        return ast.copy_location(
            ast.Call(ast.Name("_G_attr", ast.Load()), [value, ast.Constant(node.attr)], []), node)

    def visit_Subscript(self, node: ast.Subscript) -> ast.AST:
        if not isinstance(node.ctx, ast.Load):
            raise SandboxViolation("assigning items is not allowed")
        value = self.visit(node.value)
        if isinstance(node.slice, ast.Slice):
            node.value = value
            node.slice = self.visit(node.slice)
            return node
        key = self.visit(node.slice)
        return ast.copy_location(ast.Call(ast.Name("_G_item", ast.Load()), [value, key], []), node)

    def visit_BinOp(self, node: ast.BinOp) -> ast.AST:
        left, right = self.visit(node.left), self.visit(node.right)
        op = _OPS.get(type(node.op))
        if op is None:
            node.left, node.right = left, right
            return self.generic_visit_op(node)
        return ast.copy_location(
            ast.Call(ast.Name("_G_op", ast.Load()), [ast.Constant(op), left, right], []), node)

    def generic_visit_op(self, node: ast.BinOp) -> ast.AST:
        if not isinstance(node.op, _ALLOWED_NODES):
            raise SandboxViolation(f"operator {type(node.op).__name__} is not allowed")
        return node

    def _collected(self, node: ast.expr, kind: str, elt: ast.expr, generators: list[ast.comprehension]) -> ast.AST:
        """A comprehension built through `collect`, so its size is capped as it grows."""
        gen = ast.GeneratorExp(elt, generators)
        self.generic_visit(gen)
        return ast.copy_location(ast.Call(ast.Name("_G_collect", ast.Load()), [ast.Constant(kind), gen], []), node)

    def visit_ListComp(self, node: ast.ListComp) -> ast.AST:
        return self._collected(node, "list", node.elt, node.generators)

    def visit_SetComp(self, node: ast.SetComp) -> ast.AST:
        return self._collected(node, "set", node.elt, node.generators)

    def visit_DictComp(self, node: ast.DictComp) -> ast.AST:
        return self._collected(node, "dict", ast.Tuple([node.key, node.value], ast.Load()), node.generators)

    def visit_Compare(self, node: ast.Compare) -> ast.AST:
        self.generic_visit(node)
        if not any(isinstance(op, (ast.In, ast.NotIn)) for op in node.ops):
            return node
        if len(node.ops) > 1:
            raise SandboxViolation("a chained comparison with 'in' is not allowed; join the parts with 'and'")
        test = ast.Call(ast.Name("_G_in", ast.Load()), [node.left, node.comparators[0]], [])
        if isinstance(node.ops[0], ast.NotIn):
            test = ast.UnaryOp(ast.Not(), test)
        return ast.copy_location(test, node)

    def visit_Starred(self, node: ast.Starred) -> ast.AST:
        self.generic_visit(node)
        node.value = ast.copy_location(ast.Call(ast.Name("_G_bounded", ast.Load()), [node.value], []), node.value)
        return node

    def visit_FormattedValue(self, node: ast.FormattedValue) -> ast.AST:
        if node.format_spec is not None:
            spec = node.format_spec
            if not (isinstance(spec, ast.JoinedStr) and all(isinstance(v, ast.Constant) for v in spec.values)):
                raise SandboxViolation("computed format specs are not allowed in f-strings")
            text = "".join(str(v.value) for v in spec.values)  # type: ignore[attr-defined]
            if any(len(d) > 4 for d in re.findall(r"\d+", text)):
                raise SandboxViolation(f"format spec {text!r} is too wide")
        node.value = ast.copy_location(ast.Call(ast.Name("_G_textable", ast.Load()), [self.visit(node.value)], []),
                                       node.value)
        return node


def parse_expression(source: str) -> ast.expr:
    """Parse and check the inside of one `{{ }}` into a rewritten AST; raises SandboxViolation or SyntaxError."""
    text = rewrite_dollars(source.strip())
    if not text:
        raise SyntaxError("empty expression")
    tree = ast.parse(text, mode="eval")
    return _Rewriter().visit(tree).body


@lru_cache(maxsize=4096)
def compile_expression(source: str) -> Any:
    """Parse, check and compile the inside of one `{{ }}` on its own."""
    tree = ast.Expression(parse_expression(source))
    return compile(ast.fix_missing_locations(tree), "<expression>", "eval")



GUARDS: dict[str, Any] = {"_G_attr": safe_attr, "_G_item": safe_item, "_G_op": safe_op, "_G_in": safe_in,
                          "_G_collect": collect_named, "_G_bounded": bounded, "_G_textable": textable}
"""The hidden names rewritten expressions call (see `parse_expression`)."""
