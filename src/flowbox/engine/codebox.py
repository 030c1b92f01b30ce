"""Run the user's Python of a `code` node in long-lived, isolated worker processes.

    pool = CodePool(size=2)
    items = await pool.run("return [{'n': len(items)}]", "allItems", [{"a": 1}, {"a": 2}])
    # -> [{"json": {"n": 2}}]; items.logs holds what the code printed

Isolation is by process (DESIGN §5): a worker is `python -I` started with an empty
environment (PATH and LANG only, so no FLOWBOX_* secrets), a private temporary
working directory, its own session, RLIMIT_AS = `memory_mb` and an RLIMIT_CPU
budget of `cpu_seconds` per request. A request that runs past its wall-time limit
gets its worker killed (NodeTimeout); a worker that dies fails only its request
(NodeError "code worker crashed: ..."); either way a fresh worker takes its place.

Workers are reused: one request carries a whole batch, and in "eachItem" mode the
loop over the items runs inside the worker, so 10,000 items cost one round trip.
The worker runs `_WORKER_SOURCE` below: stdlib only, length-prefixed JSON over its
stdin/stdout, with `print()` captured into the reply's `logs`.

Names inside the code: `items` (allItems) or `item`/`_json` and `_itemIndex`
(eachItem); `_input` and `_("Node name")` with `.all()`, `.first()`, `.last()` and
`.item` (items as `{"json": ...}` dicts that also allow `x.json`); `_now`/`_today`
(aware datetimes from `context["now"]`); `_vars`, `_execution`, `_workflow` (from the
context, keys also readable as attributes). `_("X")` fetches `context["nodes"]["X"]`
from the server only when the code asks for it.

Unix only (resource limits, process groups, poll).
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import json
import os
import select
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from queue import SimpleQueue
from typing import Any

import orjson

from flowbox.errors import NodeError, NodeTimeout

MODES = ("allItems", "eachItem")
_HEADER = struct.Struct(">I")
_MAX_USES = 1000  # recycle a worker after this many requests (leaked state, fragmentation)
_ERR_TAIL = 4096  # bytes of worker stderr kept to explain a crash

_WORKER_SOURCE = r'''
import ast, builtins, datetime, faulthandler, io, json, linecache, math, os, reprlib, resource, struct, sys
import traceback

FILENAME = "<code>"
LOG_LIMIT = 65536
HEADER = struct.Struct(">I")
PARAMS = {
    "allItems": ("items", "_input", "_", "_now", "_today", "_vars", "_execution", "_workflow"),
    "eachItem": ("item", "_itemIndex", "_json", "_input", "_", "_now", "_today", "_vars", "_execution",
                 "_workflow"),
}
ITEM_KEYS = {"json", "binary", "pairedItem"}
POS = [None]  # index of the item being processed (eachItem), for .item and error reports
compiled = {}


class AttrDict(dict):
    """A dict whose keys also read as attributes: item.json, _vars.NAME."""

    def __getattr__(self, name):
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None


class Items:
    """_input and _("Node"): .all(), .first(), .last() and .item (eachItem mode).

    For another node, .item is the item the current input item descends from
    (`paired[i]` is its row index); without lineage it falls back to the position.
    """

    def __init__(self, rows, pos, label, paired=None):
        self._rows, self._pos, self._label, self._paired = rows, pos, label, paired

    def all(self):
        return [AttrDict(json=row) for row in self._rows]

    def first(self):
        return AttrDict(json=self._rows[0]) if self._rows else None

    def last(self):
        return AttrDict(json=self._rows[-1]) if self._rows else None

    @property
    def item(self):
        i = self._pos[0]
        if i is None:
            raise AttributeError(f"{self._label}.item exists only in eachItem mode; use .all() or .first()")
        if self._paired is not None:
            j = self._paired[i] if i < len(self._paired) else None
            if j is None:
                raise LookupError(f"no item of {self._label} is paired with input item {i}")
            i = j
        return AttrDict(json=self._rows[i]) if i < len(self._rows) else None

    def __len__(self):
        return len(self._rows)

    def __repr__(self):
        return f"<{self._label}: {len(self._rows)} items>"


class Capture(io.TextIOBase):
    """sys.stdout/sys.stderr during a request: keeps the first LOG_LIMIT characters."""

    def __init__(self):
        self.parts, self.size = [], 0

    def writable(self):
        return True

    def write(self, text):
        if not isinstance(text, str):
            raise TypeError(f"write() argument must be str, not {type(text).__name__}")
        if self.size < LOG_LIMIT:
            self.parts.append(text[: LOG_LIMIT - self.size])
        self.size += len(text)
        return len(text)

    def getvalue(self):
        text = "".join(self.parts)
        return text + f"\n[{self.size - LOG_LIMIT} more characters cut]" if self.size > LOG_LIMIT else text


class ResultError(Exception):
    def __init__(self, message, index=None):
        super().__init__(message)
        self.index = index


def recv():
    head = IN.read(4)
    if len(head) < 4:
        return None
    (size,) = HEADER.unpack(head)
    data = IN.read(size)
    return json.loads(data) if len(data) == size else None


def send(data):
    OUT.write(HEADER.pack(len(data)))
    OUT.write(data)
    OUT.flush()


def describe(value):
    """'an int 5', 'a set {1, 2}': what the code gave, for error messages."""
    if value is None:
        return "None"
    name = type(value).__name__
    return f"{'an' if name[0] in 'aeiouAEIOU' else 'a'} {name} {reprlib.repr(value)}"


def build(code, mode):
    key = (mode, code)
    obj = compiled.get(key)
    if obj is None:
        tree = ast.parse(code, FILENAME)
        args = ast.arguments(posonlyargs=[], args=[ast.arg(arg=name) for name in PARAMS[mode]],
                             kwonlyargs=[], kw_defaults=[], defaults=[])
        fields = {"name": "__code__", "args": args, "body": tree.body or [ast.Pass()], "decorator_list": []}
        if "type_params" in ast.FunctionDef._fields:
            fields["type_params"] = []
        module = ast.Module(body=[ast.FunctionDef(**fields, lineno=1, col_offset=0)], type_ignores=[])
        obj = compile(ast.fix_missing_locations(module), FILENAME, "exec")
        if len(compiled) >= 64:
            compiled.clear()
        compiled[key] = obj
    linecache.cache[FILENAME] = (len(code), None, code.splitlines(True), FILENAME)
    scope = {"__name__": "__code__", "__builtins__": builtins}
    exec(obj, scope)
    return scope["__code__"]


def to_item(value, where, index):
    if not isinstance(value, dict):
        raise ResultError(f"{where} is {describe(value)}, expected a dict", index)
    data = value.get("json")
    if isinstance(data, dict) and value.keys() <= ITEM_KEYS:
        out = {"json": data}
        if value.get("binary"):
            if not isinstance(value["binary"], dict):
                raise ResultError(f"{where} has a 'binary' that is {describe(value['binary'])}", index)
            out["binary"] = value["binary"]
        if "pairedItem" in value:
            out["pairedItem"] = value["pairedItem"]
        elif index is not None:
            out["pairedItem"] = index
        return out
    return {"json": value} if index is None else {"json": value, "pairedItem": index}


def find_bad(value, path, stack):
    """(path, description) of the first value JSON cannot hold, or None."""
    if value is None or isinstance(value, (bool, int, datetime.date, datetime.time)):
        return None
    if isinstance(value, str):
        try:
            value.encode()
        except UnicodeEncodeError:
            return path, "a string with an unpaired surrogate"
        return None
    if isinstance(value, float):
        return None if math.isfinite(value) else (path, repr(value))
    if isinstance(value, (dict, list, tuple)):
        if id(value) in stack:
            return path, "a reference to itself (a cycle)"
        stack.add(id(value))
        pairs = value.items() if isinstance(value, dict) else enumerate(value)
        for key, sub in pairs:
            if not (key is None or isinstance(key, (str, int, float, bool))):
                return path, f"a dict with the key {describe(key)}"
            found = find_bad(sub, f"{path}[{key!r}]", stack)
            if found:
                return found
        stack.discard(id(value))
        return None
    return path, describe(value)


def encode_default(value):
    if isinstance(value, (datetime.date, datetime.time)):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON-serialisable")


def encode_items(out, each):
    try:
        return json.dumps(out, default=encode_default, allow_nan=False, ensure_ascii=False,
                          separators=(",", ":")).encode()
    except (TypeError, ValueError, RecursionError, UnicodeEncodeError) as exc:
        for k, item in enumerate(out):
            found = find_bad(item["json"], "json", set()) or find_bad(item.get("binary"), "binary", set())
            if found:
                index = item.get("pairedItem") if each else None
                where = f"for item {index}" if each else f"in item {k} of the list"
                raise ResultError(f"the code returned a value that is not JSON-serialisable {where}: "
                                  f"the value at {found[0] or 'the top'} is {found[1]}", index) from None
        raise ResultError(f"the code returned a value that is not JSON-serialisable: {exc}") from None


def run(req, fetch_cache):
    POS[0] = None
    mode, rows, ctx = req["mode"], req["items"], req.get("context") or {}
    now = datetime.datetime.fromisoformat(ctx["now"]) if ctx.get("now") else datetime.datetime.now()
    if now.tzinfo is None:
        now = now.astimezone()
    today = now.replace(hour=0, minute=0, second=0, microsecond=0)
    pos = POS

    def node(name):
        """_("Node name"): that node's items in this execution."""
        if name not in fetch_cache:
            send(json.dumps({"op": "node", "name": name}).encode())
            reply = recv()
            if reply is None:
                os._exit(0)
            if reply.get("rows") is None:
                raise LookupError(f"node {name!r} has no output in this execution (no such node, or not run yet)")
            fetch_cache[name] = Items(reply["rows"], pos, f"_({name!r})", reply.get("paired"))
        return fetch_cache[name]

    common = (Items(rows, pos, "_input"), node, now, today, AttrDict(ctx.get("vars") or {}),
              AttrDict(ctx.get("execution") or {}), AttrDict(ctx.get("workflow") or {}))
    fn = build(req["code"], mode)
    if mode == "allItems":
        result = fn(rows, *common)
        if not isinstance(result, (list, tuple)):
            raise ResultError(f"the code returned {describe(result)}; in allItems mode it must return a list "
                              "of dicts")
        return encode_items([to_item(v, f"item {k} of the returned list", None) for k, v in enumerate(result)],
                            False)
    out = []
    for i, item in enumerate(rows):
        pos[0] = i
        value = fn(item, i, item, *common)
        if value is not None:
            if not isinstance(value, dict):
                raise ResultError(f"the code returned {describe(value)} for item {i}; in eachItem mode it must "
                                  "return a dict (or None to drop the item)", i)
            out.append(to_item(value, f"the value returned for item {i}", i))
    return encode_items(out, True)


