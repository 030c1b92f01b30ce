"""`{{ ... }}` expressions: Python in a sandbox (DESIGN §4).

A template is parsed once (`compile_value`) and evaluated per item. Inside the
braces is a Python *expression* rewritten before it runs:

- `$name` becomes the hidden name `_S_name` (`$("Node")` calls `_S_`);
- every attribute read `a.b` goes through `_G_attr`, which allows only public,
  non-mutating attributes of safe types (str, numbers, list, dict, datetime, ...)
  and our own proxies; on a dict, `.key` reads the key (a missing key gives None);
- every subscript `a[k]` goes through `_G_item` (a missing dict key gives None);
- `+ * ** << %` go through `_G_op`, which refuses results above the size limits
  before building them, so `'a' * 10**10` and `10 ** 10 ** 10` fail at once;
- names starting with `_` (other than the rewritten ones), `str.format` and
  friends, and every builtin not listed are refused when the expression is parsed.

Time is bounded by a watchdog thread that raises `ExpressionTimeout` inside an
evaluation that runs past its deadline.
"""

from __future__ import annotations

import ast
import ctypes
import datetime as dt
import json
import math
import operator
import os
import re
import threading
import time
from collections.abc import Callable
from functools import lru_cache, partial
from typing import Any

from flowbox.errors import ExpressionError

MAX_LEN = 10_000_000          # longest str/list/bytes an expression may build
MAX_INT_BITS = 100_000        # largest int (about 30,000 digits)
MAX_RANGE = 10_000_000
TIMEOUT = float(os.environ.get("FLOWBOX_EXPRESSION_TIMEOUT", "2"))


class ExpressionTimeout(Exception):
    """Raised inside an evaluation that ran past its deadline (by the watchdog)."""


class SandboxViolation(Exception):
    """The expression tried something the sandbox does not allow."""


# ---------------------------------------------------------------- safe attribute table

_SAFE_TYPES: dict[type, frozenset[str]] = {}
_SIZED = frozenset({str, bytes, list, tuple})


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


def _checked_len(value: Any) -> Any:
    if type(value) in _SIZED and len(value) > MAX_LEN:
        raise SandboxViolation(f"result too large ({len(value):,} > {MAX_LEN:,} elements)")
    return value


