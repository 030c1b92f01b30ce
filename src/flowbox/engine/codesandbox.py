"""The sandbox a code-node worker runs in, and the only way out of it to the network.

A worker (`flowbox.engine.codeworker`) is started inside bubblewrap (`bwrap`, the sandbox tool of Flatpak)
with new user, PID, network, IPC, UTS and cgroup namespaces:

- the filesystem is empty but for read-only binds of /usr (and /bin, /lib... as on the host), a few files of
  /etc (the dynamic loader's cache, time zone, CA certificates), the Python runtime and the worker (or the
  one-file binary and the files it unpacked); /proc is the sandbox's own, /dev a minimal one, /tmp a
  private tmpfs of `FLOWBOX_CODE_SCRATCH_MB` (the working directory), and so is /dev/shm. The data dir is
  never bound, and hidden under an empty tmpfs should it lie inside a bound folder;
- the worker is PID 1 of its PID namespace: it sees no other process, and when it ends its requests'
  processes go with it; killing the outer bwrap (a timeout) ends the whole tree, setsid or not;
- no network interface but its own loopback; a workflow that lists hosts in `settings.codeNetwork` gets
  them through `NetProxy`, a filtering HTTP proxy in the server reached over a unix socket (below);
- no further user namespaces (bwrap --disable-userns), no capabilities, no new privileges; the worker adds
  a seccomp filter and rlimits (memory, CPU, `FLOWBOX_CODE_MAX_PROCESSES`) in each request's process.

When the server runs as root, bwrap runs privileged: it makes the namespaces and mounts as root (so it can
bind a runtime under /root), keeps only CAP_SETUID/CAP_SETGID for the worker, which drops to an unprivileged
uid of its own before it reads a request: `FLOWBOX_CODE_USER` (a name or uid[:gid]), by default one uid per
worker from 1900000000 up, used by nothing else (root is exempt from RLIMIT_NPROC and owns most files, and
a uid of its own makes the process limit count that worker's processes only). As an ordinary user (the
systemd unit, the desktop binary), bwrap makes an unprivileged user namespace instead and the sandbox keeps
the server's uid; the PID namespace is what keeps it from the server's processes then.

`FLOWBOX_CODE_SANDBOX=process` is the explicit, logged, less isolated fallback for a platform without it
(no bwrap, no unprivileged user namespaces, macOS): a plain child process of the server's user, with the
rlimits, the seccomp filter and a fresh process per request, but the server's view of files, processes
and network. The default refuses to run code instead, naming what is missing.
"""

from __future__ import annotations

import contextlib
import fnmatch
import ipaddress
import logging
import os
import shutil
import socket
import subprocess
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from flowbox.engine.codeworker import pump
from flowbox.errors import ConfigError, NodeError

log = logging.getLogger("flowbox.codebox")

MODES = ("strict", "process")
FIRST_UID = 1_900_000_000  # root's sandboxes run as FIRST_UID + n (n < UIDS), unless FLOWBOX_CODE_USER says
UIDS = 4096
PROXY_PATH = "/run/flowbox/net.sock"  # where a worker finds its proxy socket, inside the sandbox
SCRATCH = "/tmp"
# what of /etc a Python process needs: the loader's cache, time zone, CA certificates, name service files
ETC = ("ld.so.cache", "ld.so.conf", "ld.so.conf.d", "localtime", "timezone", "ssl", "ca-certificates",
       "ca-certificates.conf", "pki", "crypto-policies", "alternatives", "nsswitch.conf", "hosts", "host.conf",
       "gai.conf", "protocols", "services", "mime.types")
TOP = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")
FALLBACK_HINT = ("or set FLOWBOX_CODE_SANDBOX=process to run code as a plain process with less isolation (it "
                 "can then read what the server's user can read, and reach its network)")


def _env_int(name: str, default: int) -> int:
    value = os.environ.get(name) or str(default)
    try:
        return int(value)
    except ValueError:
        raise ConfigError(f"{name} must be a whole number, got {value!r}") from None


