"""The code node's worker: runs in its own process, reads requests on stdin, answers on stdout.

Started by `flowbox.engine.codebox` as `python -I codeworker.py MEMORY CPU` (a frozen binary calls
`main()` through `flowbox --flowbox-code-worker`). Standard library only, and no flowbox import: it runs
as a script, outside the package (its siblings codeseccomp.py and codejs.py are loaded as files). Frames are a
4-byte big-endian length and a JSON body; a request is `{"code", "mode", "items", "context", "itemErrors",
"language"}` (JavaScript runs in `codejs`), answered by `{"op": "done", "ok", "logs", "retire", "items" |
"error"}`; while it runs, the code's `_("Node")` asks the server `{"op": "node", "name"}`.
"""

from __future__ import annotations

import ast
import builtins
import contextlib
import datetime
import faulthandler
import io
import json
import linecache
import math
import os
import reprlib
import resource
import struct
import sys
import traceback
from typing import Any, BinaryIO

FILENAME = "<code>"
LOG_LIMIT = 65536
HEADER = struct.Struct(">I")
PARAMS = {
    "allItems": ("items", "_input", "_", "_now", "_today", "_vars", "_execution", "_workflow"),
    "eachItem": ("item", "_itemIndex", "_json", "_input", "_", "_now", "_today", "_vars", "_execution",
                 "_workflow"),
}
ITEM_KEYS = {"json", "binary", "pairedItem"}
POS: list[int | None] = [None]  # index of the item being processed (eachItem), for .item and error reports
compiled: dict[tuple[str, str], Any] = {}
JS: list[Any] = [None]  # flowbox.engine.codejs once main() loaded it (at the worker's first JavaScript request)
IN: BinaryIO
OUT: BinaryIO


class AttrDict(dict):
    """A dict whose keys also read as attributes: item.json, _vars.NAME."""

    def __getattr__(self, name: str) -> Any:
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None


class Items:
    """_input and _("Node"): .all(), .first(), .last() and .item (eachItem mode).

    For another node, .item is the item the current input item descends from
    (`paired[i]` is its row index); without lineage it falls back to the position.
    """

    def __init__(self, rows: list[Any], pos: list[int | None], label: str,
                 paired: list[int | None] | None = None) -> None:
        self._rows, self._pos, self._label, self._paired = rows, pos, label, paired

    def all(self) -> list[AttrDict]:
        return [AttrDict(json=row) for row in self._rows]

    def first(self) -> AttrDict | None:
        return AttrDict(json=self._rows[0]) if self._rows else None

    def last(self) -> AttrDict | None:
        return AttrDict(json=self._rows[-1]) if self._rows else None

    @property
    def item(self) -> AttrDict | None:
        i = self._pos[0]
        if i is None:
            raise AttributeError(f"{self._label}.item exists only in eachItem mode; use .all() or .first()")
        if self._paired is not None:
            j = self._paired[i] if i < len(self._paired) else None
            if j is None:
                raise LookupError(f"no item of {self._label} is paired with input item {i}")
            i = j
        return AttrDict(json=self._rows[i]) if i < len(self._rows) else None

    def __len__(self) -> int:
        return len(self._rows)

    def __repr__(self) -> str:
        return f"<{self._label}: {len(self._rows)} items>"


