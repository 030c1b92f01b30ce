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
The worker is `flowbox.engine.codeworker`, run as a script: stdlib only, length-prefixed
JSON over its stdin/stdout, with `print()` captured into the reply's `logs`.

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
from pathlib import Path
from queue import SimpleQueue
from typing import Any

import orjson

from flowbox.engine.codesandbox import (
    PROXY_PATH,
    Allowlist,
    Launch,
    NetProxy,
    SandboxConfig,
    bwrap_launch,
    check,
    log,
    open_unpacked_dir,
    worker_user,
)
from flowbox.errors import NodeError, NodeTimeout

MODES = ("allItems", "eachItem")
LANGUAGES = ("python", "javaScript")
_HEADER = struct.Struct(">I")
_ERR_TAIL = 4096  # bytes of worker stderr kept to explain a crash

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
WORKER_SCRIPT = Path(__file__).with_name("codeworker.py")  # run as a script: no package import, a quick start


def _worker_command(memory_mb: int, cpu_seconds: int, processes: int, proxy: str,
                    user: tuple[int, int] | None = None) -> list[str]:
    """The worker's command line (`codeworker.main` reads the limits from it)."""
    drop = f"{user[0]}:{user[1]}" if user else ""
    limits = [str(memory_mb * 1024 * 1024), str(cpu_seconds), str(processes), "1", proxy, drop]
    if getattr(sys, "frozen", False):  # a PyInstaller binary runs no scripts: it calls serve_worker()
        return [sys.executable, WORKER_FLAG, *limits]
    return [sys.executable, "-I", str(WORKER_SCRIPT), *limits]


def serve_worker() -> None:
    """Run as a worker; a frozen binary's entry point calls this when `sys.argv[1] == WORKER_FLAG`."""
    from flowbox.engine import codeworker

    sys.argv = [sys.argv[0], *sys.argv[2:]]
    codeworker.main()