def _code_user(spec: str) -> tuple[int, int]:
    """uid and gid of FLOWBOX_CODE_USER: a user name, or uid[:gid]."""
    import pwd

    if spec.replace(":", "").isdigit():
        uid, _, gid = spec.partition(":")
        return int(uid), int(gid or uid)
    try:
        entry = pwd.getpwnam(spec)
    except KeyError:
        raise ConfigError(f"FLOWBOX_CODE_USER={spec!r}: no such user (give a name or a uid[:gid])") from None
    return entry.pw_uid, entry.pw_gid


@dataclass(frozen=True)
class SandboxConfig:
    """How code workers are isolated (FLOWBOX_CODE_* variables, read when a pool is made)."""

    mode: str = "strict"
    processes: int = 32  # processes and threads one run may have (RLIMIT_NPROC inside the sandbox)
    scratch_mb: int = 64  # size of /tmp (and of /dev/shm) inside the sandbox
    user: tuple[int, int] | None = None  # uid, gid the sandbox drops to when the server is root
    user_per_worker: bool = True  # user is the first of a range, one uid per worker (FLOWBOX_CODE_USER unset)
    hide: tuple[str, ...] = ()  # folders that must not be seen even if inside a bound one (the data dir)

    @classmethod
    def from_env(cls) -> SandboxConfig:
        mode = os.environ.get("FLOWBOX_CODE_SANDBOX") or "strict"
        if mode not in MODES:
            raise ConfigError(f"FLOWBOX_CODE_SANDBOX must be 'strict' or 'process', got {mode!r}")
        user, spec = None, os.environ.get("FLOWBOX_CODE_USER")
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            user = _code_user(spec) if spec else (FIRST_UID, FIRST_UID)
        hide = [os.environ.get(name) for name in ("FLOWBOX_DATA_DIR", "FLOWBOX_FILES_DIR")]
        with contextlib.suppress(Exception):
            from flowbox.settings import default_data_dir

            hide.append(str(default_data_dir()))
        return cls(mode=mode, processes=_env_int("FLOWBOX_CODE_MAX_PROCESSES", 32),
                   scratch_mb=_env_int("FLOWBOX_CODE_SCRATCH_MB", 64), user=user, user_per_worker=not spec,
                   hide=tuple(os.path.realpath(path) for path in hide if path))

    def describe(self) -> str:
        """One line for logs and benchmarks."""
        if self.mode == "process":
            return "process (FLOWBOX_CODE_SANDBOX=process: no sandbox)"
        who = ("the server's uid" if self.user is None else f"uid {self.user[0]}+" if self.user_per_worker
               else f"uid {self.user[0]}")
        return f"bwrap sandbox as {who}, {self.processes} processes, {self.scratch_mb} MB scratch"


@dataclass
class Launch:
    """What `subprocess.Popen` needs to start one worker; `close()` after the start."""

    argv: list[str]
    env: dict[str, str]
    cwd: str
    fds: list[int] = field(default_factory=list)

    def close(self) -> None:
        for fd in self.fds:
            with contextlib.suppress(OSError):
                os.close(fd)
        self.fds.clear()


def runtime_paths() -> list[str]:
    """The folders and files a worker runs from: the Python installation and the worker, or the one-file
    binary and the folder it unpacked to."""
    if getattr(sys, "frozen", False):
        return [sys._MEIPASS, sys.executable]  # type: ignore[attr-defined]
    paths = {sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix,
             str(Path(os.path.realpath(sys.executable)).parent.parent),
             *(str(Path(__file__).with_name(name)) for name in ("codeworker.py", "codeseccomp.py", "codejs.py", "js"))}
    kept: list[str] = []
    for path in sorted(os.path.realpath(p) for p in paths):  # a parent sorts before what is inside it
        if path != "/" and not path.startswith("/usr/") and not any(path.startswith(k + "/") for k in kept):
            kept.append(path)
    for path in list(kept):
        if os.path.realpath(path) != path or not os.path.exists(path):
            kept.remove(path)
    return kept


def _open_path(path: str) -> int:
    return os.open(path, os.O_PATH | os.O_CLOEXEC)