def user_line(tb):
    line = None
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == FILENAME:
            line = tb.tb_lineno
        tb = tb.tb_next
    return line


def handle(req):
    capture = Capture()
    sys.stdout = sys.stderr = capture
    error, body = None, b""
    try:
        body = run(req, {})
    except SyntaxError as exc:
        text = (exc.text or "").rstrip("\n")
        caret = " " * (max(exc.offset or 1, 1) - 1) + "^" if text else ""
        error = {"kind": "syntax", "type": type(exc).__name__, "message": exc.msg, "line": exc.lineno,
                 "traceback": f"{text}\n{caret}" if text else ""}
    except ResultError as exc:
        error = {"kind": "result", "message": str(exc), "itemIndex": exc.index}
    except BaseException as exc:
        tb = exc.__traceback__
        while tb is not None and tb.tb_frame.f_code.co_filename != FILENAME:
            tb = tb.tb_next
        try:
            message = str(exc)
            text = "".join(traceback.format_exception(type(exc), exc, tb))
        except BaseException:
            message, text = "", ""
        error = {"kind": "runtime", "type": type(exc).__name__, "message": message,
                 "line": user_line(exc.__traceback__), "traceback": text, "itemIndex": POS[0]}
    finally:
        sys.stdout, sys.stderr = sys.__stdout__, sys.__stderr__
    threads = sys.modules.get("threading")
    retire = bool(error and error.get("type") == "MemoryError") or bool(threads and threads.active_count() > 1)
    head = {"op": "done", "ok": error is None, "logs": capture.getvalue(), "retire": retire}
    if error is not None:
        head["error"] = error
        return json.dumps(head).encode()
    return json.dumps(head).encode()[:-1] + b',"items":' + body + b"}"