class Capture(io.TextIOBase):
    """sys.stdout/sys.stderr during a request: keeps the first LOG_LIMIT characters."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.size = 0

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        if not isinstance(text, str):
            raise TypeError(f"write() argument must be str, not {type(text).__name__}")
        if self.size < LOG_LIMIT:
            self.parts.append(text[: LOG_LIMIT - self.size])
        self.size += len(text)
        return len(text)

    def getvalue(self) -> str:
        text = "".join(self.parts)
        return text + f"\n[{self.size - LOG_LIMIT} more characters cut]" if self.size > LOG_LIMIT else text


class ResultError(Exception):
    """The code returned something that is not items; `index` is the item it was returned for."""

    def __init__(self, message: str, index: int | None = None) -> None:
        super().__init__(message)
        self.index = index


def recv() -> Any:
    """The next frame from the server, or None when it closed the pipe."""
    head = IN.read(4)
    if len(head) < 4:
        return None
    (size,) = HEADER.unpack(head)
    data = IN.read(size)
    return json.loads(data) if len(data) == size else None


def send(data: bytes) -> None:
    """One frame to the server."""
    OUT.write(HEADER.pack(len(data)))
    OUT.write(data)
    OUT.flush()


def describe(value: Any) -> str:
    """'an int 5', 'a set {1, 2}': what the code gave, for error messages."""
    if value is None:
        return "None"
    name = type(value).__name__
    return f"{'an' if name[0] in 'aeiouAEIOU' else 'a'} {name} {reprlib.repr(value)}"


def build(code: str, mode: str) -> Any:
    """The user's code as a function of the mode's names (compiled once per code text)."""
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


def to_item(value: Any, where: str, index: int | None) -> dict[str, Any]:
    """A returned dict as an item (`{"json": ...}` given as is, else wrapped)."""
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


def find_bad(value: Any, path: str, stack: set[int]) -> tuple[str, str] | None:
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


def encode_default(value: Any) -> str:
    if isinstance(value, (datetime.date, datetime.time)):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON-serialisable")


def encode_items(out: list[dict[str, Any]], each: bool) -> bytes:
    """The items as JSON, or a ResultError naming the first value JSON cannot hold."""
    try:
        return json.dumps(out, default=encode_default, allow_nan=False, ensure_ascii=False,
                          separators=(",", ":")).encode()
    except (TypeError, ValueError, RecursionError, UnicodeEncodeError) as exc:
        for k, item in enumerate(out):
            if "json" not in item:  # an item's error (itemErrors): plain text and numbers
                continue
            found = find_bad(item["json"], "json", set()) or find_bad(item.get("binary"), "binary", set())
            if found:
                index = item.get("pairedItem") if each else None
                where = f"for item {index}" if each else f"in item {k} of the list"
                raise ResultError(f"the code returned a value that is not JSON-serialisable {where}: "
                                  f"the value at {found[0] or 'the top'} is {found[1]}", index) from None
        raise ResultError(f"the code returned a value that is not JSON-serialisable: {exc}") from None


def run(req: dict[str, Any], fetch_cache: dict[str, Items]) -> bytes:
    """Run one request's code; the encoded items."""
    POS[0] = None
    mode, rows, ctx = req["mode"], req["items"], req.get("context") or {}
    now = datetime.datetime.fromisoformat(ctx["now"]) if ctx.get("now") else datetime.datetime.now()
    if now.tzinfo is None:
        now = now.astimezone()
    today = now.replace(hour=0, minute=0, second=0, microsecond=0)
    pos = POS

    def node(name: str) -> Items:
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

    if req.get("language") == "javaScript":
        if JS[0] is None:
            raise ResultError("JavaScript cannot run: the code worker could not load QuickJS (engine/codejs.py)")
        return encode_items(JS[0].run(req, ResultError), mode == "eachItem")
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
    out: list[dict[str, Any]] = []
    for i, item in enumerate(rows):
        pos[0] = i
        try:
            value = fn(item, i, item, *common)
            if value is not None:
                if not isinstance(value, dict):
                    raise ResultError(f"the code returned {describe(value)} for item {i}; in eachItem mode it "
                                      "must return a dict (or None to drop the item)", i)
                out.append(to_item(value, f"the value returned for item {i}", i))
        except Exception as exc:
            if not req.get("itemErrors") or isinstance(exc, MemoryError):
                raise
            out.append({"error": error_info(exc), "pairedItem": i})
    while True:
        try:
            return encode_items(out, True)
        except ResultError as exc:  # with itemErrors, only the item that cannot be encoded fails
            bad = next((k for k, entry in enumerate(out) if entry.get("pairedItem") == exc.index), None)
            if not req.get("itemErrors") or bad is None:
                raise
            out[bad] = {"error": error_info(exc), "pairedItem": exc.index}