def worker_user(config: SandboxConfig, n: int) -> tuple[int, int] | None:
    """The uid and gid worker number `n` drops to (None: it keeps the server's, in a user namespace)."""
    if config.user is None:
        return None
    if not config.user_per_worker:
        return config.user
    return config.user[0] + n % UIDS, config.user[1] + n % UIDS


def bwrap_launch(config: SandboxConfig, command: list[str], env: dict[str, str], proxy: str | None) -> Launch:
    """The bwrap command line that runs `command` (the worker) in the sandbox described above."""
    bwrap = shutil.which("bwrap")
    if bwrap is None:
        raise NodeError("the code node runs in a sandbox made with bubblewrap (bwrap), which is not installed "
                        "here: install it (apt-get install bubblewrap, dnf install bubblewrap, ...), "
                        + FALLBACK_HINT)
    launch = Launch([bwrap, "--unshare-pid", "--unshare-net", "--unshare-ipc", "--unshare-uts",
                     "--unshare-cgroup-try", "--die-with-parent", "--as-pid-1", "--new-session",
                     "--hostname", "flowbox-code", "--clearenv"], {}, "/")
    args = launch.argv
    if config.user is None:  # an ordinary user: an unprivileged user namespace, and none inside it
        args += ["--unshare-user", "--disable-userns"]
    else:  # root: privileged bwrap; the worker drops to its own uid with these two and nothing else
        args += ["--cap-drop", "ALL", "--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID"]
    for key, value in {**env, "HOME": SCRATCH, "TMPDIR": SCRATCH}.items():
        args += ["--setenv", key, value]
    bound: list[str] = []
    made: set[str] = set()

    def bind(src: str, dest: str | None = None, writable: bool = False) -> None:
        dest = dest or src
        parent = os.path.dirname(dest)
        ancestors = []
        while parent not in ("/", "") and parent not in made and not any(
                parent == b or parent.startswith(b + "/") for b in bound):
            ancestors.append(parent)
            parent = os.path.dirname(parent)
        for folder in reversed(ancestors):  # bwrap would make them 0700, closed to a dropped uid
            args.extend(["--perms", "0755", "--dir", folder])
            made.add(folder)
        launch.fds.append(_open_path(src))
        args.extend(["--bind-fd" if writable else "--ro-bind-fd", str(launch.fds[-1]), dest])
        bound.append(dest)

    size = str(config.scratch_mb * 1024 * 1024)  # first, so that a runtime in the host's /tmp binds on top
    args += ["--proc", "/proc", "--dev", "/dev", "--perms", "1777", "--size", size, "--tmpfs", SCRATCH,
             "--perms", "1777", "--size", size, "--tmpfs", "/dev/shm"]
    made.update(("/proc", "/dev", SCRATCH, "/dev/shm"))
    try:
        for top in TOP:
            if os.path.islink(top):
                args += ["--symlink", os.readlink(top), top]
            elif os.path.isdir(top):
                bind(top)
        for name in ETC:
            if os.path.exists(f"/etc/{name}"):
                bind(os.path.realpath(f"/etc/{name}"), f"/etc/{name}")
        for path in runtime_paths():
            bind(path)
        for hidden in config.hide:
            if os.path.isdir(hidden) and any(hidden == b or hidden.startswith(b.rstrip("/") + "/") for b in bound):
                args += ["--tmpfs", hidden]
        if proxy is not None:
            bind(proxy, PROXY_PATH, writable=True)
    except OSError:
        launch.close()
        raise
    args += ["--remount-ro", "/dev", "--remount-ro", "/", "--chdir", SCRATCH]  # writable: /tmp, /dev/shm
    args += ["--", *command]
    return launch


def launch_error(stderr: str) -> NodeError:
    """The error for a sandbox that would not start, from what bwrap said."""
    said = " ".join(line.strip() for line in stderr.splitlines() if line.strip())[-400:] or "no message"
    return NodeError(
        f"the code node's sandbox cannot start ({said}). It needs unprivileged user namespaces: on Linux "
        "check sysctl user.max_user_namespaces (> 0) and kernel.unprivileged_userns_clone (1 where it exists); "
        "on Ubuntu 23.10+ AppArmor must allow bwrap to create them; in Docker run with --security-opt "
        "seccomp=unconfined (or a profile that allows unshare and mount); under systemd RestrictNamespaces must "
        "allow user pid net ipc mnt uts; " + FALLBACK_HINT)


