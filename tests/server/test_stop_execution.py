"""`POST /api/v1/executions/{id}/stop` against a real server: a running execution is cancelled where it stands
and recorded "canceled" with the finished nodes' data; a waiting one never resumes; a finished one is a 409."""

from __future__ import annotations

import time
from typing import Any

import httpx
from support import node, workflow

from .conftest import Server


def wait_for(client: httpx.Client, execution_id: str, statuses: tuple[str, ...], timeout: float = 15) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        record = client.get(f"/api/v1/executions/{execution_id}").json()
        if record["status"] in statuses or time.monotonic() > deadline:
            return record
        time.sleep(0.05)


def waiting_workflow(path: str, seconds: float) -> dict[str, Any]:
    """Webhook (answers at once) -> Set -> Wait `seconds` -> Set."""
    return workflow(node("Hook", "webhook", path=path, respond="immediately"),
                    node("Before", "set", fields={"step": "before"}),
                    node("Pause", "wait", resume="time", seconds=seconds),
                    node("After", "set", fields={"step": "after"}), name=path)


def start(client: httpx.Client, path: str, seconds: float) -> str:
    created = client.post("/api/v1/workflows", json=waiting_workflow(path, seconds)).json()
    assert client.post(f"/api/v1/workflows/{created['id']}/activate").status_code == 200
    assert client.post(f"/webhook/{path}", json={"n": 1}).status_code == 200
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        page = client.get("/api/v1/executions", params={"workflowId": created["id"]}).json()["data"]
        if page:
            return str(page[0]["id"])
        time.sleep(0.05)
    raise AssertionError("the webhook started no execution")


def test_stopping_a_running_execution_cancels_it_where_it_stands(server: Server) -> None:
    with server.client() as client:
        execution_id = start(client, "slow", 3)  # under FLOWBOX_WAIT_PERSIST_SECONDS: it waits in the process
        assert wait_for(client, execution_id, ("running",))["status"] == "running"
        time.sleep(0.3)  # into the Wait
        started = time.monotonic()
        stopped = client.post(f"/api/v1/executions/{execution_id}/stop")
        assert stopped.status_code == 200, stopped.text
        assert time.monotonic() - started < 2
        record = stopped.json()
        assert record["status"] == "canceled" and record["error"] == {
            "node": None, "message": "stopped while node 'Pause' ran", "stoppedAt": "Pause"}
        assert "Before" in record["nodes"] and "After" not in record["nodes"]
        time.sleep(3.5)  # the Wait would have ended by now: nothing ran after the stop
        again = client.get(f"/api/v1/executions/{execution_id}").json()
        assert again["status"] == "canceled" and "After" not in again["nodes"]
        conflict = client.post(f"/api/v1/executions/{execution_id}/stop")
        assert conflict.status_code == 409 and "already finished (canceled)" in conflict.json()["error"]["message"]
        audit = client.get("/api/v1/audit", params={"action": "execution.stop"}).json()["data"]
        assert [entry["targetId"] for entry in audit] == [execution_id]


def test_stopping_a_waiting_execution_means_it_never_resumes(make_server: Any) -> None:
    server = make_server({"FLOWBOX_WAIT_PERSIST_SECONDS": "0"}).start()  # every Wait parks the execution
    with server.client() as client:
        execution_id = start(client, "parked", 2)
        assert wait_for(client, execution_id, ("waiting",))["status"] == "waiting"
        stopped = client.post(f"/api/v1/executions/{execution_id}/stop")
        assert stopped.status_code == 200, stopped.text
        assert stopped.json()["status"] == "canceled"
        assert stopped.json()["error"]["message"] == "stopped before it ran"
        time.sleep(3)  # past the wait's end: the scheduler must not resume it
        assert client.get(f"/api/v1/executions/{execution_id}").json()["status"] == "canceled"


def test_stopping_an_unknown_or_finished_execution(server: Server) -> None:
    with server.client() as client:
        assert client.post("/api/v1/executions/nope/stop").status_code == 404
        execution_id = start(client, "quick", 0)
        assert wait_for(client, execution_id, ("success",))["status"] == "success"
        conflict = client.post(f"/api/v1/executions/{execution_id}/stop")
        assert conflict.status_code == 409
        assert "already finished (success)" in conflict.json()["error"]["message"]
