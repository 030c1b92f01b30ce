"""A real server: the audit log records who (the key's user, from which address) did what, and failed keys."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .test_auth_api import flowbox


def test_audit_log_over_http(tmp_path: Path, make_server: Any) -> None:
    data = tmp_path / "data"
    assert flowbox(data, "user", "create", "owner@example.com", "--role", "owner", "--password-stdin",
                   stdin="a long password\n").returncode == 0
    created = flowbox(data, "apikey", "create", "--user", "owner@example.com")
    assert created.returncode == 0, created.stderr
    key = created.stdout.strip()

    server = make_server(data_dir=data).start()
    with server.client(headers={"X-API-Key": key}) as client:
        wf = {"name": "Audited", "nodes": [{"name": "Start", "type": "manualTrigger", "parameters": {}}],
              "connections": {}}
        made = client.post("/api/v1/workflows", json=wf)
        assert made.status_code in (200, 201), made.text
        wf_id = made.json()["id"]
        assert client.delete(f"/api/v1/workflows/{wf_id}").status_code in (200, 204)
        assert client.get("/api/v1/workflows", headers={"X-API-Key": key[:-4] + "AAAA"}).status_code == 401

        listed = client.get("/api/v1/audit")
        assert listed.status_code == 200, listed.text
        body = listed.json()
        assert set(body) == {"data", "nextCursor"}
        log = body["data"]
        actions = [e["action"] for e in log]
        assert actions[:3] == ["auth.failed", "workflow.delete", "workflow.create"]
        assert actions[-2:] == ["apikey.create", "user.create"]
        assert {e["actor"] for e in log[-2:]} == {"cli"}
        create = log[2]
        assert (create["actor"], create["ip"], create["targetKind"], create["targetId"]) == (
            "owner@example.com", "127.0.0.1", "workflow", wf_id)
        failed = log[0]
        assert (failed["actor"], failed["ip"]) == ("anonymous", "127.0.0.1")
        assert failed["details"]["path"] == "/api/v1/workflows" and key not in str(failed)
        only = client.get("/api/v1/audit", params={"action": "workflow.*", "actor": "owner@example.com"}).json()
        assert [e["action"] for e in only["data"]] == ["workflow.delete", "workflow.create"]
        paged = client.get("/api/v1/audit", params={"limit": 1}).json()
        assert len(paged["data"]) == 1 and paged["nextCursor"]

    # a member may not read it
    assert flowbox(data, "user", "create", "m@example.com", "--password-stdin",
                   stdin="a long password\n").returncode == 0
    member_key = flowbox(data, "apikey", "create", "--user", "m@example.com").stdout.strip()
    with server.client(headers={"X-API-Key": member_key}) as client:
        assert client.get("/api/v1/audit").status_code == 403
