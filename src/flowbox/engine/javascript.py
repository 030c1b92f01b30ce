"""n8n expressions as JavaScript: `settings.expressionLanguage: "javascript"` (DESIGN §10).

Under that setting a parameter string starting with `=` is an n8n expression (the `=` is
dropped) whose `{{ }}` segments are JavaScript; a value that is one `{{ }}` keeps the
JavaScript value's type, mixed text gives a string (objects and arrays as JSON); a string
without `=` is literal. `compile_js_value` turns a parameter value (strings, or lists and
dicts with strings inside) into ONE JavaScript function, compiled once per thread and
evaluated per item with the item's json passed as JSON text.

The engine is QuickJS (`quickjs-ng`): one context per thread (a context must never be used
from another thread), with n8n's `$`-API, Luxon and jmespath installed once from the files
in `engine/js/` and everything reachable from the global object frozen. Each evaluation runs
under the watchdog's time limit (FLOWBOX_EXPRESSION_TIMEOUT) inside a context limited to
FLOWBOX_EXPRESSION_MEMORY_MB of memory; a result is at most `MAX_LEN` characters. Data of
other nodes is fetched lazily: the JavaScript side answers "I need node:X" when an expression
first asks, Python hands it over (`__n8n.put`) and the evaluation runs again (QuickJS refuses
calls into Python while a time limit is set, so there are no callbacks). A node that asks
for a parameter item after item gets it evaluated `BATCH` items per call into QuickJS
(`__n8n.runBatch`: the items' json texts joined by newlines, each item under its own time limit);
an item's failure is kept and raised when that item is asked for.
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
import threading
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import orjson
import quickjs

from flowbox.engine.expressions import Value, split_template
from flowbox.engine.watchdog import MAX_MEMORY, TIMEOUT
from flowbox.errors import ExpressionError
from flowbox.node import is_js_expression

if TYPE_CHECKING:
    from flowbox.engine.context import NodeContext
    from flowbox.node import Item

__all__ = ["JsScope", "check_js_value", "compile_js_value"]

JS_DIR = Path(__file__).with_name("js")
PRELUDE = ("intl.js", "luxon.min.js", "jmespath.min.js", "extensions.js", "n8n.js")
STACK_BYTES = 512 * 1024
MAX_SAFE = 2**53  # a JavaScript number that is a whole number up to this comes back as a Python int
MAX_FUNCTIONS = 5000  # compiled function bodies kept per context (n8n.js keeps as many)
MAX_FETCHES = 64  # data requests (nodes, zones) one evaluation may make before it is refused
BATCH = 256  # items one JavaScript call evaluates a parameter for, once a node asks for them in order


@lru_cache(maxsize=1)
def _prelude() -> str:
    return "\n;\n".join((JS_DIR / name).read_text(encoding="utf-8") for name in PRELUDE)


class _Engine:
    """One thread's QuickJS context with the n8n prelude; made anew after it ran out of memory."""

    def __init__(self) -> None:
        self.generation = 0
        self._new()

    def _new(self) -> None:
        ctx = quickjs.Context()
        ctx.set_memory_limit(MAX_MEMORY)
        ctx.set_max_stack_size(STACK_BYTES)
        ctx.eval(_prelude())
        ctx.set_time_limit(TIMEOUT)
        self.ctx = ctx
        self.run = ctx.eval("__n8n.run")
        self.begin = ctx.eval("__n8n.begin")
        self.put = ctx.eval("__n8n.put")
        self.check = ctx.eval("__n8n.check")
        self.compile = ctx.eval("__n8n.compile")
        self.failed = ctx.eval("__n8n.failed")
        self.run_batch = ctx.eval("__n8n.runBatch")
        self.functions: dict[str, Any] = {}
        self.token: int | None = None
        self.generation += 1

    def reset(self) -> None:
        """Drop the context (after out of memory: what filled it may still be referenced)."""
        self._new()

    def function(self, body: str) -> Any:
        """The compiled function of `body` in this context (a long-running server sees many: bounded cache)."""
        fn = self.functions.get(body)
        if fn is None:
            if len(self.functions) >= MAX_FUNCTIONS:
                self.functions.clear()
            fn = self.functions[body] = self.compile(body)
        return fn