def _sized(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    return _checked_len(fn(*args, **kwargs))


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
    parts = list(parts)
    _checked_len(parts)
    if sum(len(p) for p in parts if isinstance(p, str)) + len(sep) * len(parts) > MAX_LEN:
        raise SandboxViolation("result too large (str.join)")
    return sep.join(parts)


def _tabs_guard(text: str, tabsize: int = 8) -> str:
    if isinstance(tabsize, int) and text.count("\t") * max(tabsize, 0) > MAX_LEN:
        raise SandboxViolation("result too large (str.expandtabs)")
    return text.expandtabs(tabsize)


def _strftime_guard(value: Any, fmt: str) -> str:
    return _checked_len(value.strftime(fmt))


_GUARDED_STR = {
    "ljust": lambda s: partial(_pad_guard, s.ljust), "rjust": lambda s: partial(_pad_guard, s.rjust),
    "center": lambda s: partial(_pad_guard, s.center), "zfill": lambda s: partial(_pad_guard, s.zfill),
    "replace": lambda s: partial(_replace_guard, s), "join": lambda s: partial(_join_guard, s),
    "expandtabs": lambda s: partial(_tabs_guard, s),
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
        if isinstance(a, _SEQ) and isinstance(b, _SEQ) and len(a) + len(b) > MAX_LEN:
            raise SandboxViolation(f"result too large ({len(a) + len(b):,} > {MAX_LEN:,} elements)")
        return a + b
    if op == "*":
        if ta is int and tb is int:
            if a.bit_length() + b.bit_length() > MAX_INT_BITS:
                raise SandboxViolation("integer result too large")
            return a * b
        seq, n = (a, b) if isinstance(b, int) else (b, a)
        if isinstance(seq, _SEQ) and isinstance(n, int) and len(seq) * n > MAX_LEN:
            raise SandboxViolation(f"result too large ({len(seq) * n:,} > {MAX_LEN:,} elements)")
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
        return _checked_len(a % b)
    raise SandboxViolation(f"operator {op} not supported")


_FLOAT_OPS = {"+": operator.add, "*": operator.mul, "**": operator.pow, "<<": operator.lshift, "%": operator.mod}


def safe_range(*args: Any) -> range:
    r = range(*args)
    if len(r) > MAX_RANGE:
        raise SandboxViolation(f"range too long ({len(r):,} > {MAX_RANGE:,})")
    return r


def safe_pow(a: Any, b: Any, mod: Any = None) -> Any:
    return safe_op("**", a, b) if mod is None else pow(a, b, mod)


SAFE_BUILTINS: dict[str, Any] = {
    "len": len, "str": str, "int": int, "float": float, "bool": bool, "round": round, "min": min, "max": max,
    "sum": sum, "sorted": sorted, "abs": abs, "any": any, "all": all, "range": safe_range,
    "enumerate": enumerate, "zip": zip, "list": list, "dict": dict, "set": set, "tuple": tuple,
    "reversed": reversed, "map": map, "filter": filter, "isinstance": isinstance, "divmod": divmod,
    "chr": chr, "ord": ord, "pow": safe_pow, "hex": hex, "bin": bin, "oct": oct,
    "True": True, "False": False, "None": None,
    "datetime": dt.datetime, "date": dt.date, "timedelta": dt.timedelta,
    "json_dumps": lambda v, **kw: _checked_len(json.dumps(v, default=str, **kw)), "json_loads": json.loads,
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

    def visit_FormattedValue(self, node: ast.FormattedValue) -> ast.AST:
        if node.format_spec is not None:
            spec = node.format_spec
            if not (isinstance(spec, ast.JoinedStr) and all(isinstance(v, ast.Constant) for v in spec.values)):
                raise SandboxViolation("computed format specs are not allowed in f-strings")
            text = "".join(str(v.value) for v in spec.values)  # type: ignore[attr-defined]
            if any(len(d) > 4 for d in re.findall(r"\d+", text)):
                raise SandboxViolation(f"format spec {text!r} is too wide")
        node.value = self.visit(node.value)
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


# ---------------------------------------------------------------- time limit

class _Slot:
    """Per-thread evaluation state the watchdog samples: a counter and an 'active' flag."""

    __slots__ = ("seq", "active", "firing", "fired", "tid", "timeout")

    def __init__(self, tid: int) -> None:
        self.seq = 0
        self.active = False
        self.firing = False
        self.fired = False
        self.tid = tid
        self.timeout = TIMEOUT


class _Watchdog:
    """One daemon thread that interrupts an evaluation running past its time limit.

    Evaluations only bump a counter and set a flag (no clock, no lock: this is the hot
    path). Every 50 ms the watchdog samples each thread; an evaluation seen active with
    the same counter for longer than its limit gets `ExpressionTimeout` raised inside it.
    The `firing` handshake under `lock` makes sure an interrupt never lands after the
    evaluation has returned.
    """

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.slots: dict[int, _Slot] = {}
        self.local = threading.local()
        self.thread: threading.Thread | None = None

    def slot(self) -> _Slot:
        try:
            return self.local.slot
        except AttributeError:
            slot = self.local.slot = _Slot(threading.get_ident())
            with self.lock:
                self.slots[slot.tid] = slot
                if self.thread is None:
                    self.thread = threading.Thread(target=self._loop, name="flowbox-expr-watchdog", daemon=True)
                    self.thread.start()
            return slot

    def finish(self, slot: _Slot) -> bool:
        """Slow path after an evaluation the watchdog looked at; True when it interrupted it.

        Cancels an interrupt that is still pending, so it cannot land in later code.
        """
        with self.lock:
            fired = slot.fired
            slot.fired = False
            if fired:
                ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(slot.tid), None)
            return fired

    def _loop(self) -> None:
        seen: dict[int, tuple[int, float]] = {}
        while True:
            time.sleep(0.05)
            now = time.monotonic()
            for slot in list(self.slots.values()):
                if not slot.active:
                    seen.pop(slot.tid, None)
                    continue
                seq, since = seen.get(slot.tid, (-1, now))
                if seq != slot.seq:
                    seen[slot.tid] = (slot.seq, now)
                    continue
                if now - since < slot.timeout:
                    continue
                with self.lock:
                    slot.firing = True
                    if slot.active and slot.seq == seq and not slot.fired:
                        slot.fired = True
                        ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(slot.tid),
                                                                   ctypes.py_object(ExpressionTimeout))
                    slot.firing = False
                seen.pop(slot.tid, None)


_watchdog = _Watchdog()


def evaluate(code: Any, namespace: dict[str, Any], timeout: float = TIMEOUT) -> Any:
    """Run compiled expression `code` in `namespace` under the time limit.

    Hot path: a counter and a flag; the lock is only taken when the watchdog acted.
    """
    slot = _watchdog.slot()
    if slot.fired:
        _watchdog.finish(slot)  # left over from an interrupt that landed outside this function
    slot.timeout = timeout
    slot.seq += 1
    slot.active = True
    try:
        try:
            result = eval(code, namespace)  # noqa: S307 - checked and rewritten by compile_expression
        finally:
            slot.active = False
        if (slot.firing or slot.fired) and _watchdog.finish(slot):
            raise ExpressionTimeout
    except ExpressionTimeout:
        _watchdog.finish(slot)
        raise ExpressionTimeout(f"expression ran longer than {timeout:g} s") from None
    return _checked_len(result)


def base_namespace() -> dict[str, Any]:
    """A fresh globals dict with the guards and safe builtins; callers add the `$` names."""
    return {"__builtins__": SAFE_BUILTINS, "_G_attr": safe_attr, "_G_item": safe_item, "_G_op": safe_op,
            "_G_text": _text}


# ---------------------------------------------------------------- templates

def split_template(text: str) -> list[str | tuple[str]]:
    """Split a template into literal strings and `(expression,)` parts.

    An expression ends at the first `}}` after which the inside parses, so dict
    literals like `{{ {'a': {'b': 1}} }}` work.
    """
    parts: list[str | tuple[str]] = []
    pos = 0
    while True:
        start = text.find("{{", pos)
        if start < 0:
            break
        end = text.find("}}", start + 2)
        if end < 0:
            break
        chosen = end
        probe = end
        while probe >= 0:
            inner = text[start + 2:probe]
            try:
                ast.parse(rewrite_dollars(inner.strip()) or "None", mode="eval")
                chosen = probe
                break
            except SyntaxError:
                probe = text.find("}}", probe + 1)
        while text.startswith("}", chosen + 2) and chosen + 2 < len(text):
            # `{{ {'a': 1}}}`: the expression's own brace sits just before the closing pair
            inner = text[start + 2:chosen + 1]
            try:
                ast.parse(rewrite_dollars(inner.strip()) or "None", mode="eval")
            except SyntaxError:
                break
            chosen += 1
        if start > pos:
            parts.append(text[pos:start])
        parts.append((text[start + 2:chosen],))
        pos = chosen + 2
    if pos < len(text):
        parts.append(text[pos:])
    return parts


def to_text(value: Any) -> str:
    """How an expression's value is inserted into surrounding text."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list, tuple)):
        return json.dumps(value, default=str, ensure_ascii=False)
    if isinstance(value, (dt.datetime, dt.date, dt.time)):
        return value.isoformat()
    return str(value)


class Value:
    """A parameter value compiled once: constants stay as they are, templates evaluate per item."""

    __slots__ = ("const", "fn")

    def __init__(self, const: Any = None, fn: Callable[[dict[str, Any]], Any] | None = None) -> None:
        self.const = const
        self.fn = fn

    def get(self, namespace: dict[str, Any]) -> Any:
        return self.const if self.fn is None else self.fn(namespace)


def compile_value(value: Any, *, node: str, parameter: str) -> Value:
    """Compile a parameter value (str, or a list/dict with strings nested inside) once.

    Every template inside the value becomes part of ONE Python expression (a text
    template is an f-string), so evaluating the parameter for an item is one `eval`.
    """
    templates: list[tuple[str, str]] = []
    tree = _value_ast(value, node, parameter, templates)
    if tree is None:
        return Value(const=value)
    code = compile(ast.fix_missing_locations(ast.Expression(tree)), "<expression>", "eval")
    return Value(fn=partial(_evaluate_value, code, templates, node))


def _template_ast(text: str, node: str, path: str, templates: list[tuple[str, str]]) -> ast.expr:
    parts = split_template(text)
    exprs = [p for p in parts if isinstance(p, tuple)]
    values: list[ast.expr] = []
    for part in parts:
        if isinstance(part, str):
            values.append(ast.Constant(part))
            continue
        source = part[0].strip()
        templates.append((path, source))
        try:
            tree = parse_expression(source)
        except (SyntaxError, SandboxViolation) as exc:
            raise _expression_error(exc, node, path, source) from None
        if len(exprs) == 1 and all(isinstance(p, tuple) or not p.strip() for p in parts):
            return tree  # the whole value is one expression: keep its type
        values.append(ast.FormattedValue(ast.Call(ast.Name("_G_text", ast.Load()), [tree], []), -1, None))
    return ast.JoinedStr(values)


def _value_ast(value: Any, node: str, path: str, templates: list[tuple[str, str]]) -> ast.expr | None:
    """AST evaluating `value` with its templates, or None when it holds no template."""
    if isinstance(value, str):
        return _template_ast(value, node, path, templates) if "{{" in value else None
    if isinstance(value, list):
        subs = [_value_ast(v, node, f"{path}[{i}]", templates) for i, v in enumerate(value)]
        if not any(s is not None for s in subs):
            return None
        return ast.List([s if s is not None else _const_ast(v) for s, v in zip(subs, value, strict=True)], ast.Load())
    if isinstance(value, dict):
        subs_d = [_value_ast(v, node, f"{path}.{k}", templates) for k, v in value.items()]
        if not any(s is not None for s in subs_d):
            return None
        return ast.Dict([ast.Constant(k) for k in value],
                        [s if s is not None else _const_ast(v) for s, v in zip(subs_d, value.values(), strict=True)])
    return None


def _const_ast(value: Any) -> ast.expr:
    """A constant as an AST that builds a fresh copy per evaluation (no shared mutable data)."""
    if isinstance(value, list):
        return ast.List([_const_ast(v) for v in value], ast.Load())
    if isinstance(value, dict):
        return ast.Dict([ast.Constant(k) for k in value], [_const_ast(v) for v in value.values()])
    return ast.Constant(value)


def _evaluate_value(code: Any, templates: list[tuple[str, str]], node: str, namespace: dict[str, Any]) -> Any:
    try:
        return evaluate(code, namespace)
    except Exception as exc:  # any failure of user code inside {{ }} fails the node, naming it
        path, source = _failing_template(templates, namespace, exc)
        raise _expression_error(exc, node, path, source) from None


def _failing_template(templates: list[tuple[str, str]], namespace: dict[str, Any],
                      exc: BaseException) -> tuple[str, str]:
    """Which template of a value failed: re-run them one by one (only on the error path)."""
    if len(templates) > 1 and not isinstance(exc, ExpressionTimeout):
        for path, source in templates:
            try:
                evaluate(compile_expression(source), namespace)
            except Exception:
                return path, source
    return templates[0]


def _text(value: Any) -> str:
    return _checked_len(to_text(value))


def _expression_error(exc: BaseException, node: str, path: str, expression: str) -> ExpressionError:
    if isinstance(exc, SyntaxError):
        reason = f"syntax error: {exc.msg}"
    elif isinstance(exc, ExpressionTimeout):
        reason = str(exc) or f"expression ran longer than {TIMEOUT:g} s"
    elif isinstance(exc, SandboxViolation):
        reason = str(exc)
    elif isinstance(exc, NameError):
        reason = str(exc).replace("_S_", "$")
    elif isinstance(exc, MemoryError):
        reason = "out of memory"
    else:
        reason = f"{type(exc).__name__}: {exc}".replace("_S_", "$")
    return ExpressionError(reason, node=node, parameter=path, expression=f" {expression} ")
