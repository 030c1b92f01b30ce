"""End to end: a real `flowbox serve` with an active redisTrigger workflow records an execution for a real
PUBLISH on the real Redis, and stops cleanly with the listener running."""

from __future__ import annotations

import time
import uuid
from urllib.parse import urlsplit

import pytest
import redis
from support import REDIS_URL, node, require_port, workflow

from .conftest import Server

URL = urlsplit(REDIS_URL)
HOST, PORT, DB = URL.hostname or "127.0.0.1", URL.port or 6379, (URL.path.strip("/") or "0")


@pytest.mark.services
def test_publish_on_redis_starts_an_execution_of_the_active_workflow(server: Server) -> None:
    require_port(HOST, PORT, "Redis")
    channel = f"flowbox-e2e-{uuid.uuid4().hex}"
    client = redis.Redis(host=HOST, port=PORT, db=int(DB))
    with server.client() as api:
        res = api.post("/api/v1/credentials", json={"name": "local redis", "type": "redis",
                                                    "data": {"host": HOST, "port": str(PORT), "database": DB}})
        assert res.status_code == 201, res.text
        trigger = {**node("On message", "redisTrigger", channels=channel),
                   "credentials": {"redis": {"id": res.json()["id"], "name": "local redis"}}}
        data = workflow(trigger, node("Label", "set", fields={"total": "{{ $json.message.total * 2 }}"}))
        wid = api.post("/api/v1/workflows", json=data).json()["id"]
        assert api.post(f"/api/v1/workflows/{wid}/activate").status_code == 200

        deadline = time.monotonic() + 15  # the listener subscribes on its own, right after activation
        while client.publish(channel, '{"total": 21}') == 0:
            assert time.monotonic() < deadline, f"nobody subscribed to {channel}:\n{server.logs()}"
            time.sleep(0.05)

        while True:
            found = api.get("/api/v1/executions", params={"workflowId": wid}).json()["data"]
            if found and found[0]["status"] == "success":
                break
            assert time.monotonic() < deadline, f"no finished execution: {found}\n{server.logs()}"
            time.sleep(0.05)
        assert len(found) == 1 and found[0]["mode"] == "trigger"
        execution = api.get(f"/api/v1/executions/{found[0]['id']}").json()
        assert execution["nodes"]["On message"][0]["outputs"] == [[{"channel": channel, "message": {"total": 21}}]]
        assert execution["nodes"]["Label"][0]["outputs"][0][0]["total"] == 42
    started = time.monotonic()
    assert server.stop() == 0 and time.monotonic() - started < 10  # the subscriber does not hold up shutdown
    assert client.pubsub_numsub(channel) == [(channel.encode(), 0)]
    client.close()
