"""Escape attempts from the code node's sandbox (DESIGN §5, issue 12 item 3): each test runs hostile user code
in a real worker pool and checks that it reached nothing outside its sandbox. The server is this test process.

Run against the worker of flowbox before the sandbox (a plain child process of the same user), every test but
`test_user_code_sees_only_its_own_environment` failed, i.e. the attempt succeeded (the unbounded fork bomb was not
run there: nothing bounded it). Nothing here sends a packet off this machine: the external address is probed with
a UDP `connect()`, which only looks the route up.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from flowbox.engine.codebox import CodePool
from flowbox.errors import NodeError

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the sandbox is Linux's")

LIBC = """
import ctypes, os
libc = ctypes.CDLL(None, use_errno=True)
def call(name, *args):
    result = getattr(libc, name)(*args)
    return result, os.strerror(ctypes.get_errno()) if result == -1 else ''
"""


@pytest.fixture(scope="module")
def pool() -> Iterator[CodePool]:
    pool = CodePool(size=2)
    yield pool
    pool.close_now()


def attempt(pool: CodePool, code: str, data: dict[str, Any] | None = None, timeout: float = 10) -> dict[str, Any]:
    """Run allItems code that gets `data` as `items[0]` and returns one dict saying what it reached."""
    out = asyncio.run(pool.run(code, "allItems", [data or {}], timeout=timeout))
    return out[0]["json"]


def processes_with(token: str) -> list[int]:
    """Host pids whose command line contains `token` (the sandbox's leftovers would show here)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                if token.encode() in (entry / "cmdline").read_bytes():
                    found.append(int(entry.name))
    return found


def kill_all(pids: list[int]) -> None:
    for pid in pids:
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)


@pytest.fixture
def victim() -> Iterator[subprocess.Popen[bytes]]:
    """A process of the server's user that the code must not be able to touch."""
    proc = subprocess.Popen(["sleep", "60"])
    yield proc
    proc.kill()
    proc.wait()


def test_server_process_and_environment_are_invisible(pool: CodePool) -> None:
    code = """
pid = items[0]['pid']
out = {'listed': pid in [int(n) for n in os.listdir('/proc') if n.isdigit()]}
for what in ('environ', 'cmdline', 'maps'):
    try:
        out[what] = len(open(f'/proc/{pid}/{what}', 'rb').read())
    except OSError as exc:
        pass
return [out]
"""
    out = attempt(pool, "import os\n" + code, {"pid": os.getpid()})
    assert out == {"listed": False}, out


def test_user_code_sees_only_its_own_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FLOWBOX_ENCRYPTION_KEY", "secret-key")
    monkeypatch.setenv("PGPASSWORD", "secret-password")
    fresh = CodePool(size=1)
    try:
        env = attempt(fresh, "import os\nreturn [dict(os.environ)]")
    finally:
        fresh.close_now()
    assert not any("secret" in value for value in env.values()), env
    assert not any(key.startswith(("FLOWBOX_", "PG", "_PYI")) for key in env), env