_local = threading.local()


def _engine() -> _Engine:
    try:
        return _local.engine
    except AttributeError:
        engine = _local.engine = _Engine()
        return engine


class _Failure(Exception):
    """An evaluation failed inside JavaScript: `reason` for the message, `segment` which `{{ }}`."""

    def __init__(self, reason: str, segment: int) -> None:
        super().__init__(reason)
        self.reason = reason
        self.segment = segment


def _reason(exc: BaseException | str) -> str:
    """Why an evaluation failed, from QuickJS's exception (or the text JavaScript gave for one it caught)."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    if isinstance(exc, quickjs.StackOverflow) or "Maximum call stack size" in text or "stack overflow" in text:
        return "too deeply nested (stack overflow)"
    if "InternalError: interrupted" in text or "expression ran out of time" in text:
        return f"ran out of time (longer than {TIMEOUT:g} s)"
    if "out of memory" in text:
        return f"ran out of memory (more than {MAX_MEMORY // (1024 * 1024)} MB)"
    return text.removeprefix("Error: ")


# ---------------------------------------------------------------- what an expression may see

_tokens = itertools.count(1)


class JsScope:
    """A node run as the JavaScript side sees it: its `$`-names (sent once) and data handed over on request."""

    def __init__(self, ctx: NodeContext, env: dict[str, str] | None) -> None:
        self.ctx = ctx
        self.env = env
        self.token = next(_tokens)
        self.index = 0
        self._json: tuple[int, str, str] | None = None
        self._texts: tuple[int, int, str, str] | None = None  # the last batch window's item texts
        self._batches: dict[int, tuple[int, list[Any]]] = {}  # step -> (first index, results)
        self._last: dict[int, int] = {}  # step -> the index it was last evaluated for
        self._one_by_one: set[int] = set()  # steps whose batch could not run: their items go one at a time

    def meta(self) -> str:
        ctx = self.ctx
        runner = ctx.runner
        execution_id = runner.execution_id
        return json.dumps({
            "nodes": list(runner.workflow.nodes),
            "runIndex": ctx.run_index,
            "execution": {"id": execution_id, "mode": runner.mode,
                          "resumeUrl": f"/webhook-waiting/{execution_id}" if execution_id else None},
            "workflow": {"id": runner.workflow.id, "name": runner.workflow.name,
                         "active": bool(runner.workflow.data.get("active", False))},
            "prevNode": {"name": ctx.source[0] if ctx.source else None,
                         "outputIndex": ctx.source[1] if ctx.source else 0, "runIndex": 0},
            "parameter": ctx.raw_parameters(),
            "vars": dict(runner.variables),
            "env": self.env,
            "timezone": ctx.timezone,
            "nowMs": int(dt.datetime.now(dt.UTC).timestamp() * 1000),
            "timeoutMs": int(TIMEOUT * 1000),
        }, default=str)

    def item_text(self, i: int) -> tuple[str, str]:
        """The json and binary of input item i as JSON text (the last one is kept: several parameters ask)."""
        cached = self._json
        if cached is not None and cached[0] == i:
            return cached[1], cached[2]
        items = self.ctx.items
        item = items[i] if i < len(items) else None
        text = _dumps(item.json) if item is not None else "{}"
        binary = _dumps(item.binary) if item is not None and item.binary else ""
        self._json = (i, text, binary)
        return text, binary

    def batch_texts(self, start: int, end: int) -> tuple[str, str]:
        """Items start..end-1's json texts joined by newlines, and their binaries' ("" when none has one)."""
        cached = self._texts
        if cached is not None and cached[:2] == (start, end):
            return cached[2], cached[3]
        items = self.ctx.items[start:end]
        texts = "\n".join(_dumps(item.json) for item in items)
        binaries = "\n".join(_dumps(item.binary) if item.binary else "" for item in items) \
            if any(item.binary for item in items) else ""
        self._texts = (start, end, texts, binaries)
        return texts, binaries

    def fetch(self, key: str) -> str:
        """What the JavaScript side asked for, as JSON text."""
        kind, _, name = key.partition(":")
        ctx = self.ctx
        runner = ctx.runner
        if kind == "zone":
            return json.dumps(zone_table(name))
        if kind == "input":
            return _dumps([_item(i) for i in ctx.items])
        if kind == "node":
            runs = runner.runs.get(name)
            if not runs:
                return "null"
            return _dumps({"runs": len(runs), "outputs": [[_item(i) for i in out] for out in runs[-1].outputs]})
        if kind == "run":
            name, _, run = name.rpartition(":")
            runs = runner.runs.get(name) or []
            index = int(run)
            if not -len(runs) <= index < len(runs):
                raise _Failure(f"node '{name}' has no run {index} (it ran {len(runs)} times)", 0)
            return _dumps([[_item(i) for i in out] for out in runs[index].outputs])
        if kind == "paired":
            return _dumps([_item(runner.paired_item(name, it)) for it in ctx.items])
        if kind == "context":  # a node's own context (`$node["X"].context`): what it keeps under state["context"]
            return _dumps(runner.node_state.get(name, {}).get("context", {}))
        if kind == "params":
            node = runner.workflow.nodes.get(name)
            return _dumps(dict(node.parameters) if node else {})
        raise _Failure(f"unknown data request {key!r}", 0)


def _dumps(value: Any) -> str:
    return orjson.dumps(value, default=str).decode()


def _item(item: Item | None) -> dict[str, Any] | None:
    return None if item is None else {"json": item.json, "binary": item.binary or {}}


@lru_cache(maxsize=64)
def zone_table(name: str) -> list[list[float]] | None:
    """UTC offsets of IANA zone `name` from 1970 to 2100 as [[utc ms from which it holds, minutes], ...] (None:
    no such zone). Days are sampled and each change is found to the second."""
    try:
        zone = ZoneInfo(name)
    except (ValueError, KeyError, OSError):
        return None

    def offset(seconds: float) -> float:
        moment = dt.datetime.fromtimestamp(seconds, dt.UTC).astimezone(zone)
        return moment.utcoffset().total_seconds() / 60  # type: ignore[union-attr]

    day = 86400
    start = 0.0
    rows = [[-8.64e15, offset(start)]]
    end = dt.datetime(2100, 1, 1, tzinfo=dt.UTC).timestamp()
    t = start
    while t < end:
        nxt = t + day
        if offset(nxt) != rows[-1][1]:
            lo, hi = t, nxt
            while hi - lo > 1:
                mid = (lo + hi) // 2
                lo, hi = (mid, hi) if offset(mid) == rows[-1][1] else (lo, mid)
            rows.append([hi * 1000, offset(hi)])
        t = nxt
    return rows


# ---------------------------------------------------------------- compiling a parameter value

def _split(text: str, check: Callable[[str], bool]) -> list[str | tuple[str]]:
    """Split n8n template text into literals and `(source,)` parts, each `{{` closed where the inside parses as
    JavaScript (`flowbox.engine.expressions.split_template`, with `check`)."""
    return split_template(text, lambda inner: check(inner.strip() or "undefined"))


class _Compiler:
    """Turns a parameter value into a plan: each string holding expressions becomes one JavaScript function
    body (its `{{ }}` checked as it goes); lists and dicts around them are put together in Python, so a
    JavaScript call returns a plain number, boolean or text (no JSON round trip for the common case)."""

    def __init__(self, engine: _Engine, node: str) -> None:
        self.engine = engine
        self.node = node

    def parses(self, source: str) -> bool:
        try:
            self.engine.check(source)
            return True
        except quickjs.JSException:
            return False

    def segment(self, source: str, path: str, segments: list[str]) -> str:
        try:
            self.engine.check(source)
        except quickjs.JSException as exc:
            raise ExpressionError(f"syntax error: {_reason(exc).removeprefix('SyntaxError: ')}", node=self.node,
                                  parameter=path, expression=f" {source} ") from None
        segments.append(source)
        return f"__seg({len(segments) - 1}, () => ({source}\n))"

    def text(self, value: str, path: str) -> tuple[Any, ...]:
        if not is_js_expression(value):
            return ("const", value)
        parts = _split(value[1:], self.parses)
        exprs = [p for p in parts if isinstance(p, tuple)]
        if not exprs:
            return ("const", value[1:])
        segments: list[str] = []
        if len(exprs) == 1 and all(isinstance(p, tuple) or not p.strip() for p in parts):
            self.segment(exprs[0][0].strip() or "undefined", path, segments)
            source = f"({segments[0]}\n)"  # one segment: a failure is that segment's, no __seg needed
        else:
            source = "(" + " + ".join(json.dumps(p) if isinstance(p, str) else
                                      f"__text({self.segment(p[0].strip() or 'undefined', path, segments)})"
                                      for p in parts) + ")"
        return ("js", f"return {source};", path, segments, [(None, 0, None)])

    def plan(self, value: Any, path: str) -> tuple[Any, ...]:
        if isinstance(value, str):
            return self.text(value, path)
        if isinstance(value, list):
            subs = [self.plan(v, f"{path}[{i}]") for i, v in enumerate(value)]
            return ("const", [s[1] for s in subs]) if all(s[0] == "const" for s in subs) else ("list", subs)
        if isinstance(value, dict):
            pairs = [(k, self.plan(v, f"{path}.{k}")) for k, v in value.items()]
            if all(s[0] == "const" for _, s in pairs):
                return ("const", {k: s[1] for k, s in pairs})
            return ("dict", pairs)
        return ("const", value)


def _copy(value: Any) -> Any:
    """A fresh copy of a constant list/dict (a node may change what it is given)."""
    if isinstance(value, list):
        return [_copy(v) for v in value]
    if isinstance(value, dict):
        return {k: _copy(v) for k, v in value.items()}
    return value


def compile_js_value(value: Any, *, node: str, parameter: str) -> Value:
    """Compile a JavaScript-mode parameter value once; its `fn(scope)` evaluates it for `scope.index`."""
    engine = _engine()
    plan = _Compiler(engine, node).plan(value, parameter)
    if plan[0] == "const":
        return Value(const=plan[1])

    def run(step: tuple[Any, ...], scope: JsScope) -> Any:
        kind = step[0]
        if kind == "js":
            try:
                return _evaluate(step, scope)
            except _Failure as exc:
                segments = step[3]
                expression = segments[exc.segment] if 0 <= exc.segment < len(segments) else segments[0]
                raise ExpressionError(exc.reason, node=node, parameter=step[2], expression=f" {expression} ") from None
        if kind == "const":
            return _copy(step[1])
        if kind == "list":
            return [run(s, scope) for s in step[1]]
        return {k: run(s, scope) for k, s in step[1]}

    return Value(fn=lambda scope: run(plan, scope))


def check_js_value(value: Any, *, node: str, parameter: str) -> None:
    """Refuse a JavaScript-mode value whose expressions do not parse (ExpressionError naming the parameter)."""
    _Compiler(_engine(), node).plan(value, parameter)



def _evaluate(step: tuple[Any, ...], scope: JsScope) -> Any:
    """A plan's JavaScript step for `scope.index`. A node that asks for the items in order gets them evaluated
    BATCH at a time (one call into QuickJS for many items); an item's failure is raised when it is asked for."""
    key, index = id(step[4]), scope.index
    found = scope._batches.get(key)
    if found is not None and 0 <= index - found[0] < len(found[1]):
        return _entry(found[1][index - found[0]])
    sequential = scope._last.get(key) == index - 1
    scope._last[key] = index
    if sequential and index + 1 < len(scope.ctx.items) and key not in scope._one_by_one:
        results = _run_batch(step, scope, index)
        if results:
            scope._batches[key] = (index, results)
            return _entry(results[0])
        scope._one_by_one.add(key)  # a batch ran out of time or memory once: never again for this node run
    return _evaluate_one(step, scope)