def user_line(tb: Any) -> int | None:
    """The last line of the user's code in a traceback."""
    line = None
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == FILENAME:
            line = tb.tb_lineno
        tb = tb.tb_next
    return line


def error_info(exc: BaseException) -> dict[str, Any]:
    """What the server needs to word an error of the user's code (`CodePool._error`)."""
    if isinstance(exc, SyntaxError):
        text = (exc.text or "").rstrip("\n")
        caret = " " * (max(exc.offset or 1, 1) - 1) + "^" if text else ""
        return {"kind": "syntax", "type": type(exc).__name__, "message": exc.msg, "line": exc.lineno,
                "traceback": f"{text}\n{caret}" if text else ""}
    if isinstance(exc, ResultError):
        return {"kind": "result", "message": str(exc), "itemIndex": exc.index}
    tb = exc.__traceback__
    while tb is not None and tb.tb_frame.f_code.co_filename != FILENAME:
        tb = tb.tb_next
    try:
        message = str(exc)
        text = "".join(traceback.format_exception(type(exc), exc, tb))
    except BaseException:
        message, text = "", ""
    return {"kind": "runtime", "type": type(exc).__name__, "message": message,
            "line": user_line(exc.__traceback__), "traceback": text, "itemIndex": POS[0]}


def handle(req: dict[str, Any]) -> bytes:
    """One request, with print() captured: the reply frame."""
    capture = Capture()
    sys.stdout = sys.stderr = capture
    error: dict[str, Any] | None = None
    body = b""
    try:
        body = run(req, {})
    except BaseException as exc:
        error = error_info(exc)
    finally:
        sys.stdout, sys.stderr = sys.__stdout__, sys.__stderr__
    head: dict[str, Any] = {"op": "done", "ok": error is None, "logs": capture.getvalue()}
    if error is not None:
        head["error"] = error
        return json.dumps(head).encode()
    return json.dumps(head).encode()[:-1] + b',"items":' + body + b"}"


def limit(kind: int, value: int) -> None:
    """Lower a resource limit (never above the hard limit; RLIMIT_CPU keeps its hard limit)."""
    soft, hard = resource.getrlimit(kind)
    if hard != resource.RLIM_INFINITY:
        value = min(value, hard)
    resource.setrlimit(kind, (value, hard if kind == resource.RLIMIT_CPU else value))


# --- network: a relay from 127.0.0.1 inside the sandbox to the server's filtering proxy -----------------------

def pump(src: Any, dst: Any) -> None:
    """Copy one direction of a connection until it ends, then shut both sockets down and close `src` (also
    the server's proxy's pump: `codesandbox.NetProxy`)."""
    import socket

    try:
        while data := src.recv(65536):
            dst.sendall(data)
    except OSError:
        pass
    finally:
        for sock in (src, dst):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        src.close()


def relay_network(path: str) -> int:
    """Listen on 127.0.0.1 (the sandbox's own loopback) and carry each connection to the proxy socket at
    `path`, where the server lets through what the workflow allows. Returns the port."""
    import socket
    import threading

    listener = socket.create_server(("127.0.0.1", 0))

    def serve() -> None:
        while True:
            conn, _ = listener.accept()
            up = socket.socket(socket.AF_UNIX)
            try:
                up.connect(path)
            except OSError:
                conn.close()
                up.close()
                continue
            threading.Thread(target=pump, args=(conn, up), daemon=True).start()
            threading.Thread(target=pump, args=(up, conn), daemon=True).start()

    threading.Thread(target=serve, daemon=True).start()
    return int(listener.getsockname()[1])


# --- the process that runs one request ------------------------------------------------------------------------

