"""Durability over real processes: SIGTERM mid-run, kill -9 with executions queued, answered webhooks kept."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from support import node, workflow

from .test_queue import CLEAN_EXIT, hammer, import_workflow, query, statuses, wait_until


def slow_hook(path: str, seconds: float, settings: dict[str, Any] | None = None) -> dict[str, Any]:
    return workflow(node("Hook", "webhook", path=path, method="POST", respond="immediately"),
                    node("Pause", "wait", seconds=seconds), node("Done", "set", fields={"done": True}),
                    name=f"slow-{path}", settings=settings)


def status_of(srv: Any, execution_id: str) -> str | None:
    rows = query(srv, "SELECT status FROM executions WHERE id = ?", (execution_id,))
    return rows[0][0] if rows else None


def call(srv: Any, path: str, times: int = 1) -> list[str]:
    with srv.client() as client:
        out = []
        for _ in range(times):
            res = client.post(f"/webhook/{path}", json={})
            assert res.status_code == 200, res.text
            out.append(res.json()["executionId"])
        return out


def test_sigterm_lets_the_running_execution_finish_and_keeps_queued_ones(make_server: Any) -> None:
    srv = make_server({"FLOWBOX_WORKERS": "1", "FLOWBOX_SHUTDOWN_TIMEOUT": "10"})
    wid = import_workflow(srv, slow_hook("slow", 2))
    srv.start()
    first, *rest = call(srv, "slow", 3)
    assert wait_until(lambda: status_of(srv, first) == "running", 5)
    started = time.monotonic()
    assert srv.stop(timeout=15) in CLEAN_EXIT
    took = time.monotonic() - started
    assert took < 10, f"shutdown took {took:.1f} s"
    assert status_of(srv, first) == "success"
    assert [status_of(srv, e) for e in rest] == ["queued", "queued"]  # never started: left for the next start
    assert "running" not in statuses(srv)

    srv.env["FLOWBOX_WORKERS"] = "2"
    srv.start()
    assert wait_until(lambda: statuses(srv, wid) == {"success": 3}, 10), statuses(srv, wid)


def test_sigterm_past_the_timeout_records_crashed(make_server: Any) -> None:
    # a 20 s Wait kept in memory (not parked as "waiting", which a restart resumes by itself)
    srv = make_server({"FLOWBOX_SHUTDOWN_TIMEOUT": "1", "FLOWBOX_WAIT_PERSIST_SECONDS": "60"})
    import_workflow(srv, slow_hook("stuck", 20))
    srv.start()
    (execution,) = call(srv, "stuck")
    assert wait_until(lambda: status_of(srv, execution) == "running", 5)
    started = time.monotonic()
    assert srv.stop(timeout=15) in CLEAN_EXIT
    took = time.monotonic() - started
    assert took < 6, f"shutdown took {took:.1f} s with a 1 s timeout"
    assert status_of(srv, execution) == "crashed"
    assert "running" not in statuses(srv)


def test_kill_9_with_executions_queued_then_restart(make_server: Any) -> None:
    srv = make_server({"FLOWBOX_WORKERS": "1"})
    wid = import_workflow(srv, slow_hook("k9", 0.7))
    srv.start()
    running, *queued = call(srv, "k9", 4)
    assert wait_until(lambda: status_of(srv, running) == "running", 5)
    srv.kill()
    assert status_of(srv, running) == "running"
    assert {status_of(srv, e) for e in queued} == {"queued"}

    srv.start()
    assert wait_until(lambda: statuses(srv, wid) == {"crashed": 1, "success": 3}, 10), statuses(srv, wid)
    assert status_of(srv, running) == "crashed"
    assert {status_of(srv, e) for e in queued} == {"success"}
    error = query(srv, "SELECT error FROM executions WHERE id = ?", (running,))[0][0]
    assert "stopped" in str(error)


def test_kill_9_retries_a_crashed_execution_when_the_workflow_asks(make_server: Any) -> None:
    srv = make_server({"FLOWBOX_WORKERS": "1"})
    wid = import_workflow(srv, slow_hook("retry", 0.7, {"retryOnCrash": True}))
    srv.start()
    (running,) = call(srv, "retry")
    assert wait_until(lambda: status_of(srv, running) == "running", 5)
    srv.kill()
    srv.start()
    assert wait_until(lambda: statuses(srv, wid) == {"crashed": 1, "success": 1}, 10), statuses(srv, wid)
    assert query(srv, "SELECT retry_of FROM executions WHERE status = 'success'") == [(running,)]


def test_every_answered_webhook_survives_kill_9(make_server: Any) -> None:
    """Answered 200 = durably queued: after kill -9 and a restart, every answered execution runs."""
    srv = make_server({"FLOWBOX_WORKERS": "1"})
    wid = import_workflow(srv, slow_hook("burst", 0.01))
    srv.start()
    responses = asyncio.run(hammer(f"{srv.url}/webhook/burst", 300, 20))
    srv.kill()
    assert {r.status_code for r in responses} == {200}
    answered = {r.json()["executionId"] for r in responses}
    stored = {row[0] for row in query(srv, "SELECT id FROM executions WHERE workflow_id = ?", (wid,))}
    assert answered <= stored, f"{len(answered - stored)} answered executions were lost"
    before = statuses(srv, wid)
    assert before.get("queued", 0) > 0, before  # the kill did leave work behind

    srv.env["FLOWBOX_WORKERS"] = "4"
    srv.start()

    def settled() -> dict[str, int] | None:
        now = statuses(srv, wid)
        return now if set(now) <= {"success", "crashed"} else None

    after = wait_until(settled, 30)
    assert after, statuses(srv, wid)
    assert after.get("crashed", 0) <= 1 and sum(after.values()) == 300, after
