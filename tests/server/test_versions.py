"""Workflow history over HTTP: read any version's JSON, restore one as the newest version."""

from __future__ import annotations

from support import node, workflow

from .conftest import Server


def test_read_and_restore_a_version(server: Server) -> None:
    with server.client() as client:
        first = workflow(node("Start", "manualTrigger"), node("Tag", "set", fields={"v": "one"}), name="history")
        created = client.post("/api/v1/workflows", json=first).json()
        wid = created["id"]
        second = workflow(node("Start", "manualTrigger"), node("Tag", "set", fields={"v": "two"}), name="history")
        assert client.put(f"/api/v1/workflows/{wid}", json=second).json()["version"] == 2

        v1 = client.get(f"/api/v1/workflows/{wid}/versions/1").json()
        assert v1["version"] == 1 and v1["current"] is False
        assert v1["data"]["nodes"][1]["parameters"] == {"fields": {"v": "one"}}
        v2 = client.get(f"/api/v1/workflows/{wid}/versions/2").json()
        assert v2["current"] is True and v2["data"]["nodes"][1]["parameters"] == {"fields": {"v": "two"}}
        missing = client.get(f"/api/v1/workflows/{wid}/versions/7")
        assert missing.status_code == 404 and "v7" in missing.json()["error"]["message"]

        restored = client.post(f"/api/v1/workflows/{wid}/versions/1/restore")
        assert restored.status_code == 200, restored.text
        assert restored.json()["version"] == 3 and restored.json()["nodes"][1]["parameters"] == {"fields": {"v": "one"}}
        run = client.post(f"/api/v1/workflows/{wid}/run", json={}).json()
        assert run["nodes"]["Tag"][0]["outputs"] == [[{"v": "one"}]]
        listed = client.get(f"/api/v1/workflows/{wid}/versions").json()["data"]
        assert [row["version"] for row in listed] == [3, 2, 1]
        audit = client.get("/api/v1/audit", params={"action": "workflow.restore"}).json()["data"]
        assert audit[0]["targetId"] == wid and audit[0]["details"] == {"restored": 1, "version": 3}