def _entry(entry: Any) -> Any:
    """One item's result from runBatch as `_evaluate_one` gives it."""
    kind = type(entry)
    if kind is str:
        tag, data = entry[0], entry[1:]
        return data if tag == "s" else orjson.loads(data)
    if kind is dict:
        if "x" in entry:
            return float(entry["x"].replace("Infinity", "inf"))
        raise _Failure(_reason(entry["e"]), int(entry.get("s", -1)))
    if kind is float and entry.is_integer() and -MAX_SAFE <= entry <= MAX_SAFE:
        return int(entry)
    return entry


def _run_batch(step: tuple[Any, ...], scope: JsScope, start: int) -> list[Any] | None:
    """Results of step for items start.. in one call; None when the batch cannot run (the items then run one by
    one, which names the one that fails)."""
    engine = _engine()
    fn = _function(step, engine)
    texts, binaries = scope.batch_texts(start, min(start + BATCH, len(scope.ctx.items)))
    try:
        if engine.token != scope.token:
            engine.begin(scope.meta())
            engine.token = scope.token
        for _ in range(MAX_FETCHES):
            got = orjson.loads(engine.run_batch(fn, texts, binaries, start))
            if "f" in got:
                engine.put(got["f"], scope.fetch(got["f"]))
                continue
            results = got["r"]
            if any(type(r) is dict and "out of memory" in str(r.get("e")) for r in results):
                engine.reset()
                return None
            return results
    except quickjs.JSException as exc:
        if "out of memory" in str(exc) or isinstance(exc, quickjs.StackOverflow):
            engine.reset()
    except _Failure:
        pass
    return None