def test_data_dir_files_are_invisible_directly_and_through_symlinks(pool: CodePool, tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir(mode=0o700)
    (data / "encryption.key").write_text("key")
    (data / "encryption.key").chmod(0o600)
    (data / "flowbox.db").write_bytes(b"SQLite format 3\0")
    code = """
import os
out = {}
for n, path in enumerate(items[0]['paths']):
    try:
        out[path] = open(path, 'rb').read().decode(errors='replace')
    except OSError:
        pass
    try:
        os.symlink(path, f'link{n}')
        out['via link ' + path] = open(f'link{n}', 'rb').read().decode(errors='replace')
    except OSError:
        pass
try:
    out['listing'] = os.listdir(items[0]['dir'])
except OSError:
    pass
return [out]
"""
    paths = [str(data / "encryption.key"), str(data / "flowbox.db"), "/etc/shadow"]
    assert attempt(pool, code, {"paths": paths, "dir": str(data)}) == {}


def test_no_signals_to_the_servers_processes(pool: CodePool, victim: subprocess.Popen[bytes]) -> None:
    code = """
import os, signal
out = {}
for name, pid in (('victim', items[0]['victim']), ('server', items[0]['server'])):
    try:
        os.kill(pid, signal.SIGKILL if name == 'victim' else 0)
        out[name] = 'signalled'
    except OSError:
        pass
return [out]
"""
    out = attempt(pool, code, {"victim": victim.pid, "server": os.getpid()})
    time.sleep(0.2)
    assert out == {} and victim.poll() is None, out


STANDIN = """
import asyncio, sys
from flowbox.engine.codebox import CodePool

async def main():
    pool = CodePool(size=1)
    try:
        await pool.run(sys.argv[1], 'allItems', [], timeout=5)
    except Exception as exc:
        print('failed:', exc, flush=True)
    print('alive', (await pool.run("return [{'after': 1}]", 'allItems', []))[0]['json'], flush=True)
    pool.close_now()

asyncio.run(main())
"""


def test_killing_the_parent_kills_no_server() -> None:
    """A stand-in server (so that a successful attempt does not take the test run with it)."""
    code = "import os, signal, time\nos.kill(os.getppid(), signal.SIGKILL)\ntime.sleep(0.5)\nreturn []"
    proc = subprocess.run([sys.executable, "-c", STANDIN, code], capture_output=True, text=True, timeout=60)
    assert "alive {'after': 1}" in proc.stdout, (proc.returncode, proc.stdout, proc.stderr[-2000:])


def test_no_ptrace(pool: CodePool, victim: subprocess.Popen[bytes]) -> None:
    code = LIBC + """
import signal, time
out = {}
if call('ptrace', 16, items[0]['victim'], None, None)[0] == 0:  # PTRACE_ATTACH
    out['victim'] = 'attached'
    call('ptrace', 17, items[0]['victim'], None, None)
child = os.fork()
if child == 0:
    time.sleep(5)
    os._exit(0)
result = call('ptrace', 16, child, None, None)
if result[0] == 0:
    out['own child'] = 'attached'
os.kill(child, signal.SIGKILL)
os.waitpid(child, 0)
return [out]
"""
    assert attempt(pool, code, {"victim": victim.pid}) == {}


def test_no_reading_another_process_memory(pool: CodePool) -> None:
    code = """
import os
out = {}
for pid in {items[0]['server'], os.getppid(), 1}:
    try:
        maps = open(f'/proc/{pid}/maps').read().splitlines()
        start = int(next(line for line in maps if ' r' in line).split('-')[0], 16)
        with open(f'/proc/{pid}/mem', 'rb') as mem:
            mem.seek(start)
            out[str(pid)] = len(mem.read(16))
    except (OSError, StopIteration, ValueError):
        pass
return [out]
"""
    assert attempt(pool, code, {"server": os.getpid()}) == {}


def test_no_mounts_and_no_new_namespaces(pool: CodePool) -> None:
    code = LIBC + """
out = {}
if call('mount', b'none', os.getcwd().encode(), b'tmpfs', 0, None)[0] == 0:
    out['mount'] = 'mounted'
    call('umount2', os.getcwd().encode(), 2)
if call('mount', None, b'/usr', None, 32 | 4096, None)[0] == 0:  # MS_REMOUNT | MS_BIND: /usr read-write
    out['remount'] = 'remounted'
pid = os.fork()
if pid == 0:  # in a child: a successful unshare must not change the worker
    os._exit(0 if call('unshare', 0x10000000 | 0x00020000)[0] == 0 else 1)  # CLONE_NEWUSER | CLONE_NEWNS
if os.waitpid(pid, 0)[1] == 0:
    out['unshare'] = 'new user and mount namespace'
return [out]
"""
    assert attempt(pool, code) == {}


@pytest.fixture
def listeners(tmp_path: Path) -> Iterator[dict[str, Any]]:
    """A TCP socket on 127.0.0.1, a unix socket in a folder of the server's and an abstract one."""
    tcp = socket.create_server(("127.0.0.1", 0))
    path = socket.socket(socket.AF_UNIX)
    path.bind(str(tmp_path / "server.sock"))
    path.listen()
    abstract = socket.socket(socket.AF_UNIX)
    name = f"flowbox-escape-{uuid.uuid4().hex}"
    abstract.bind("\0" + name)
    abstract.listen()
    yield {"port": tcp.getsockname()[1], "path": str(tmp_path / "server.sock"), "abstract": name}
    for sock in (tcp, path, abstract):
        sock.close()


def test_no_network_and_no_local_sockets(pool: CodePool, listeners: dict[str, Any]) -> None:
    code = """
import socket
out = {}
for port in (5432, 6379, items[0]['port']):
    try:
        socket.create_connection(('127.0.0.1', port), timeout=2).close()
        out[f'tcp {port}'] = 'connected'
    except OSError:
        pass
for path in ('/var/run/postgresql/.s.PGSQL.5432', '/run/redis/redis-server.sock', '/var/run/redis/redis.sock',
             items[0]['path'], '\\0' + items[0]['abstract']):
    try:
        with socket.socket(socket.AF_UNIX) as sock:
            sock.settimeout(2)
            sock.connect(path)
        out[f'unix {path!r}'] = 'connected'
    except OSError:
        pass
try:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.connect(('192.0.2.1', 9))  # TEST-NET-1: a route lookup, no packet sent
    out['external'] = 'a route out'
except OSError:
    pass
out['interfaces'] = [name for _, name in socket.if_nameindex() if name != 'lo']
return [out]
"""
    assert attempt(pool, code, listeners) == {"interfaces": []}


SYSV = """
import ctypes
libc = ctypes.CDLL(None, use_errno=True)
libc.shmat.restype = ctypes.c_void_p
"""


def test_no_shared_memory_with_the_server(pool: CodePool) -> None:
    shm = Path(f"/dev/shm/flowbox-escape-{uuid.uuid4().hex}")
    shm.write_text("server's shared memory")
    libc = ctypes.CDLL(None, use_errno=True)
    key = 0x466C0000 + os.getpid() % 0xFFFF
    segment = libc.shmget(key, 4096, 0o1000 | 0o600)  # IPC_CREAT
    code = SYSV + """
out = {}
try:
    out['posix'] = open(items[0]['shm']).read()
except OSError:
    pass
if libc.shmget(items[0]['key'], 0, 0) >= 0:
    out['sysv'] = 'found'
return [out]
"""
    try:
        assert segment >= 0
        assert attempt(pool, code, {"shm": str(shm), "key": key}) == {}
    finally:
        shm.unlink()
        libc.shmctl(segment, 0, None)  # IPC_RMID


def test_no_writing_outside_scratch(pool: CodePool, tmp_path: Path) -> None:
    import flowbox.engine.codebox as codebox

    targets = [str(tmp_path / "escape"), str(Path(codebox.__file__).with_name("escape.py")),
               os.path.join(sys.prefix, "escape"), "/etc/flowbox-escape", "/usr/flowbox-escape"]
    code = """
import os, tempfile
out = {}
for path in items[0]['targets']:
    try:
        with open(path, 'x') as f:
            f.write('x')
        out[path] = 'written'
    except OSError:
        pass
with open('scratch.txt', 'w') as f:  # the scratch dir (working dir) and the temp dir are writable
    f.write('ok')
with tempfile.NamedTemporaryFile() as f:
    f.write(b'ok')
return [out]
"""
    try:
        written = attempt(pool, code, {"targets": targets})
        on_host = [target for target in targets if os.path.exists(target)]
        # (a folder of the server under the host's /tmp lies inside the sandbox's scratch /tmp: a write there
        # stays in the sandbox, and is wiped after the run)
        assert on_host == [] and [path for path in written if not path.startswith("/tmp/")] == [], written
    finally:
        for target in targets:
            with contextlib.suppress(OSError):
                os.unlink(target)


def test_scratch_is_private_to_each_run_and_worker(pool: CodePool) -> None:
    write = """
import os, time
for folder in (os.getcwd(), '/tmp', '/dev/shm'):
    try:
        with open(os.path.join(folder, 'secret-of-run-a'), 'w') as f:
            f.write('a')
    except OSError:
        pass
time.sleep(1.5)
return [{'cwd': os.getcwd()}]
"""
    look = """
import os, time
time.sleep(0.5)
found = []
for folder in {os.getcwd(), os.path.dirname(os.getcwd()), '/tmp', '/dev/shm', *items[0].get('more', [])}:
    for root, dirs, files in os.walk(folder):
        found += [os.path.join(root, f) for f in files if f == 'secret-of-run-a']
return [{'found': found}]
"""

    async def both() -> list[Any]:
        return await asyncio.gather(pool.run(write, "allItems", [{}]), pool.run(look, "allItems", [{}]))

    first, during = asyncio.run(both())
    after = attempt(pool, look, {"more": [first[0]["json"]["cwd"]]})
    assert during[0]["json"]["found"] == [] and after["found"] == [], (during, after)


def test_one_run_leaves_nothing_for_the_next() -> None:
    fresh = CodePool(size=1)
    spy = "import builtins\nbuiltins.SPY = items\nreturn [{}]"
    look = "import builtins\nreturn [{'spied': getattr(builtins, 'SPY', None)}]"
    try:
        attempt(fresh, spy, {"workflow": "a"})
        assert attempt(fresh, look) == {"spied": None}
    finally:
        fresh.close_now()


def test_process_count_is_limited_and_children_do_not_outlive_the_run(pool: CodePool) -> None:
    token = f"1000.{uuid.uuid4().int % 10**9}"
    code = """
import os
count = 0
for _ in range(200):
    try:
        pid = os.fork()
    except OSError:
        break
    if pid == 0:
        os.setsid()
        os.execv('/bin/sleep', ['sleep', items[0]['token']])
    count += 1
return [{'forked': count}]
"""
    try:
        out = attempt(pool, code, {"token": token})
        time.sleep(0.3)
        left = processes_with(token)
        assert out["forked"] < 100 and left == [], (out, left)
    finally:
        kill_all(processes_with(token))


def test_timeout_kills_the_whole_tree_even_after_setsid_and_double_fork(pool: CodePool) -> None:
    token = f"1000.{uuid.uuid4().int % 10**9}"
    code = """
import os, time
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        os.execv('/bin/sleep', ['sleep', items[0]['token']])
    os._exit(0)
while True:
    pass
"""
    try:
        with pytest.raises(NodeError, match="longer than 1 s"):
            attempt(pool, code, {"token": token}, timeout=1)
        deadline = time.monotonic() + 3
        while processes_with(token) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert processes_with(token) == []
        assert attempt(pool, "return [{'after': 1}]") == {"after": 1}
    finally:
        kill_all(processes_with(token))


def test_fork_bomb_fails_the_node_only(pool: CodePool) -> None:
    code = "import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass"
    start = time.monotonic()
    with pytest.raises(NodeError):
        attempt(pool, code, timeout=2)
    assert time.monotonic() - start < 8
    assert attempt(pool, "return [{'after': 1}]") == {"after": 1}