class _Worker:
    """One worker process (in its sandbox), its network proxy and the tail of its stderr."""

    def __init__(self, folder: str, n: int, config: SandboxConfig, memory_mb: int, cpu_seconds: int) -> None:
        name = f"w{n}"
        env = {"PATH": os.environ.get("PATH", os.defpath), "LANG": os.environ.get("LANG") or "C.UTF-8"}
        if getattr(sys, "frozen", False):  # the one-file binary's own variables: the worker runs from the files
            env.update({k: v for k, v in os.environ.items() if k.startswith("_PYI_")})  # it unpacked, not a new copy
        self.proxy: NetProxy | None = None
        if config.mode == "strict":
            self.proxy = NetProxy(folder, name)
            command = _worker_command(memory_mb, cpu_seconds, config.processes, PROXY_PATH, worker_user(config, n))
            try:
                launch = bwrap_launch(config, command, env, self.proxy.path)
            except BaseException:
                self.proxy.close()
                raise
        else:
            scratch = tempfile.mkdtemp(prefix=f"{name}-", dir=folder)
            launch = Launch(_worker_command(memory_mb, cpu_seconds, 0, ""),
                            {**env, "HOME": scratch, "TMPDIR": scratch}, scratch)
        info = os.pipe() if self.proxy is not None else None
        if info is not None:  # bwrap tells the sandbox's PID 1 (host pid) there
            launch.fds.append(info[1])
            launch.argv[1:1] = ["--info-fd", str(info[1])]
        try:
            self.proc = subprocess.Popen(
                launch.argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                cwd=launch.cwd, env=launch.env, start_new_session=True, close_fds=True, pass_fds=launch.fds)
        except BaseException:
            if self.proxy is not None:
                self.proxy.close()
            if info is not None:
                os.close(info[0])
            raise
        finally:
            launch.close()
        self.err = bytearray()
        self.pending_exit = False  # the last request's process has not reported its end yet
        self.init_pid = self._read_init_pid(info[0]) if info is not None else None

    @staticmethod
    def _read_init_pid(fd: int) -> int | None:
        """The sandbox's PID 1 as bwrap's --info-fd says (`{"child-pid": N}`), None if it never says."""
        data = b""
        try:
            poller = select.poll()
            poller.register(fd, select.POLLIN)
            end = time.monotonic() + 10
            while b"}" not in data and poller.poll(max(0.0, end - time.monotonic()) * 1000):
                chunk = os.read(fd, 4096)
                if not chunk:
                    break
                data += chunk
        finally:
            os.close(fd)
        try:
            return int(json.loads(data)["child-pid"])
        except (ValueError, KeyError, TypeError):
            return None

    def signal(self) -> None:
        """SIGKILL the worker and with it its sandbox (safe from any thread; does not reap). The sandbox's PID 1
        is killed by its pid: bwrap's --die-with-parent cannot reach it once it changed its uid, and its death
        ends every process of its PID namespace."""
        if self.proc.returncode is None:
            if self.init_pid is not None:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(self.init_pid, signal.SIGKILL)
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
        if self.proxy is not None:
            self.proxy.close()

    def exchange(self, request: bytes, deadline: float, nodes: Mapping[str, Any]) -> dict[str, Any]:
        """Send one request, answer the code's `_("Node")` look-ups, return its reply once its process ended.

        The worker forwards what the request's process sends, then `{"op": "exit", "status"}` when that
        process is gone (and whatever it started); an exit before a reply is a crash.
        """
        if self.pending_exit:
            self._read_frames(deadline, {}, wait_exit=True)
        self.err.clear()
        try:
            stdin = self.proc.stdin
            assert stdin is not None
            stdin.write(_HEADER.pack(len(request)))
            stdin.write(request)
            stdin.flush()
        except OSError:
            raise _Crashed from None
        self.pending_exit = True
        return self._read_frames(deadline, nodes, wait_exit=False)

    def _read_frames(self, deadline: float, nodes: Mapping[str, Any], wait_exit: bool) -> dict[str, Any]:
        """Read the worker's frames until the reply (or, with `wait_exit`, until the end of the last request's
        process, which comes right after its reply: read before the next request is sent)."""
        stdin = self.proc.stdin
        out_fd, err_fd = self.proc.stdout.fileno(), self.proc.stderr.fileno()  # type: ignore[union-attr]
        poller = select.poll()
        poller.register(out_fd, select.POLLIN)
        poller.register(err_fd, select.POLLIN)
        buf = bytearray()
        reply: dict[str, Any] | None = None
        while True:
            if len(buf) >= 4:
                (size,) = _HEADER.unpack_from(buf)
                if len(buf) >= 4 + size:
                    msg = _loads(bytes(buf[4:4 + size]))
                    del buf[:4 + size]
                    op = msg.get("op")
                    if op == "exit":
                        self.pending_exit = False
                        if reply is None and not wait_exit:
                            raise _Crashed(msg.get("status"))
                        return reply or {}
                    if op == "done" and reply is None and not wait_exit:
                        if not buf:
                            return msg  # its "exit" follows; read before the next request
                        reply = msg
                    elif op == "node" and reply is None and not wait_exit:
                        self._answer(stdin, msg.get("name"), nodes)
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

    @staticmethod
    def _answer(stdin: Any, name: Any, nodes: Mapping[str, Any]) -> None:
        entry = nodes.get(name) if isinstance(name, str) else None
        if isinstance(entry, dict):  # {"rows": [...], "paired": [row index per input item]}
            reply = _dumps({"op": "node", "rows": entry.get("rows"), "paired": entry.get("paired")})
        else:
            reply = _dumps({"op": "node", "rows": entry})
        try:
            stdin.write(_HEADER.pack(len(reply)) + reply)
            stdin.flush()
        except OSError:
            raise _Crashed from None

    def _drain_err(self, wait: float) -> None:
        err_fd = self.proc.stderr.fileno()  # type: ignore[union-attr]
        poller = select.poll()
        poller.register(err_fd, select.POLLIN)
        end = time.monotonic() + wait
        while poller.poll(max(0.0, end - time.monotonic()) * 1000 if wait else 0):
            chunk = os.read(err_fd, 1 << 16)
            if not chunk:
                break
            self.err += chunk
            del self.err[:-_ERR_TAIL]

    def crash_reason(self, cpu_seconds: int, status: int | None) -> str:
        """Why the request's process (`status`: its wait status), or the worker itself (None), died; a dead
        worker is reaped."""
        if status is None:
            self.signal()
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(5)
            self._drain_err(0.5)
            code = self.proc.returncode
        else:
            self._drain_err(0)
            code = os.waitstatus_to_exitcode(status)
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
            (line for line in reversed(lines) if "Error" in line or line.startswith("bwrap:")),
            lines[-1] if lines else "")
        if status is None:
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
    """A pool of at most `size` sandboxed worker processes, started lazily and reused across requests.

    `sandbox` defaults to the FLOWBOX_CODE_* settings (`SandboxConfig.from_env`).
    """

    def __init__(self, size: int = 2, memory_mb: int = 512, cpu_seconds: int = 60,
                 sandbox: SandboxConfig | None = None) -> None:
        if size < 1:
            raise ValueError("size must be at least 1")
        self.size, self.memory_mb, self.cpu_seconds = size, memory_mb, cpu_seconds
        self.sandbox = sandbox or SandboxConfig.from_env()
        if self.sandbox.mode == "process":
            log.warning("FLOWBOX_CODE_SANDBOX=process: code nodes run as plain processes of the server's user, "
                        "without the sandbox (they can read what it can read and reach its network)")
        self._executor = ThreadPoolExecutor(max_workers=size, thread_name_prefix="codebox")
        self._slots: SimpleQueue[_Worker | None] = SimpleQueue()
        for _ in range(size):
            self._slots.put(None)
        self._folder: str | None = None
        self._spawned = 0
        self._closed = False
        self._lock = threading.Lock()  # guards _folder, _spawned, _closed and putting workers back

    async def run(self, code: str, mode: str, items: list[dict], *, timeout: float = 30.0,
                  context: dict | None = None, item_errors: bool = False, network: Any = None,
                  language: str = "python") -> list:
        """Run `code` over `items` (json dicts) in a worker; returns a `CodeResult` of `{"json": ...}` items.

        In eachItem mode every returned item carries `pairedItem`, the index of its input item.
        With `item_errors` (eachItem mode), an item whose code fails comes back as
        `{"error": NodeError, "pairedItem": i}` and the other items go on (the node's onError
        continue/errorOutput). `context` may hold "nodes" ({name: [json dicts]}), "now" (ISO text or
        datetime), "vars", "execution" and "workflow". `network` is the workflow's `settings.codeNetwork`
        (`Allowlist`): the hosts the code may reach through its proxy. Raises NodeError (NodeTimeout past
        `timeout` seconds). `language` "javaScript" runs n8n's Code node JavaScript (`codejs` in the worker): the
        nodes in `context["nodes"]` are sent with the request, not asked for.
        """
        if mode not in MODES:
            raise NodeError(f"unknown code mode {mode!r}; expected 'allItems' or 'eachItem'")
        if language not in LANGUAGES:
            raise NodeError(f"unknown code language {language!r}; expected 'python' or 'javaScript'")
        if self._closed:
            raise NodeError("the code worker pool is closed")
        allow = Allowlist(network)
        job = _Job()
        future = asyncio.get_running_loop().run_in_executor(
            self._executor, self._run, job, code, mode, items, timeout, dict(context or {}), item_errors, allow,
            language)
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
        if self._folder:
            shutil.rmtree(self._folder, ignore_errors=True)

    def _spawn(self) -> _Worker:
        check(self.sandbox)  # a NodeError naming what the platform lacks
        with self._lock:
            if self._closed:
                raise OSError("the pool is closed")
            if self._folder is None:
                self._folder = tempfile.mkdtemp(prefix="flowbox-code-")
                open_unpacked_dir(self.sandbox)
            self._spawned += 1
            n = self._spawned
        return _Worker(self._folder, n, self.sandbox, self.memory_mb, self.cpu_seconds)

    def _run(self, job: _Job, code: str, mode: str, items: list[dict], timeout: float,
             context: dict[str, Any], item_errors: bool, allow: Allowlist, language: str) -> CodeResult:
        """One request on an executor thread (there are `size` of them, so a slot is always free)."""
        nodes = (context.get("nodes") if language == "javaScript" else context.pop("nodes", None)) or {}
        try:
            request = _dumps({"code": code, "mode": mode, "items": items, "context": context, "language": language,
                              "timeout": timeout, "itemErrors": item_errors, "network": bool(allow)})
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
            if worker.proxy is not None:
                worker.proxy.allow = allow
            try:
                reply = worker.exchange(request, time.monotonic() + timeout, nodes)
            except _Expired:
                worker.dispose()
                worker, replace = None, True
                raise NodeTimeout(f"the code ran longer than {timeout:g} s and was stopped") from None
            except _Crashed as exc:
                status = exc.args[0] if exc.args else None
                reason = worker.crash_reason(self.cpu_seconds, status)
                if status is None:  # the worker itself is gone, not only the request's process
                    worker, replace = None, True
                raise NodeError(f"code worker crashed: {reason}") from None
            finally:
                if worker is not None and worker.proxy is not None:
                    worker.proxy.allow = Allowlist([])
            return self._result(reply)
        finally:
            with job.lock:
                job.worker = None  # a late cancel() must not kill the next user of this worker
            if replace and not self._closed:
                with contextlib.suppress(OSError, NodeError):
                    worker = self._spawn()
            with self._lock:
                if not self._closed:
                    self._slots.put(worker)
                    worker = None
            if worker is not None:
                worker.dispose()

    def _result(self, reply: dict[str, Any]) -> CodeResult:
        logs = reply.get("logs") or ""
        if not reply.get("ok"):
            raise self._error(reply.get("error") or {}, logs)
        result = CodeResult(
            {**entry, "error": self._error(entry["error"], logs)} if "error" in entry else entry
            for entry in reply["items"])
        result.logs = logs
        return result

    def _error(self, error: dict[str, Any], logs: str) -> NodeError:
        """The NodeError for an error the worker reported (`error_info` in the worker)."""
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
        return exc


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
