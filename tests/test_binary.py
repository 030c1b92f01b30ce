"""The one-file binary as a user gets it: built once per session from flowbox.spec (PyInstaller, about
2 minutes), then started with no arguments (the desktop mode) and driven over HTTP, and used as the
command line: workflows with a code node (the binary re-enters itself as the code worker), the node
catalog, the integration drivers (imported by a user node), backups."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import pytest
from support import REDIS_URL, require_port

ROOT = Path(__file__).resolve().parent.parent
FLOWBOX = str(Path(sys.executable).with_name("flowbox"))
MAX_SIZE = 80 * 1024 * 1024
DRIVERS = ("psycopg", "redis", "pymysql", "openpyxl", "xmltodict", "bs4", "feedparser", "asyncssh")

pytestmark = pytest.mark.timeout(900)

PROBE_NODE = f'''
import importlib
from flowbox.node import Context, Item, node


@node(type="driverProbe", display_name="Driver probe", group="transform", description="test: import drivers")
async def probe(ctx: Context, items: list[Item]) -> list[list[Item]]:
    found = {{}}
    for name in {DRIVERS!r}:
        module = importlib.import_module(name)
        found[name] = getattr(module, "__version__", None) or getattr(module, "VERSION", None) or "?"
    import psycopg.pq
    found["libpq"] = psycopg.pq.version()
    return [[Item(found)]]
'''


@pytest.fixture(scope="session")
def binary(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`dist/flowbox` built into a temp folder from the current sources."""
    out = tmp_path_factory.mktemp("binary")
    proc = subprocess.run([sys.executable, "-m", "PyInstaller", str(ROOT / "flowbox.spec"), "--noconfirm",
                           "--log-level", "WARN", "--distpath", str(out / "dist"), "--workpath", str(out / "work")],
                          cwd=out, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-4000:]
    return out / "dist" / "flowbox"