def limit(kind, value):
    soft, hard = resource.getrlimit(kind)
    if hard != resource.RLIM_INFINITY:
        value = min(value, hard)
    resource.setrlimit(kind, (value, hard if kind == resource.RLIMIT_CPU else value))


def main():
    global IN, OUT
    memory, cpu = int(sys.argv[1]), int(sys.argv[2])
    IN, OUT = os.fdopen(os.dup(0), "rb"), os.fdopen(os.dup(1), "wb")
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    os.dup2(2, 1)
    faulthandler.enable()
    if memory > 0:
        limit(resource.RLIMIT_AS, memory)
    while True:
        req = recv()
        if req is None:
            return
        if cpu > 0:
            usage = resource.getrusage(resource.RUSAGE_SELF)
            limit(resource.RLIMIT_CPU, int(usage.ru_utime + usage.ru_stime) + cpu + 1)
        try:
            data = handle(req)
        except BaseException as exc:
            data = json.dumps({"op": "done", "ok": False, "logs": "", "retire": True, "error": {
                "kind": "internal", "type": type(exc).__name__, "message": str(exc)}}).encode()
        send(data)


main()
'''


class CodeResult(list):
    """The items a code run returned (`{"json": ...}` dicts), plus what it printed in `logs`."""

    logs: str = ""


class _Expired(Exception):
    pass


class _Crashed(Exception):
    pass


def _json_default(value: Any) -> Any:
    """Lets callers pass flowbox `Item`s where json dicts are expected."""
    data = getattr(value, "json", None)
    if isinstance(data, dict):
        return data
    raise TypeError(f"{type(value).__name__} is not JSON-serialisable")


def _dumps(value: Any) -> bytes:
    try:
        return orjson.dumps(value, default=_json_default, option=orjson.OPT_NON_STR_KEYS)
    except TypeError:  # e.g. an int beyond 64 bits: the stdlib copes
        return json.dumps(value, default=_json_default, ensure_ascii=False).encode()


def _loads(body: bytes) -> dict[str, Any]:
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        pass
    try:
        return json.loads(body)  # what orjson refuses, e.g. an escaped lone surrogate
    except ValueError:
        raise _Crashed from None  # a garbled reply: treat the worker as broken


WORKER_FLAG = "--flowbox-code-worker"


def _worker_argv(memory_mb: int, cpu_seconds: int) -> list[str]:
    limits = [str(memory_mb * 1024 * 1024), str(cpu_seconds)]
    if getattr(sys, "frozen", False):  # a PyInstaller binary has no `-c`: it calls serve_worker()
        return [sys.executable, WORKER_FLAG, *limits]
    return [sys.executable, "-I", "-c", _WORKER_SOURCE, *limits]


def serve_worker() -> None:
    """Run as a worker; a frozen binary's entry point calls this when `sys.argv[1] == WORKER_FLAG`."""
    sys.argv = [sys.argv[0], *sys.argv[2:]]
    exec(compile(_WORKER_SOURCE, "<codebox-worker>", "exec"), {"__name__": "__main__"})


class _Worker:
    """One worker process and the tail of its stderr (read while a request runs)."""

    def __init__(self, cwd: str, memory_mb: int, cpu_seconds: int) -> None:
        env = {"PATH": os.environ.get("PATH", os.defpath), "LANG": os.environ.get("LANG") or "C.UTF-8"}
        if getattr(sys, "frozen", False):  # the one-file binary's own variables: the worker runs from the files
            env.update({k: v for k, v in os.environ.items() if k.startswith("_PYI_")})  # it unpacked, not a new copy
        self.proc = subprocess.Popen(
            _worker_argv(memory_mb, cpu_seconds),
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            cwd=cwd, env=env, start_new_session=True, close_fds=True,
        )
        self.err = bytearray()
        self.uses = 0

    def signal(self) -> None:
        """SIGKILL the worker and anything it started (safe from any thread; does not reap)."""
        if self.proc.returncode is None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.proc.pid, signal.SIGKILL)

    def dispose(self) -> None:
        """Kill, reap and close the pipes (only from the thread that owns the worker)."""
        self.signal()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(5)
        for pipe in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
            with contextlib.suppress(OSError):
                pipe.close()  # type: ignore[union-attr]

    def exchange(self, request: bytes, deadline: float, nodes: Mapping[str, Any]) -> dict[str, Any]:
        """Send one request, answer the worker's `_("Node")` look-ups, return its reply."""
        self.err.clear()
        try:
            stdin = self.proc.stdin
            assert stdin is not None
            stdin.write(_HEADER.pack(len(request)))
            stdin.write(request)
            stdin.flush()
        except OSError:
            raise _Crashed from None
        out_fd, err_fd = self.proc.stdout.fileno(), self.proc.stderr.fileno()  # type: ignore[union-attr]
        poller = select.poll()
        poller.register(out_fd, select.POLLIN)
        poller.register(err_fd, select.POLLIN)
        buf = bytearray()
        while True:
            if len(buf) >= 4:
                (size,) = _HEADER.unpack_from(buf)
                if len(buf) >= 4 + size:
                    body = bytes(buf[4:4 + size])
                    del buf[:4 + size]
                    msg = _loads(body)
                    if msg.get("op") != "node":
                        return msg
                    name = msg.get("name")
                    try:
                        entry = nodes.get(name) if isinstance(name, str) else None
                        if isinstance(entry, dict):  # {"rows": [...], "paired": [row index per input item]}
                            reply = _dumps({"op": "node", "rows": entry.get("rows"), "paired": entry.get("paired")})
                        else:
                            reply = _dumps({"op": "node", "rows": entry})
                        stdin.write(_HEADER.pack(len(reply)) + reply)
                        stdin.flush()
                    except OSError:
                        raise _Crashed from None
                    continue
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise _Expired
            for fd, _event in poller.poll(remaining * 1000):
                chunk = os.read(fd, 1 << 20)
                if fd == err_fd:
                    if not chunk:
                        poller.unregister(err_fd)
                    self.err += chunk
                    del self.err[:-_ERR_TAIL]
                elif chunk:
                    buf += chunk
                else:
                    raise _Crashed

    def crash_reason(self, cpu_seconds: int) -> str:
        """Reap a worker whose pipe closed and say why it died."""
        self.signal()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(5)
        err_fd = self.proc.stderr.fileno()  # type: ignore[union-attr]
        poller = select.poll()
        poller.register(err_fd, select.POLLIN)
        end = time.monotonic() + 0.5
        while time.monotonic() < end and poller.poll(100):
            chunk = os.read(err_fd, 1 << 16)
            if not chunk:
                break
            self.err += chunk
            del self.err[:-_ERR_TAIL]
        code = self.proc.returncode
        if code is None:
            what = "it closed its output"
        elif code == -signal.SIGXCPU:
            what = f"CPU time limit of {cpu_seconds} s exceeded"
        elif code == -signal.SIGKILL:
            what = "killed by SIGKILL (out of memory?)"
        elif code < 0:
            try:
                what = f"killed by {signal.Signals(-code).name}"
            except ValueError:
                what = f"killed by signal {-code}"
        else:
            what = f"exit code {code}"
        lines = [line.strip() for line in self.err.decode(errors="replace").splitlines() if line.strip()]
        detail = next((line for line in lines if line.startswith("Fatal Python error")), None) or next(
            (line for line in reversed(lines) if "Error" in line), lines[-1] if lines else "")
        self.dispose()
        return f"{what}: {detail[:300]}" if detail else what


class _Job:
    """One run() call, so that cancelling it can kill the worker it is using."""

    __slots__ = ("lock", "cancelled", "worker")

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.cancelled = False
        self.worker: _Worker | None = None

    def cancel(self) -> None:
        with self.lock:
            self.cancelled = True
            worker = self.worker
        if worker is not None:
            worker.signal()


class CodePool:
    """A pool of at most `size` worker processes, started lazily and reused across requests."""

    def __init__(self, size: int = 2, memory_mb: int = 512, cpu_seconds: int = 60) -> None:
        if size < 1:
            raise ValueError("size must be at least 1")
        self.size, self.memory_mb, self.cpu_seconds = size, memory_mb, cpu_seconds
        self._executor = ThreadPoolExecutor(max_workers=size, thread_name_prefix="codebox")
        self._slots: SimpleQueue[_Worker | None] = SimpleQueue()
        for _ in range(size):
            self._slots.put(None)
        self._cwd: str | None = None
        self._closed = False
        self._lock = threading.Lock()  # guards _cwd, _closed and putting workers back

    async def run(self, code: str, mode: str, items: list[dict], *, timeout: float = 30.0,
                  context: dict | None = None) -> list:
        """Run `code` over `items` (json dicts) in a worker; returns a `CodeResult` of `{"json": ...}` items.

        In eachItem mode every returned item carries `pairedItem`, the index of its input item.
        `context` may hold "nodes" ({name: [json dicts]}), "now" (ISO text or datetime), "vars",
        "execution" and "workflow". Raises NodeError (NodeTimeout past `timeout` seconds).
        """
        if mode not in MODES:
            raise NodeError(f"unknown code mode {mode!r}; expected 'allItems' or 'eachItem'")
        if self._closed:
            raise NodeError("the code worker pool is closed")
        job = _Job()
        future = asyncio.get_running_loop().run_in_executor(
            self._executor, self._run, job, code, mode, items, timeout, dict(context or {}))
        try:
            return await future
        except asyncio.CancelledError:
            job.cancel()
            raise

    async def close(self) -> None:
        """Kill every worker; running requests fail."""
        await asyncio.get_running_loop().run_in_executor(None, self.close_now)

    def close_now(self) -> None:
        """Synchronous close (also what atexit calls for the default pool)."""
        with self._lock:
            self._closed = True
            idle = []
            while not self._slots.empty():
                idle.append(self._slots.get_nowait())
        self._executor.shutdown(wait=False, cancel_futures=True)
        for worker in idle:
            if worker is not None:
                worker.dispose()
        if self._cwd:
            shutil.rmtree(self._cwd, ignore_errors=True)

    def _spawn(self) -> _Worker:
        with self._lock:
            if self._closed:
                raise OSError("the pool is closed")
            if self._cwd is None:
                self._cwd = tempfile.mkdtemp(prefix="flowbox-code-")
        return _Worker(self._cwd, self.memory_mb, self.cpu_seconds)

    def _run(self, job: _Job, code: str, mode: str, items: list[dict], timeout: float,
             context: dict[str, Any]) -> CodeResult:
        """One request on an executor thread (there are `size` of them, so a slot is always free)."""
        nodes = context.pop("nodes", None) or {}
        try:
            request = _dumps({"code": code, "mode": mode, "items": items, "context": context})
        except (TypeError, ValueError) as exc:
            raise NodeError(f"the input items cannot be passed to the code: {exc}") from None
        worker = self._slots.get()
        replace = False
        try:
            with job.lock:
                if job.cancelled:
                    raise NodeError("cancelled")
                if worker is None or worker.proc.poll() is not None:
                    if worker is not None:
                        worker.dispose()
                    worker = None
                    try:
                        worker = self._spawn()
                    except OSError as exc:
                        raise NodeError(f"cannot start a code worker: {exc}") from None
                job.worker = worker
            try:
                reply = worker.exchange(request, time.monotonic() + timeout, nodes)
            except _Expired:
                worker.dispose()
                worker, replace = None, True
                raise NodeTimeout(f"the code ran longer than {timeout:g} s and was stopped") from None
            except _Crashed:
                reason = worker.crash_reason(self.cpu_seconds)
                worker, replace = None, True
                raise NodeError(f"code worker crashed: {reason}") from None
            worker.uses += 1
            if reply.get("retire") or worker.uses >= _MAX_USES:
                worker.dispose()
                worker, replace = None, True
            return self._result(reply)
        finally:
            with job.lock:
                job.worker = None  # a late cancel() must not kill the next user of this worker
            if replace and not self._closed:
                with contextlib.suppress(OSError):
                    worker = self._spawn()
            with self._lock:
                if not self._closed:
                    self._slots.put(worker)
                    worker = None
            if worker is not None:
                worker.dispose()

    def _result(self, reply: dict[str, Any]) -> CodeResult:
        logs = reply.get("logs") or ""
        if reply.get("ok"):
            result = CodeResult(reply["items"])
            result.logs = logs
            return result
        error = reply.get("error") or {}
        kind, index = error.get("kind"), error.get("itemIndex")
        if kind == "result":
            message = error["message"]
        elif kind == "internal":
            message = f"code worker failed: {error.get('type')}: {error.get('message')}"
            if error.get("type") == "MemoryError":
                message += f" (memory limit {self.memory_mb} MB)"
        else:
            message = f"{error.get('type')}: {error.get('message')}" if error.get("message") else error.get("type")
            where = [f"line {error['line']}"] if error.get("line") else []
            if index is not None:
                where.append(f"item {index}")
            if where:
                message += f" ({', '.join(where)})"
            if error.get("type") == "MemoryError":
                message += f"; the code went over its memory limit of {self.memory_mb} MB"
        description = error.get("traceback") or ""
        if logs:
            description = f"{description}\noutput:\n{logs}".strip()
        exc = NodeError(message, item_index=index, description=description or None)
        exc.logs = logs  # type: ignore[attr-defined]
        raise exc


_default: CodePool | None = None
_default_lock = threading.Lock()


def default_pool() -> CodePool:
    """The process-wide pool, created on first use and closed at exit."""
    global _default
    with _default_lock:
        if _default is None or _default._closed:
            _default = CodePool()
            atexit.register(_default.close_now)
        return _default