_checked: dict[tuple[Any, ...], str | None] = {}
_checked_lock = threading.Lock()


def check(config: SandboxConfig) -> None:
    """Raise a NodeError naming what is missing when this platform cannot give the sandbox (checked once)."""
    if config.mode == "process":
        return
    if not sys.platform.startswith("linux"):
        raise NodeError(f"the code node's sandbox needs Linux namespaces, which {sys.platform} does not have; "
                        + FALLBACK_HINT)
    key = (config.user, os.environ.get("PATH"))
    with _checked_lock:
        if key not in _checked:
            launch = bwrap_launch(config, ["/bin/sh", "-c", "exit 0"] if os.path.exists("/bin/sh") else ["true"],
                                  {"PATH": "/usr/bin:/bin"}, None)
            try:
                proc = subprocess.run(launch.argv, env=launch.env, cwd=launch.cwd, pass_fds=launch.fds,
                                      capture_output=True, text=True, timeout=30)
                _checked[key] = None if proc.returncode == 0 else (proc.stderr or f"exit code {proc.returncode}")
            except (OSError, subprocess.SubprocessError) as exc:
                _checked[key] = str(exc)
            finally:
                launch.close()
        failure = _checked[key]
    if failure is not None:
        raise launch_error(failure)


def open_unpacked_dir(config: SandboxConfig) -> None:
    """A one-file binary unpacks itself into a folder only its user may enter (0700); a sandbox running as
    FLOWBOX_CODE_USER must read it, so it becomes 0755 (it holds the program, no data)."""
    if getattr(sys, "frozen", False) and config.mode == "strict" and config.user is not None:
        with contextlib.suppress(OSError):
            os.chmod(sys._MEIPASS, 0o755)  # type: ignore[attr-defined]


# --- network --------------------------------------------------------------------------------------------------

class Allowlist:
    """`settings.codeNetwork` of a workflow: "host:port" entries ("api.example.com:443", "*.example.com:443",
    "10.0.0.5:8080", "[::1]:8000"); a host without a port allows 80 and 443; "*" any host (port 80, 443),
    "*:*" any host and port. A host name is resolved by the server; an address it resolves to that is
    loopback, link-local (cloud metadata) or unspecified is refused unless the entry names it literally."""

    def __init__(self, entries: Any) -> None:
        if entries in (None, False, [], ""):
            entries = []
        if isinstance(entries, str):
            entries = [entries]
        if not isinstance(entries, list) or not all(isinstance(e, str) and e.strip() for e in entries):
            raise NodeError('settings.codeNetwork must be a list of "host:port" strings, e.g. '
                            '["api.example.com:443"]')
        self.rules: list[tuple[str, str]] = [self._split(entry.strip().lower()) for entry in entries]

    @staticmethod
    def _split(entry: str) -> tuple[str, str]:
        if entry.startswith("["):
            host, _, rest = entry[1:].partition("]")
            port = rest[1:] if rest.startswith(":") else ""
        elif entry.count(":") == 1:
            host, port = entry.split(":")
        else:
            host, port = entry, ""
        if not host or not (port in ("", "*") or (port.isdigit() and 0 < int(port) < 65536)):
            raise NodeError(f"settings.codeNetwork: {entry!r} is not host:port")
        return host, port

    def __bool__(self) -> bool:
        return bool(self.rules)

    def matches(self, host: str, port: int) -> str | None:
        """The host pattern of the first rule that allows host:port, or None."""
        host = host.lower().strip("[]")
        for pattern, allowed in self.rules:
            port_ok = allowed == "*" or (allowed == "" and port in (80, 443)) or allowed == str(port)
            if port_ok and (pattern == host or fnmatch.fnmatchcase(host, pattern)):
                return pattern
        return None


