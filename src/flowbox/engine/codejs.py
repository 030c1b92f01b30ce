"""The JavaScript Code node inside a code worker: one QuickJS context per request, in the request's fork.

Loaded by `codeworker` (as a file beside it, no flowbox import: the worker runs as a script) before it forks,
so QuickJS and n8n's prelude (`js/`: intl.js, Luxon, jmespath, extensions.js, then codenode.js with the
Code node's names and n8n's output rules) are evaluated once per worker; every request's fork gets a copy of
that context, runs the code once (allItems) or calls the function compiled once per item (eachItem) inside
one JavaScript loop, under QuickJS's memory and time limits on top of the fork's rlimits.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

import quickjs

JS_DIR = Path(__file__).with_name("js")
PRELUDE = ("intl.js", "luxon.min.js", "jmespath.min.js", "extensions.js", "codenode.js")
STACK_BYTES = 1024 * 1024
DEFAULT_MEMORY = 256 * 1024 * 1024
_base: Any = None


def _context() -> Any:
    ctx = quickjs.Context()
    ctx.set_max_stack_size(STACK_BYTES)
    ctx.eval("\n;\n".join((JS_DIR / name).read_text(encoding="utf-8") for name in PRELUDE))
    return ctx


def prepare() -> None:
    """Evaluate the prelude in the worker (before any fork): requests start from a copy of it."""
    global _base
    _base = _context()


def _reason(exc: BaseException, memory: int, timeout: float) -> str | None:
    """The message for QuickJS's own limits, None for other errors."""
    text = str(exc)
    if "out of memory" in text:
        return f"the code went over its memory limit of {memory // (1024 * 1024)} MB"
    if "interrupted" in text:
        return f"the code ran longer than {timeout:g} s and was stopped"
    if isinstance(exc, quickjs.StackOverflow) or "stack size" in text:
        return "the code recursed too deeply (stack overflow)"
    return None


def run(req: dict[str, Any], result_error: type[Exception]) -> list[dict[str, Any]]:
    """Run one request's JavaScript: entries `{"json", "binary"?, "pairedItem"}` or `{"error", "pairedItem"}`;
    console output goes to sys.stdout (the worker's capture). Raises `result_error(message, index)`
    (codeworker.ResultError) when the run fails."""
    ctx = _base if _base is not None else _context()
    limit = int(req.get("memoryLimit") or 0)
    memory = min(DEFAULT_MEMORY, limit * 3 // 4) if limit > 0 else DEFAULT_MEMORY
    timeout = float(req.get("timeout") or 30)
    ctx.set_memory_limit(memory)
    ctx.set_time_limit(timeout)
    context = req.get("context") or {}
    text = json.dumps({**{key: req.get(key) for key in ("code", "mode", "items", "itemErrors")}, **{
        key: context.get(key) for key in ("nodes", "nodeNames", "executed", "vars", "execution", "workflow", "now",
                                          "timezone", "zone", "runIndex")}}, ensure_ascii=False)
    try:
        ctx.eval("__code.start")(text)
        _drain(ctx, time.monotonic() + timeout, timeout, result_error)
        outcome = json.loads(ctx.eval("__code.outcome()"))
    except quickjs.JSException as exc:
        logs = ""
        try:
            ctx.set_memory_limit(memory + 16 * 1024 * 1024)
            logs = json.loads(ctx.eval("__code.outcome()")).get("logs", "")
        except Exception:  # the context is beyond use: the fork ends after this request anyway
            pass
        sys.stdout.write(logs)
        raise result_error(_reason(exc, memory, timeout) or f"JavaScript failed: {exc}", None) from None
    sys.stdout.write(outcome.get("logs", ""))
    if not outcome.get("ok"):
        raise result_error(_message(outcome["error"]), outcome["error"].get("itemIndex"))
    return [_entry(entry) for entry in outcome["items"]]


def _drain(ctx: Any, deadline: float, timeout: float, result_error: type[Exception]) -> None:
    """Run the promise jobs, then the timers (setTimeout & co.: sleep until the earliest, fire it), until the
    code finished or nothing is left; a timer due after the time limit stops the run."""
    next_fire = ctx.eval("(() => __code.nextTimer())")
    fire = ctx.eval("(() => __code.fireTimer())")
    while True:
        while ctx.execute_pending_job():
            pass
        delay = next_fire() / 1000
        if delay < 0:
            return
        if time.monotonic() + delay > deadline:
            raise result_error(f"the code ran longer than {timeout:g} s and was stopped (it waits for a timer)", None)
        if delay:
            time.sleep(delay)
        fire()


def _entry(entry: dict[str, Any]) -> dict[str, Any]:
    if "error" in entry:
        return {"error": {"kind": "result", "message": _message(entry["error"]),
                          "itemIndex": entry["pairedItem"]}, "pairedItem": entry["pairedItem"]}
    return entry


def _message(error: dict[str, Any]) -> str:
    """n8n's wording: validation messages as they are, runtime errors as 'TypeError: ... [line N, for item I]'."""
    if error.get("kind") == "result":
        return str(error.get("message"))
    message = f"{error.get('type')}: {error.get('message')}" if error.get("message") else str(error.get("type"))
    index, line = error.get("itemIndex"), error.get("line")
    where = [f"line {line}"] if line else []
    if index is not None:
        where.append(f"for item {index}")
    return f"{message} [{', '.join(where)}]" if where else message
