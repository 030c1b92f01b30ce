"""Pinned data (DESIGN §2 `pinData`) stands in for a node only in manual runs, as in n8n.

Manual: the editor's runs, `flowbox run`, `POST /api/v1/workflows/{id}/run`, a test webhook call,
and a retry of one of those. Never: an active webhook, a schedule or listening trigger, an error
workflow, a sub-workflow, or a retry of such a production run. Driven through the API app over
ASGI, with the queue run by hand (`run_queued`) so each run is awaited.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import httpx
from support import Harness, node, run_with_services, workflow


async def owner_key(services: Harness) -> dict[str, str]:
    await services.create_user("owner@example.com", "owner", "long enough")
    key, _ = await services.create_api_key("owner@example.com", "pins")
    return {"X-API-Key": key}


async def create(client: httpx.AsyncClient, headers: dict[str, str], data: dict[str, Any], *,
                 active: bool = False) -> str:
    made = await client.post("/api/v1/workflows", json=data, headers=headers)
    assert made.status_code == 201, made.text
    wid = made.json()["id"]
    if active:
        answer = await client.post(f"/api/v1/workflows/{wid}/activate", headers=headers)
        assert answer.status_code == 200, answer.text
    return wid


async def finished(services: Harness, client: httpx.AsyncClient, headers: dict[str, str],
                   execution_id: str) -> dict[str, Any]:
    await services.runs.run_queued(execution_id)
    got = await client.get(f"/api/v1/executions/{execution_id}", headers=headers)
    assert got.status_code == 200, got.text
    return got.json()


def output(execution: dict[str, Any], name: str) -> list[dict[str, Any]]:
    return execution["nodes"][name][-1]["outputs"][0]


def test_the_mode_decides() -> None:
    from flowbox.engine.runner import pins_apply

    assert all(pins_apply(m) for m in ("manual", "cli", "test", "retry"))
    assert not any(pins_apply(m) for m in ("webhook", "trigger", "error", "integrated"))


def test_an_active_webhook_computes_and_the_api_run_uses_the_pins(tmp_path: Path) -> None:
    async def body(services: Harness, client: httpx.AsyncClient) -> None:
        key = await owner_key(services)
        data = workflow(node("Hook", "webhook", path="pins", method="POST", respond="lastNode"),
                     node("Double", "set", keepOnly=True, fields={"n": "{{ $json.body.n * 2 }}"}),
                     name="pinned webhook",
                     pinData={"Hook": [{"json": {"body": {"n": 100}}}], "Double": [{"n": -1}]})
        wid = await create(client, key, data, active=True)
        answer = await client.post("/webhook/pins", json={"n": 3})
        assert answer.status_code == 200 and answer.json() == {"n": 6}, answer.text
        ran = await client.post(f"/api/v1/workflows/{wid}/run", json={"wait": False}, headers=key)
        assert ran.status_code in (200, 202), ran.text
        manual = await finished(services, client, key, ran.json()["id"])
        assert manual["mode"] == "manual" and output(manual, "Double") == [{"n": -1}]

    run_with_services(tmp_path, body)


def test_a_schedule_fire_and_an_error_workflow_compute(tmp_path: Path) -> None:
    from zoneinfo import ZoneInfo

    from flowbox.scheduler import Entry, Scheduler

    async def body(services: Harness, client: httpx.AsyncClient) -> None:
        key = await owner_key(services)
        handler = await create(client, key, workflow(
            node("Failed", "errorTrigger"), node("Note", "set", keepOnly=True, fields={"node": "{{ $json.execution"
                                                                                         ".error.node }}"}),
            name="handler", pinData={"Failed": [{"execution": {}}], "Note": [{"node": "pinned"}]}))
        wid = await create(client, key, workflow(
            node("Tick", "schedule", every=3600), node("Tag", "set", fields={"tagged": True}),
            node("Boom", "stopAndError", message="scheduled failure"),
            name="scheduled", pinData={"Tag": [{"tagged": "pinned"}]}, settings={"errorWorkflow": handler}),
            active=True)
        now = dt.datetime.now(dt.UTC)
        scheduler = Scheduler(services.settings, services.store, services.disk, services.workflows.compiled,
                              services.runs.enqueue, services.queue.enqueue)
        await scheduler._fire(Entry(wid, "Tick", None, 3600, ZoneInfo("UTC"), now), now)
        page = (await client.get(f"/api/v1/executions?workflowId={wid}", headers=key)).json()["data"]
        fired = await finished(services, client, key, page[0]["id"])
        assert fired["mode"] == "trigger" and fired["status"] == "error"
        assert output(fired, "Tag")[0]["tagged"] is True
        page = (await client.get(f"/api/v1/executions?workflowId={handler}", headers=key)).json()["data"]
        handled = await finished(services, client, key, page[0]["id"])
        assert handled["mode"] == "error" and output(handled, "Note") == [{"node": "Boom"}]

    run_with_services(tmp_path, body)


def test_a_retry_keeps_the_pins_of_a_manual_run_only(tmp_path: Path) -> None:
    async def body(services: Harness, client: httpx.AsyncClient) -> None:
        key = await owner_key(services)
        data = workflow(node("Hook", "webhook", path="retry-pins", method="POST"),
                     node("Tag", "set", fields={"tagged": True}),
                     node("Boom", "stopAndError", message="always fails"),
                     name="retried", pinData={"Tag": [{"tagged": "pinned"}]})
        wid = await create(client, key, data, active=True)
        answer = await client.post("/webhook/retry-pins", json={})
        production = await finished(services, client, key, answer.json()["executionId"])
        ran = await client.post(f"/api/v1/workflows/{wid}/run", json={"wait": False}, headers=key)
        manual = await finished(services, client, key, ran.json()["id"])
        assert production["status"] == manual["status"] == "error"
        for original, tagged in ((production, True), (manual, "pinned")):
            retry = await client.post(f"/api/v1/executions/{original['id']}/retry", headers=key)
            assert retry.status_code == 202, retry.text  # from the failed node, reusing the data before it
            from_start = await services.retry_execution(original["id"], from_start=True)
            for start, retried in ((False, retry.json()["id"]), (True, from_start.id)):
                again = await finished(services, client, key, retried)
                assert again["mode"] == "retry" and output(again, "Tag")[0]["tagged"] == tagged, (original["mode"],
                                                                                                  start)

    run_with_services(tmp_path, body)
