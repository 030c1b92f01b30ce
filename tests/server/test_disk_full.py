"""A full (or nearly full) disk: a real `flowbox serve` whose data dir is on a small tmpfs (root only: CI runs
as root). New work is refused with 503 + Retry-After below the free-space reserve, /readyz is not ready while
writes fail, everything recovers without a restart once space is back, the server starts with little space
left, and no execution stays "running" because its last write failed."""

from __future__ import annotations

import contextlib
import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from support import node, workflow

from .conftest import Server
from .test_queue import import_workflow, query, wait_until

MB = 1_000_000


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 30 MB tmpfs, unmounted afterwards."""
    if os.geteuid() != 0:
        pytest.skip("needs root to mount a small tmpfs for a full disk (CI runs the tests as root)")
    mount = tmp_path / "disk"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=30m", "tmpfs", str(mount)], capture_output=True,
                          text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def free(disk: Path) -> int:
    stat = os.statvfs(disk)
    return stat.f_bavail * stat.f_frsize


def fill(disk: Path, leave: int = 0) -> Path:
    """Take the disk's free space down to about `leave` bytes (0: until writes fail)."""
    filler = disk / f"filler-{time.monotonic_ns()}"
    with open(filler, "wb") as out, contextlib.suppress(OSError):
        while free(disk) > leave:
            out.write(b"\0" * min(1 << 20, max(4096, free(disk) - leave)))
            out.flush()
    return filler


@pytest.fixture
def server_on(small_disk: Path, make_server: Any, tmp_path: Path) -> Any:
    """Make a server whose data dir is on the small disk (its log is not); `make_server` stops it first."""

    def make(**env: str) -> Server:
        srv = make_server({"FLOWBOX_SHUTDOWN_TIMEOUT": "3", **env}, data_dir=small_disk / "data")
        srv.log = tmp_path / f"server-{srv.port}.log"
        return srv

    return make


def hook(path: str = "h", respond: str = "lastNode", *nodes: dict[str, Any]) -> dict[str, Any]:
    return workflow(node("Hook", "webhook", path=path, method="POST", respond=respond),
                    *(nodes or (node("Set", "set", fields={"ok": "{{ 1 }}"}),)), name=path)


def ready(srv: Server) -> httpx.Response:
    return httpx.get(f"{srv.url}/readyz", timeout=10)


def test_below_the_reserve_new_work_gets_503_with_retry_after_until_space_is_back(server_on: Any,
                                                                                   small_disk: Path) -> None:
    srv = server_on(FLOWBOX_MIN_FREE_MB="8")
    wid = import_workflow(srv, hook())
    srv.start()
    with srv.client() as client:
        assert client.post("/webhook/h", json={}).status_code == 200
        filler = fill(small_disk, leave=4 * MB)
        time.sleep(0.6)  # the free space is read at most every 0.5 s
        refused = client.post("/webhook/h", json={})
        assert refused.status_code == 503
        assert refused.headers["retry-after"] == "30"
        assert refused.json()["error"]["code"] == "disk_full"
        assert "FLOWBOX_MIN_FREE_MB" in refused.json()["error"]["message"]
        run = client.post(f"/api/v1/workflows/{wid}/run", json={"input": []})
        assert run.status_code == 503 and run.headers["retry-after"] == "30"
        answer = ready(srv)
        assert answer.status_code == 503 and answer.json()["checks"]["disk"] is False
        filler.unlink()
        wait_until(lambda: ready(srv).status_code == 200, 5)
        assert client.post("/webhook/h", json={}).status_code == 200
    assert query(srv, "SELECT status, count(*) FROM executions GROUP BY status") == [("success", 2)]


def test_a_full_disk_fails_writes_cleanly_then_recovers_without_a_restart(server_on: Any, small_disk: Path) -> None:
    srv = server_on(FLOWBOX_MIN_FREE_MB="0")  # no reserve: the disk really fills up
    import_workflow(srv, hook())
    import_workflow(srv, hook("q", "immediately"))
    srv.start()
    with srv.client() as client:
        assert client.post("/webhook/h", json={}).status_code == 200
        fillers = [fill(small_disk, leave=int(1.5 * MB))]
        time.sleep(0.6)  # the free space is read at most every 0.5 s
        for path in ("/webhook/h", "/webhook/q"):  # the store's writes fail: ~3 MB, with 1.5 MB left
            refused = client.post(path, json={"pad": "x" * 1_000_000})
            assert refused.status_code == 503, refused.text
            assert refused.json()["error"]["code"] == "disk_full" and refused.headers["retry-after"] == "30"
        fillers.append(fill(small_disk))
        time.sleep(0.6)
        answer = ready(srv)
        assert answer.status_code == 503 and answer.json()["checks"]["disk"] is False, answer.text
        assert client.post("/webhook/h", json={}).status_code == 503
        for filler in fillers:
            filler.unlink()
        wait_until(lambda: ready(srv).status_code == 200, 5)
        for path in ("/webhook/h", "/webhook/q"):
            assert client.post(path, json={"pad": "x" * 1_000_000}).status_code == 200
    wait_until(lambda: query(srv, "SELECT count(*) FROM executions WHERE status = 'success'") == [(3,)], 10)
    # the run whose end the full disk refused is recorded "crashed" by the disk watch (every second) once
    # writes work again
    wait_until(lambda: query(srv, "SELECT count(*) FROM executions WHERE status IN ('running', 'queued', 'new')")
               == [(0,)], 5)


def test_the_server_starts_with_little_space_left(server_on: Any, small_disk: Path) -> None:
    srv = server_on(FLOWBOX_MIN_FREE_MB="8")
    import_workflow(srv, hook())
    filler = fill(small_disk, leave=3 * MB)
    srv.start()
    answer = ready(srv)
    assert answer.status_code == 503 and answer.json()["checks"]["disk"] is False
    with srv.client() as client:
        assert client.post("/webhook/h", json={}).status_code == 503
        filler.unlink()
        wait_until(lambda: ready(srv).status_code == 200, 5)
        assert client.post("/webhook/h", json={}).status_code == 200


def test_an_accepted_run_whose_end_could_not_be_written_is_recorded_crashed_once_writes_work(
        server_on: Any, small_disk: Path) -> None:
    srv = server_on(FLOWBOX_MIN_FREE_MB="0")
    import_workflow(srv, hook("w", "immediately", node("Wait", "wait", seconds=4),
                              node("Set", "set", fields={"ok": "{{ 1 }}"})))
    srv.start()
    wal = srv.data_dir / "flowbox.db-wal"
    with srv.client() as client:
        accepted = client.post("/webhook/w", json={})
        assert accepted.status_code == 200
        execution = accepted.json()["executionId"]
        wait_until(lambda: query(srv, "SELECT status FROM executions WHERE id = ?", (execution,)) == [("running",)], 5)
        wait_until(lambda: wal.stat().st_size == 0, 4)  # writes paused: the WAL was emptied
        filler = fill(small_disk)  # the run's last writes need room the disk no longer has
        time.sleep(4.5)
        assert query(srv, "SELECT status FROM executions WHERE id = ?", (execution,)) == [("running",)]
        filler.unlink()
        wait_until(lambda: query(srv, "SELECT status FROM executions WHERE id = ?", (execution,)) == [("crashed",)],
                   5)
        error = client.get(f"/api/v1/executions/{execution}").json()["error"]
        assert "could not be recorded" in error["message"] and "full" in error["message"], error