def child(raw: bytes, channel: Any, limits: dict[str, Any]) -> None:
    """Run one request in a fresh fork: limits, seccomp, then the user's code; never returns."""
    global IN, OUT
    import signal

    os.setpgid(0, 0)  # without a PID namespace, the worker kills this group when the request ends
    signal.signal(signal.SIGINT, signal.default_int_handler)
    IN, OUT = channel.makefile("rb"), channel.makefile("wb")
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    if limits["memory"] > 0:
        limit(resource.RLIMIT_AS, limits["memory"])
    if limits["cpu"] > 0:
        limit(resource.RLIMIT_CPU, limits["cpu"])
    if limits["processes"] > 0:
        limit(resource.RLIMIT_NPROC, limits["processes"])
    req = json.loads(raw)
    req["memoryLimit"] = limits["memory"]
    if req.get("network") and limits["proxy"]:
        url = f"http://127.0.0.1:{relay_network(limits['proxy'])}"
        os.environ.update({"HTTP_PROXY": url, "HTTPS_PROXY": url, "http_proxy": url, "https_proxy": url})
    if limits["seccomp"]:
        limits["seccomp"]()
    try:
        data = handle(req)
    except BaseException as exc:
        data = json.dumps({"op": "done", "ok": False, "logs": "", "error": {
            "kind": "internal", "type": type(exc).__name__, "message": str(exc)}}).encode()
    send(data)
    os._exit(0)


def read_exact(fd: int, size: int) -> bytes | None:
    """`size` bytes from fd, or None at end of file."""
    parts, left = [], size
    while left:
        chunk = os.read(fd, left)
        if not chunk:
            return None
        parts.append(chunk)
        left -= len(chunk)
    return b"".join(parts)


def write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def end_request(pid: int) -> None:
    """Kill what the request left running. As the sandbox's PID 1 that is every other process in it (a setsid
    or a double fork does not escape); in a plain process (FLOWBOX_CODE_SANDBOX=process) the child's group."""
    import signal

    try:
        if os.getpid() == 1:
            os.kill(-1, signal.SIGKILL)
        else:
            os.killpg(pid, signal.SIGKILL)
    except OSError:
        pass
    while True:
        try:
            os.waitpid(-1 if os.getpid() == 1 else pid, 0)
        except OSError:  # ChildProcessError: none left
            break
    wipe(os.getcwd())
    if os.getpid() == 1:
        wipe("/dev/shm")


def wipe(folder: str) -> None:
    """Empty a scratch folder (whatever modes the code gave its files) for the next request; mount points
    (a runtime bound under /tmp) and what leads to them stay."""
    try:
        device = os.stat(folder).st_dev
        entries = list(os.scandir(folder))
    except OSError:
        return
    for entry in entries:
        with contextlib.suppress(OSError):
            if entry.stat(follow_symlinks=False).st_dev != device:
                continue
            if entry.is_dir(follow_symlinks=False):
                with contextlib.suppress(OSError):
                    os.chmod(entry.path, 0o700)
                wipe(entry.path)
                os.rmdir(entry.path)
            else:
                os.unlink(entry.path)


