"""Executions parked in a Wait survive a crash and resume on time or on a webhook call; retries start at the failed
node. Real server processes, real SQLite files, `kill -9`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from support import (
    node,
    unsandboxed_code,  # noqa: F401 - a fixture
    workflow,
)

from .conftest import Server

FLOWBOX = str(Path(sys.executable).with_name("flowbox"))


def cli(data_dir: Path, *args: str) -> Any:
    env = dict(os.environ, FLOWBOX_DATA_DIR=str(data_dir))
    proc = subprocess.run([FLOWBOX, *args], capture_output=True, text=True, env=env, timeout=60)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout) if proc.stdout.strip().startswith(("{", "[")) else proc.stdout


def install(data_dir: Path, tmp: Path, data: dict[str, Any]) -> str:
    path = tmp / f"{data['name']}.json"
    path.write_text(json.dumps({**data, "active": True}))
    data_dir.mkdir(parents=True, exist_ok=True)
    return cli(data_dir, "import", str(path)).split("\t")[0]


def execution(data_dir: Path, execution_id: str) -> dict[str, Any]:
    return cli(data_dir, "execution", execution_id)


def wait_status(data_dir: Path, execution_id: str, statuses: set[str], timeout: float = 30) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = execution(data_dir, execution_id)
        if found["status"] in statuses:
            return found
        time.sleep(0.2)
    raise AssertionError(f"execution {execution_id} is {found['status']}, not {statuses}")


def test_a_long_wait_survives_kill_9_and_completes(tmp_path: Path) -> None:
    data = tmp_path / "data"
    install(data, tmp_path, workflow(
        node("Hook", "webhook", path="nap", method="POST"),
        node("Nap", "wait", seconds=6),
        node("After", "set", fields={"woke": True, "from": "{{ $('Hook').item.json.body.who }}"}), name="nap"))
    srv = Server(data).start()
    with srv.client() as http:
        answer = http.post("/webhook/nap", json={"who": "ada"})
    assert answer.status_code == 200, answer.text
    execution_id = answer.json()["executionId"]
    parked = wait_status(data, execution_id, {"waiting"}, timeout=10)
    assert parked["lastNode"] == "Hook" and "Nap" not in parked["nodes"]
    srv.kill()  # no shutdown: the parked execution is only on disk
    srv.start()
    try:
        done = wait_status(data, execution_id, {"success", "error", "crashed"}, timeout=30)
    finally:
        srv.stop()
    assert done["status"] == "success", done
    assert done["nodes"]["After"][0]["outputs"] == [[{"body": {"who": "ada"}, "query": {}, "headers": done["nodes"][
        "After"][0]["outputs"][0][0]["headers"], "params": {}, "method": "POST", "path": "nap", "woke": True,
        "from": "ada"}]]
    assert done["finishedAt"] > done["startedAt"]


def test_wait_for_a_webhook_call_resumes_with_its_data(tmp_path: Path) -> None:
    data = tmp_path / "data"
    install(data, tmp_path, workflow(
        node("Hook", "webhook", path="approve", method="POST"),
        node("Approval", "wait", resume="webhook"),
        node("Decide", "set", fields={"approved": "{{ $json.body.ok }}",
                                      "order": "{{ $('Hook').item.json.body.order }}"}), name="approve"))
    srv = Server(data).start()
    try:
        with srv.client() as http:
            execution_id = http.post("/webhook/approve", json={"order": 7}).json()["executionId"]
            wait_status(data, execution_id, {"waiting"}, timeout=10)
            assert http.post(f"/webhook-waiting/{'nope' + execution_id}", json={}).status_code == 404
            resumed = http.post(f"/webhook-waiting/{execution_id}", json={"ok": True})
            assert resumed.status_code == 200 and resumed.json()["executionId"] == execution_id
            again = http.post(f"/webhook-waiting/{execution_id}", json={"ok": False})
            assert again.status_code in (404, 409)
        done = wait_status(data, execution_id, {"success", "error"}, timeout=15)
    finally:
        srv.stop()
    assert done["status"] == "success", done
    out = done["nodes"]["Decide"][0]["outputs"][0][0]
    assert out["approved"] is True and out["order"] == 7


def test_a_webhook_wait_with_a_time_limit_goes_on_without_the_call(tmp_path: Path) -> None:
    """Wait for a webhook with limitSeconds: parked until the call or the limit; nobody calls, so at the limit the
    items go on as they came (n8n's limitWaitTime)."""
    data = tmp_path / "data"
    install(data, tmp_path, workflow(
        node("Hook", "webhook", path="timed", method="POST"),
        node("Approval", "wait", resume="webhook", limitSeconds=3),
        node("After", "set", fields={"late": True}), name="timed"))
    srv = Server(data).start()
    try:
        with srv.client() as http:
            started = time.monotonic()
            execution_id = http.post("/webhook/timed", json={"order": 8}).json()["executionId"]
            wait_status(data, execution_id, {"waiting"}, timeout=10)
            done = wait_status(data, execution_id, {"success", "error"}, timeout=20)
            assert time.monotonic() - started >= 2.5
            assert http.post(f"/webhook-waiting/{execution_id}", json={}).status_code in (404, 409)
    finally:
        srv.stop()
    assert done["status"] == "success", done
    assert done["nodes"]["After"][0]["outputs"][0][0]["body"] == {"order": 8}
    assert done["nodes"]["After"][0]["outputs"][0][0]["late"] is True


@pytest.mark.usefixtures("unsandboxed_code")  # the code nodes keep a counter and read a flag in files
def test_retry_starts_at_the_failed_node_with_earlier_data(tmp_path: Path) -> None:
    data = tmp_path / "data"
    flag = tmp_path / "fixed"
    install(data, tmp_path, workflow(
        node("Hook", "webhook", path="flaky", method="POST"),
        node("Count", "code", code=f"import pathlib\np = pathlib.Path({str(tmp_path / 'count')!r})\n"
                                   "n = int(p.read_text()) + 1 if p.exists() else 1\np.write_text(str(n))\n"
                                   "return [{**items[0], 'counted': n}]"),
        node("Check", "code", code=f"import pathlib\nif not pathlib.Path({str(flag)!r}).exists():\n"
                                   "    raise RuntimeError('not fixed yet')\nreturn items"), name="flaky"))
    srv = Server(data).start()
    try:
        with srv.client() as http:
            first = http.post("/webhook/flaky", json={"n": 1}).json()["executionId"]
        failed = wait_status(data, first, {"error"}, timeout=15)
        assert failed["error"]["node"] == "Check"
        flag.write_text("yes")
        srv.stop()
        cli(data, "executions")  # the data dir is still readable offline
    finally:
        if srv.proc and srv.proc.poll() is None:
            srv.stop()
    # retry through the service (the API route is a thin layer over the same call)
    code = (
        "import asyncio, sys\n"
        "from flowbox.settings import Settings\nfrom support import Harness\n"
        "async def main():\n"
        "    s = Harness(Settings.load(sys.argv[1]))\n"
        "    await s.start(schedule=False)\n"
        "    new = await s.retry_execution(sys.argv[2])\n"
        "    done = await s.wait_for(new.id, 30)\n"
        "    print(done.id, done.status)\n"
        "    await s.stop()\n"
        "asyncio.run(main())\n")
    proc = subprocess.run([sys.executable, "-c", code, str(data), first], capture_output=True, text=True, timeout=60,
                          env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])})
    assert proc.returncode == 0, proc.stderr
    new_id, status = proc.stdout.split()
    assert status == "success"
    retried = execution(data, new_id)
    assert retried["retryOf"] == first
    assert (tmp_path / "count").read_text() == "1"  # Count was not run again: its saved output was reused
    assert retried["nodes"]["Count"][0]["outputs"] == failed["nodes"]["Count"][0]["outputs"]
    assert retried["nodes"]["Check"][-1]["outputs"][0][0]["counted"] == 1