def _literal(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return host == "localhost"
    return True


def _private(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%")[0])
    return ip.is_loopback or ip.is_link_local or ip.is_unspecified or ip.is_multicast


class NetProxy:
    """A worker's way out: an HTTP proxy (CONNECT, and absolute-form plain HTTP) on a unix socket that is
    bound into its sandbox. `allow` is the workflow's Allowlist while a request runs, else empty."""

    def __init__(self, folder: str, name: str) -> None:
        self.path = os.path.join(folder, f"{name}.sock")
        self.allow = Allowlist([])
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._sock.bind(self.path)
        os.chmod(self.path, 0o666)  # the folder (0700) keeps others out; the sandbox's user must connect
        self._sock.listen(16)
        self._closed = False
        threading.Thread(target=self._serve, name="codebox-net", daemon=True).start()

    def close(self) -> None:
        self._closed = True
        with contextlib.suppress(OSError):
            self._sock.shutdown(socket.SHUT_RDWR)
        self._sock.close()
        with contextlib.suppress(OSError):
            os.unlink(self.path)

    def _serve(self) -> None:
        while not self._closed:
            try:
                conn, _ = self._sock.accept()
            except OSError:
                return
            threading.Thread(target=self._handle, args=(conn, self.allow), name="codebox-net", daemon=True).start()

    @staticmethod
    def _refuse(conn: socket.socket, status: str, reason: str) -> None:
        body = f"flowbox: {reason}\n".encode()
        with contextlib.suppress(OSError):
            conn.sendall(f"HTTP/1.1 {status}\r\nContent-Type: text/plain\r\nContent-Length: {len(body)}\r\n"
                         f"Connection: close\r\n\r\n".encode() + body)
        conn.close()

    def _handle(self, conn: socket.socket, allow: Allowlist) -> None:
        conn.settimeout(30)
        head = b""
        try:
            while b"\r\n\r\n" not in head and len(head) < 65536:
                chunk = conn.recv(65536)
                if not chunk:
                    conn.close()
                    return
                head += chunk
        except OSError:
            conn.close()
            return
        line, _, rest = head.partition(b"\r\n")
        try:
            method, target, version = line.decode("latin-1").split(" ")
            host, port, first = self._target(method, target, version, rest)
        except ValueError:
            self._refuse(conn, "400 Bad Request", "not a proxy request")
            return
        pattern = allow.matches(host, port)
        if pattern is None:
            self._refuse(conn, "403 Forbidden", f"{host}:{port} is not in this workflow's settings.codeNetwork")
            return
        try:
            addresses = [info[4] for info in socket.getaddrinfo(host.strip("[]"), port, type=socket.SOCK_STREAM)]
            if not _literal(pattern):
                addresses = [a for a in addresses if not _private(a[0])]
            if not addresses:
                raise OSError(f"{host} resolves only to local addresses")
            up = socket.create_connection(addresses[0][:2], timeout=30)
        except OSError as exc:
            self._refuse(conn, "502 Bad Gateway", f"cannot reach {host}:{port}: {exc}")
            return
        try:
            if method == "CONNECT":
                conn.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
            else:
                up.sendall(first)
        except OSError:
            conn.close()
            up.close()
            return
        conn.settimeout(None)
        up.settimeout(None)
        threading.Thread(target=pump, args=(up, conn), name="codebox-net", daemon=True).start()
        pump(conn, up)

    @staticmethod
    def _target(method: str, target: str, version: str, rest: bytes) -> tuple[str, int, bytes]:
        """(host, port, bytes to send first) of a CONNECT host:port or a GET http://host[:port]/path."""
        if not version.startswith("HTTP/"):
            raise ValueError(version)
        if method == "CONNECT":
            host, _, port = target.rpartition(":")
            return host, int(port), b""
        if not target.startswith("http://"):
            raise ValueError(target)
        authority, slash, path = target[7:].partition("/")
        host, _, port = authority.rpartition(":") if authority.rpartition(":")[2].isdigit() and \
            not authority.endswith("]") else (authority, "", "80")
        return host, int(port), f"{method} {slash}{path} {version}\r\n".encode("latin-1") + rest