def serve_one(server_in: int, server_out: int, raw: bytes, limits: dict[str, Any]) -> bool:
    """Fork a child for one request and relay its frames to the server until it exits; then say how it
    ended (`{"op": "exit", "status"}`). False when the server went away."""
    import select
    import socket

    ours, theirs = socket.socketpair()
    pid = os.fork()
    if pid == 0:
        try:
            ours.close()
            os.close(server_in)
            os.close(server_out)
            child(raw, theirs, limits)
        except BaseException:
            traceback.print_exc()
        finally:
            os._exit(70)
    theirs.close()
    pidfd = os.pidfd_open(pid)
    poller = select.poll()
    for fd in (server_in, ours.fileno(), pidfd):
        poller.register(fd, select.POLLIN)
    buf = bytearray()
    status: int | None = None
    alive = True

    def forward() -> None:
        while len(buf) >= 4:
            (size,) = HEADER.unpack_from(buf)
            if len(buf) < 4 + size:
                return
            write_all(server_out, bytes(buf[:4 + size]))
            del buf[:4 + size]

    while status is None:
        for fd, _event in poller.poll(1000):
            if fd == server_in:
                chunk = os.read(server_in, 1 << 20)
                if not chunk:  # the server is gone: so is this worker
                    alive = False
                    poller.unregister(server_in)
                    os.kill(pid, 9)
                    continue
                with contextlib.suppress(OSError):
                    ours.sendall(chunk)  # the answer to a _("Node") question
            elif fd == ours.fileno():
                chunk = ours.recv(1 << 20)
                if not chunk:
                    poller.unregister(fd)
                buf += chunk
                forward()
            elif fd == pidfd:
                status = os.waitpid(pid, 0)[1]
        if os.getpid() == 1:  # reap orphans (zombies count against the process limit)
            while True:
                try:
                    found, code = os.waitpid(-1, os.WNOHANG)
                except ChildProcessError:
                    break
                if found == 0:
                    break
                if found == pid:
                    status = code
    ours.setblocking(False)
    try:
        while chunk := ours.recv(1 << 20):
            buf += chunk
    except OSError:
        pass
    forward()
    os.close(pidfd)
    end_request(pid)
    ours.close()
    if alive:
        reply = json.dumps({"op": "exit", "status": status}).encode()
        write_all(server_out, HEADER.pack(len(reply)) + reply)
    return alive


def sibling(name: str) -> Any:
    """The module `name` beside this file (codeseccomp, codejs): run as a script, this worker has no package."""
    import importlib.util

    spec = (importlib.util.find_spec(f"{__package__}.{name}") if __package__ else
            importlib.util.spec_from_file_location(name, os.path.join(os.path.dirname(__file__), f"{name}.py")))
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module


def load_js() -> Any:
    """codejs with QuickJS and its prelude, loaded once before any fork; None without it."""
    try:
        module = sibling("codejs")
        module.prepare()
        return module
    except Exception as exc:  # the JavaScript Code node then says so; Python code runs on
        print(f"flowbox code worker: no JavaScript ({type(exc).__name__}: {exc})", file=sys.stderr)
        return None


def main() -> None:
    """Serve requests until the server closes stdin: `codeworker.py MEMORY CPU PROCESSES SECCOMP PROXY UID:GID`.

    This process never runs user code: each request runs in a fork of it, which exits afterwards, so nothing
    one run changes (modules, builtins, files in scratch, processes) is there for the next.
    """
    import ctypes
    import signal

    memory, cpu, processes, seccomp = (int(arg) for arg in sys.argv[1:5])
    proxy, drop = (sys.argv[5:7] + ["", ""])[:2]
    if drop:  # root's sandbox: become the unprivileged uid of this worker before anything else
        uid, gid = (int(part) for part in drop.split(":"))
        os.setgroups([])
        os.setresgid(gid, gid, gid)
        os.setresuid(uid, uid, uid)
    limits = {"memory": memory, "cpu": cpu, "processes": processes, "seccomp": None, "proxy": proxy}
    server_in, server_out = os.dup(0), os.dup(1)
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    os.dup2(2, 1)
    faulthandler.enable()
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    ctypes.CDLL(None).prctl(4, 0, 0, 0, 0)  # PR_SET_DUMPABLE 0: no /proc/<pid>/mem of this process for the code
    if seccomp:
        limits["seccomp"] = sibling("codeseccomp").seccomp_installer()
        if limits["seccomp"] is None:
            print(f"flowbox code worker: no seccomp filter for {os.uname().machine}", file=sys.stderr)
    import select  # noqa: F401 - imported once here, not in every child
    import socket  # noqa: F401
    import threading  # noqa: F401

    while True:
        head = read_exact(server_in, 4)
        raw = read_exact(server_in, HEADER.unpack(head)[0]) if head else None
        if JS[0] is None and raw is not None and b'"javaScript"' in raw:
            JS[0] = load_js()  # on the first JavaScript request, here: the later requests' forks start from it
        if raw is None or not serve_one(server_in, server_out, raw, limits):
            return


if __name__ == "__main__":
    main()