def _function(step: tuple[Any, ...], engine: _Engine) -> Any:
    slot = step[4]  # [(engine, generation, function)]: read once, so another thread's swap cannot mix them
    entry = slot[0]
    if entry[0] is not engine or entry[1] != engine.generation:
        entry = slot[0] = (engine, engine.generation, engine.function(step[1]))
    return entry[2]


def _evaluate_one(step: tuple[Any, ...], scope: JsScope) -> Any:
    """Run a plan's JavaScript step for `scope.index`, handing over the data it asks for."""
    engine = _engine()
    fn = _function(step, engine)
    try:
        if engine.token != scope.token:
            engine.begin(scope.meta())
            engine.token = scope.token
        text, binary = scope.item_text(scope.index)
        for _ in range(MAX_FETCHES):
            result = engine.run(fn, text, binary, scope.index)
            kind = type(result)
            if kind is float:
                return int(result) if result.is_integer() and -MAX_SAFE <= result <= MAX_SAFE else result
            if kind is not str:
                return result
            tag, data = result[0], result[1:]
            if tag == "s":
                return data
            if tag == "j":
                return orjson.loads(data)
            engine.put(data, scope.fetch(data))
    except quickjs.JSException as exc:
        reason = _reason(exc)
        segment = _failed_segment(engine)
        if "out of memory" in reason or isinstance(exc, quickjs.StackOverflow):
            engine.reset()
        raise _Failure(reason, segment) from None
    raise _Failure(f"the expression asked for more than {MAX_FETCHES} kinds of data", 0)


def _failed_segment(engine: _Engine) -> int:
    try:
        return int(engine.failed())
    except quickjs.JSException:
        return 0