def env_for(data: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLOWBOX_")}
    return {**env, "FLOWBOX_DATA_DIR": str(data), "FLOWBOX_NO_BROWSER": "1", **extra}


def browser(tmp_path: Path) -> tuple[dict[str, str], Path]:
    """Environment for a "browser" (webbrowser honours $BROWSER) that appends each URL it opens to a file."""
    opened = tmp_path / "opened.txt"
    script = tmp_path / "browser.sh"
    script.write_text(f'#!/bin/sh\necho "$1" >> {opened}\n')
    script.chmod(0o755)
    return {"BROWSER": f"{script} %s", "DISPLAY": ":99"}, opened


def test_the_browser_opens_unless_told_not_to_or_without_a_display(tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    from flowbox.cli import _open_browser

    env, opened = browser(tmp_path)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("FLOWBOX_NO_BROWSER", "1")
    _open_browser("http://127.0.0.1:1/")
    monkeypatch.delenv("FLOWBOX_NO_BROWSER")
    monkeypatch.delenv("DISPLAY")
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    _open_browser("http://127.0.0.1:2/")  # no display: a console browser would take over the terminal
    assert not opened.exists()
    monkeypatch.setenv("DISPLAY", ":99")
    _open_browser("http://127.0.0.1:3/")
    assert opened.read_text() == "http://127.0.0.1:3/\n"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_healthy(url: str, proc: subprocess.Popen[bytes], log: Path, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        assert proc.poll() is None, log.read_text()[-3000:]
        assert time.monotonic() < deadline, "no /healthz:\n" + log.read_text()[-3000:]
        time.sleep(0.1)


def node_types(command: list[str], env: dict[str, str]) -> list[str]:
    proc = subprocess.run([*command, "nodes", "--json"], capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return sorted(spec["type"] for spec in json.loads(proc.stdout))


def test_size_is_under_80_mb(binary: Path) -> None:
    assert binary.stat().st_size < MAX_SIZE, f"{binary.stat().st_size / 1e6:.1f} MB"


def unpacked_since(start: float) -> list[Path]:
    """One-file unpack folders (`_MEI*`) created in the system temp dir since `start`."""
    return [p for p in Path(tempfile.gettempdir()).glob("_MEI*") if p.stat().st_mtime >= start]


def test_commands_work_from_the_binary(binary: Path, tmp_path: Path) -> None:
    data = tmp_path / "data"
    unpack = tmp_path / "tmp"
    unpack.mkdir()
    env = env_for(data, TMPDIR=str(unpack))
    start = time.time() - 1

    def fb(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(binary), *args], capture_output=True, text=True, env=env, timeout=120)

    ran = fb("run", str(ROOT / "examples" / "orders.json"), "--json")  # a code node: the binary re-enters itself
    assert ran.returncode == 0, ran.stderr[-2000:]
    result = json.loads(ran.stdout)
    assert result["status"] == "success"
    assert result["nodes"]["Orders"][0]["outputs"][0][0] == {"id": 1, "customer": "Ada", "price": 40, "qty": 3}
    assert result["nodes"]["Small orders"][0]["outputs"][0] == [{"label": ["Order 2 for Grace"]}]

    assert node_types([str(binary)], env) == node_types([FLOWBOX], env_for(tmp_path / "dev"))

    (data / "nodes").mkdir(parents=True)
    (data / "nodes" / "probe.py").write_text(PROBE_NODE)
    wf = tmp_path / "probe.json"
    wf.write_text(json.dumps({"name": "probe", "connections": {"Start": {"main": [[{"node": "Probe"}]]}}, "nodes": [
        {"name": "Start", "type": "manualTrigger", "parameters": {}},
        {"name": "Probe", "type": "driverProbe", "parameters": {}}]}))
    probed = fb("run", str(wf), "--json")
    assert probed.returncode == 0, probed.stdout[-2000:] + probed.stderr[-2000:]
    found = json.loads(probed.stdout)["nodes"]["Probe"][0]["outputs"][0][0]
    assert set(DRIVERS) <= set(found) and found["libpq"] > 0, found

    made = fb("backup", "--out", str(tmp_path / "b.db"))
    assert made.returncode == 0, made.stderr
    assert (tmp_path / "b.db").stat().st_size > 0
    listed = fb("--help").stdout
    assert all(name in listed for name in ("serve", "run", "worker", "backup", "restore", "desktop"))
    # every process cleaned up what it unpacked, code workers included (they run from their parent's copy)
    assert list(unpack.iterdir()) == [] and unpacked_since(start) == []


def test_no_arguments_serves_the_editor_and_runs_workflows(binary: Path, tmp_path: Path) -> None:
    data = tmp_path / "data"
    port = free_port()
    unpack = tmp_path / "tmp"
    unpack.mkdir()
    env = env_for(data, FLOWBOX_PORT=str(port), TMPDIR=str(unpack))
    env.pop("FLOWBOX_NO_BROWSER")
    shows, opened = browser(tmp_path)
    env.update(shows)
    log = tmp_path / "binary.log"
    url = f"http://127.0.0.1:{port}"
    with open(log, "wb") as out:
        proc = subprocess.Popen([str(binary)], env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        wait_healthy(url, proc, log)
        for _ in range(100):  # the editor opens once the server answers
            if opened.exists():
                break
            time.sleep(0.1)
        assert opened.read_text() == f"{url}/\n"
        with httpx.Client(base_url=url, timeout=60) as api:
            page = api.get("/")
            assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
            assert "<html" in page.text
            static = re.findall(r'(/_nicegui/[^"\'\s]+\.js)', page.text)
            assert static and all(api.get(path).status_code == 200 for path in static[:5]), static
            assert api.get("/api/docs/assets/swagger-ui-bundle.js").status_code == 200  # ui/vendor/

            code = "return [{'n': item['n'], 'square': item['n'] ** 2} for item in items]"
            created = api.post("/api/v1/workflows", json={
                "name": "squares", "connections": {"Start": {"main": [[{"node": "Square"}]]}}, "nodes": [
                    {"name": "Start", "type": "manualTrigger", "position": [0, 0], "parameters": {}},
                    {"name": "Square", "type": "code", "position": [200, 0], "parameters": {"code": code}}]})
            assert created.status_code == 201, created.text
            run = api.post(f"/api/v1/workflows/{created.json()['id']}/run",
                           json={"input": [{"n": 3}, {"n": 4}], "wait": True})
            assert run.status_code == 200, run.text
            assert run.json()["status"] == "success", run.json()
            assert run.json()["nodes"]["Square"][0]["outputs"][0] == [{"n": 3, "square": 9}, {"n": 4, "square": 16}]

        again = subprocess.run([str(binary)], capture_output=True, text=True, env=env, timeout=120)
        assert again.returncode == 0 and f"already running at {url}/" in again.stderr, again.stderr
        assert opened.read_text() == f"{url}/\n" * 2, "a second start opens the running one"

        with socket.socket() as taken:  # a port another program listens on
            taken.bind(("127.0.0.1", 0))
            taken.listen()
            other = env_for(data, FLOWBOX_PORT=str(taken.getsockname()[1]))
            busy = subprocess.run([str(binary)], capture_output=True, text=True, env=other, timeout=120)
        assert busy.returncode == 2 and "is in use by another program" in busy.stderr, busy.stderr

        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=20) == 0, log.read_text()[-3000:]
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert (data / "flowbox.db").is_file()
    assert list(unpack.iterdir()) == [], "a SIGTERM stop removes what the binary unpacked"


def test_serve_and_worker_from_the_binary_share_the_queue(binary: Path, tmp_path: Path) -> None:
    """`flowbox serve` queues on Redis, `flowbox worker` (sharing the data dir) runs the code node."""
    host, port = REDIS_URL.split("//")[1].split("/")[0].split(":")
    require_port(host, int(port), "Redis")
    port = free_port()
    env = env_for(tmp_path / "data", FLOWBOX_REDIS_URL=REDIS_URL, FLOWBOX_QUEUE_NAME=f"binary-{port}",
                  FLOWBOX_UI="0")
    url = f"http://127.0.0.1:{port}"
    procs: list[tuple[subprocess.Popen[bytes], Path]] = []
    for name, args in (("server", ["serve", "--port", str(port)]), ("worker", ["worker", "--concurrency", "2"])):
        log = tmp_path / f"{name}.log"
        with open(log, "wb") as out:
            procs.append((subprocess.Popen([str(binary), *args], env=env, stdout=out, stderr=subprocess.STDOUT), log))
        if name == "server":  # it migrates the database before the worker opens it
            wait_healthy(url, *procs[0])
    try:
        worker, worker_log = procs[1]
        deadline = time.monotonic() + 90
        while "ready" not in worker_log.read_text(errors="replace"):
            assert worker.poll() is None and time.monotonic() < deadline, worker_log.read_text()[-3000:]
            time.sleep(0.1)
        with httpx.Client(base_url=url, timeout=60) as api:
            created = api.post("/api/v1/workflows", json={
                "name": "queued", "connections": {"Start": {"main": [[{"node": "Pid"}]]}}, "nodes": [
                    {"name": "Start", "type": "manualTrigger", "position": [0, 0], "parameters": {}},
                    {"name": "Pid", "type": "code", "position": [200, 0],
                     "parameters": {"code": "return [{'n': item['n'] + 1} for item in items]"}}]})
            assert created.status_code == 201, created.text
            queued = api.post(f"/api/v1/workflows/{created.json()['id']}/run",
                              json={"input": {"n": 41}, "wait": False})
            assert queued.status_code == 202, queued.text
            deadline = time.monotonic() + 60
            while (done := api.get(f"/api/v1/executions/{queued.json()['id']}").json())["status"] != "success":
                assert done["status"] in ("queued", "running") and time.monotonic() < deadline, done
                time.sleep(0.1)
            assert done["nodes"]["Pid"][0]["outputs"][0] == [{"n": 42}]
        for proc, log in reversed(procs):
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(timeout=30) == 0, log.read_text()[-3000:]
    finally:
        for proc, _ in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
