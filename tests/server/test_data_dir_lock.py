"""One server per data dir (`flowbox.lock`): a second `flowbox serve` on the same data dir exits with code 2
naming the data dir and the first one's pid; the commands that only read or import keep working beside a
server, `rotate-key` waits for it to stop, a killed server leaves no stale lock, and the desktop mode opens the
running server instead of starting a second one."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from support import node, workflow

from .conftest import FLOWBOX, free_port
from .test_queue import import_workflow

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "orders.json"


def flowbox(env: dict[str, str], *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([FLOWBOX, *args], env=env, capture_output=True, text=True, timeout=timeout)


def test_a_second_server_on_the_same_data_dir_refuses_to_start(make_server: Any) -> None:
    first = make_server()
    import_workflow(first, workflow(node("Tick", "schedule", every=2), node("Noop", "noOp"), name="tick"))
    first.start()
    assert first.proc is not None
    second = flowbox(first.env, "serve", "--port", str(free_port()), timeout=30)
    assert second.returncode == 2, second.stderr
    assert str(first.data_dir) in second.stderr and f"pid {first.proc.pid}" in second.stderr, second.stderr
    assert json.loads((first.data_dir / "flowbox.lock").read_text())["pid"] == first.proc.pid
    with first.client() as client:
        assert client.get("/healthz").status_code == 200  # the first one goes on


def test_commands_that_read_or_import_run_beside_a_server_and_rotate_key_waits(make_server: Any,
                                                                               tmp_path: Path) -> None:
    srv = make_server()
    srv.start()
    assert srv.proc is not None
    ran = flowbox(srv.env, "run", str(EXAMPLE), "--json")
    assert ran.returncode == 0, ran.stderr
    listed = flowbox(srv.env, "executions", "--json")
    assert listed.returncode == 0 and len(json.loads(listed.stdout)["data"]) == 1
    wf = tmp_path / "wf.json"
    wf.write_text(json.dumps(workflow(node("Start", "manualTrigger"), name="imported")))
    assert flowbox(srv.env, "import", str(wf)).returncode == 0
    assert flowbox(srv.env, "export", "--out", str(tmp_path / "out")).returncode == 0
    assert flowbox(srv.env, "nodes").returncode == 0
    assert flowbox(srv.env, "backup", "--out", str(tmp_path / "b.db")).returncode == 0
    rotate = flowbox(srv.env, "rotate-key")
    assert rotate.returncode == 2 and f"pid {srv.proc.pid}" in rotate.stderr, rotate.stderr
    srv.stop()
    assert flowbox(srv.env, "rotate-key").returncode == 0


def test_a_killed_server_leaves_no_stale_lock(make_server: Any) -> None:
    srv = make_server()
    srv.start()
    srv.kill()
    srv.start()  # same data dir, no manual cleanup
    with srv.client() as client:
        assert client.get("/healthz").status_code == 200


def test_the_desktop_mode_opens_the_server_already_running_on_the_data_dir(make_server: Any) -> None:
    srv = make_server()
    srv.start()
    assert srv.proc is not None
    env = {**srv.env, "FLOWBOX_NO_BROWSER": "1"}
    other_port = str(free_port())  # not the server's port: only the lock tells them apart
    opened = flowbox(env, "desktop", "--port", other_port, timeout=30)
    assert opened.returncode == 0, opened.stderr
    assert f"already running at {srv.url}/ (pid {srv.proc.pid}, data in {srv.data_dir})" in opened.stderr


def test_a_lock_held_in_this_process_is_refused_to_others_and_released(tmp_path: Path) -> None:
    from flowbox.lock import DataDirLock

    data = tmp_path / "data"
    lock = DataDirLock(data).acquire("flowbox serve", "http://127.0.0.1:1/")
    probe = ("import sys; from flowbox.lock import DataDirLock; from flowbox.errors import DataDirInUse\n"
             "try: DataDirLock(sys.argv[1]).acquire('test')\n"
             "except DataDirInUse as exc: print(exc.holder.pid, exc.message); sys.exit(3)\n")
    held = subprocess.run([sys.executable, "-c", probe, str(data)], capture_output=True, text=True, timeout=30)
    assert held.returncode == 3 and held.stdout.startswith(f"{os.getpid()} "), held
    lock.release()
    assert subprocess.run([sys.executable, "-c", probe, str(data)], timeout=30).returncode == 0
    DataDirLock(data).acquire("again").release()
