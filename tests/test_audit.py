"""The audit log in-process: Harness operations append entries with the current actor and target,
never a secret; the actor comes from `flowbox.audit.current_actor` (default "system")."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import orjson
import pytest
from support import Harness, node, workflow

from flowbox import audit
from flowbox.settings import Settings

SECRET = "s3cr3t-value-never-logged"


async def entries(services: Harness, **filters: Any) -> list[Any]:
    return (await services.list_audit(limit=250, **filters)).data


def test_operations_are_audited_with_actor_and_target(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FLOWBOX_ENCRYPTION_KEY", raising=False)

    async def main() -> None:
        services = Harness(Settings.load(tmp_path / "data"))
        await services.start(schedule=False)
        try:
            token = audit.set_actor("alice@example.com", "10.1.2.3")
            try:
                made = await services.create_workflow(workflow(node("Hook", "webhook", path="audit-t"),
                                                               node("Set", "set", fields={"ok": True}), name="Hooked"))
                await services.update_workflow(made.id, workflow(node("Hook", "webhook", path="audit-t"),
                                                                 node("Set", "set", fields={"ok": 1}), name="Renamed"))
                await services.activate(made.id)
                await services.deactivate(made.id)
                manual = await services.create_workflow(workflow(node("Start", "manualTrigger"),
                                                                 node("Set", "set", fields={"n": 1}), name="Manual"))
                run = await services.run_workflow(manual.id, [{"x": 1}])
                assert run.status == "success"
                retried = await services.retry_execution(run.id, from_start=True)
                await services.wait_for(retried.id, 30)
                await services.delete_execution(run.id)
                cred = await services.create_credential("API", "httpHeaderAuth", {"name": "X-Key", "value": SECRET})
                await services.update_credential(cred["id"], name="API 2",
                                                 data={"name": "X-Key", "value": SECRET + "2"})
                await services.delete_credential(cred["id"])
                await services.delete_workflow(made.id)
            finally:
                audit.current_actor.reset(token)
            await services.create_user("bob@example.com", "admin", "a long password")  # actor: system
            key, record = await services.create_api_key("bob@example.com", "ci")

            log = await entries(services)
            assert [e.action for e in reversed(log)] == [
                "workflow.create", "workflow.update", "workflow.activate", "workflow.deactivate",
                "workflow.create", "execution.run", "execution.retry", "execution.delete",
                "credential.create", "credential.update", "credential.delete", "workflow.delete",
                "user.create", "apikey.create"]
            by_action = {e.action: e for e in log}  # newest of each
            assert all((e.actor, e.ip) == ("alice@example.com", "10.1.2.3") for e in log[2:])
            assert (by_action["user.create"].actor, by_action["user.create"].ip) == ("system", None)
            assert by_action["workflow.activate"].target_kind == "workflow"
            assert by_action["workflow.activate"].target_id == made.id
            assert by_action["workflow.update"].details["name"] == "Renamed"
            assert by_action["execution.run"].target_id == run.id
            assert by_action["execution.run"].details == {"workflow": manual.id, "mode": "manual"}
            assert by_action["execution.retry"].target_id == run.id
            assert by_action["credential.create"].target_id == cred["id"]
            assert by_action["credential.create"].details == {"name": "API", "type": "httpHeaderAuth"}
            assert by_action["credential.update"].details == {"name": "API 2", "fields": ["name", "value"]}
            assert by_action["user.create"].details == {"email": "bob@example.com", "role": "admin"}
            assert by_action["apikey.create"].target_id == record["id"]
            text = orjson.dumps([e.__dict__ for e in log], default=str).decode()
            assert SECRET not in text and key not in text and "a long password" not in text
            # filters
            assert {e.action for e in await entries(services, action="credential.*")} == {
                "credential.create", "credential.update", "credential.delete"}
            assert [e.action for e in await entries(services, actor="system")] == ["apikey.create", "user.create"]
        finally:
            await services.stop()

    asyncio.run(main())


def test_audit_never_raises_and_drops_secret_keys(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    class Broken:
        async def append_audit(self, entry: Any) -> None:
            raise RuntimeError("disk full")

    async def main() -> None:
        await audit.record(Broken(), "workflow.create", "workflow", "w1", name="x")

    asyncio.run(main())
    assert "could not write audit entry workflow.create" in caplog.text
    made = audit.entry("credential.create", "credential", "c1", name="n", data={"value": SECRET},
                       password=SECRET, token=SECRET, note=None)
    assert made.details == {"name": "n"} and made.actor == "system"


def test_ids_increase_within_a_millisecond() -> None:
    ids = [audit.next_id() for _ in range(2000)]
    assert ids == sorted(ids) and len(set(ids)) == len(ids) and all(len(i) == 26 for i in ids)


def test_credential_use_is_audited_once_a_minute(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FLOWBOX_ENCRYPTION_KEY", raising=False)
    import http.server
    import threading

    class Ok(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's name
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.end_headers()
            self.wfile.write(b"{}")

        def log_message(self, *args: Any) -> None:
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Ok)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()

    async def main() -> None:
        services = Harness(Settings.load(tmp_path / "data"))
        await services.start(schedule=False)
        try:
            cred = await services.create_credential("token", "httpHeaderAuth", {"name": "X-T", "value": SECRET})
            call = node("Call", "httpRequest", url=f"http://127.0.0.1:{httpd.server_port}/",
                        authentication="httpHeaderAuth")
            call["credentials"] = {"httpHeaderAuth": {"id": cred["id"]}}
            record = await services.create_workflow(workflow(node("Start", "manualTrigger"), call, name="uses"))
            for _ in range(3):
                assert (await services.run_workflow(record.id)).status == "success"
            used = await entries(services, action="credential.use")
            assert [(e.target_id, e.details) for e in used] == [(cred["id"], {"type": "httpHeaderAuth"})]
            assert SECRET not in orjson.dumps([e.details for e in await entries(services)]).decode()
        finally:
            await services.stop(timeout=5)
            httpd.shutdown()

    asyncio.run(main())
