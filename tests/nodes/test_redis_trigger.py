"""redisTrigger against the real Redis (127.0.0.1:6379): a real PUBLISH starts an execution, recorded by a
real Runtime on SQLite; channels and patterns; a server that does not answer is logged and retried."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from support import REDIS_URL, Harness, require_port
from trigger_support import listener_state, run_services, trigger_outputs, until

URL = urlsplit(REDIS_URL)
HOST, PORT, DB = URL.hostname or "127.0.0.1", URL.port or 6379, (URL.path.strip("/") or "0")

pytestmark = pytest.mark.services


@pytest.fixture(autouse=True)
def _redis() -> None:
    require_port(HOST, PORT, "Redis")


def trigger_workflow(credential_id: str, **params: Any) -> dict[str, Any]:
    return {"name": "redis", "settings": {"timezone": "UTC"}, "connections": {},
            "nodes": [{"name": "T", "type": "redisTrigger", "position": [0, 0], "parameters": params,
                       "credentials": {"redis": {"id": credential_id, "name": "redis"}}}]}


async def credential(services: Harness, **extra: Any) -> str:
    made = await services.create_credential("redis", "redis", {"host": HOST, "port": str(PORT), "database": DB,
                                                               **extra})
    return str(made["id"])


async def publish_when_subscribed(channel: str, message: str) -> None:
    """PUBLISH until a subscriber got it (PUBLISH answers how many did): the listener subscribes on its own."""
    import redis.asyncio

    client = redis.asyncio.Redis(host=HOST, port=PORT, db=int(DB))
    try:
        await until(lambda: client.publish(channel, message), what=f"a subscriber on {channel}")
    finally:
        await client.aclose()


async def publish(channel: str, *messages: bytes | str) -> None:
    import redis.asyncio

    client = redis.asyncio.Redis(host=HOST, port=PORT, db=int(DB))
    try:
        for message in messages:
            assert await client.publish(channel, message) == 1
    finally:
        await client.aclose()


def test_each_published_message_starts_an_execution(tmp_path: Path) -> None:
    channel = f"flowbox-test-{uuid.uuid4().hex}"

    async def body(services: Harness) -> None:
        record = await services.create_workflow(trigger_workflow(await credential(services), channels=channel))
        await services.activate(record.id)
        await publish_when_subscribed(channel, '{"order": 1, "total": 9.5}')
        await publish(channel, "plain text", "42", b"\xff\xfe", "[1, 2]")
        runs = await trigger_outputs(services, record.id, 5)
        assert runs == [[{"channel": channel, "message": {"order": 1, "total": 9.5}}],
                        [{"channel": channel, "message": "plain text"}],
                        [{"channel": channel, "message": 42}],
                        [{"channel": channel, "message": "//4="}],  # not UTF-8: base64
                        [{"channel": channel, "message": [1, 2]}]]
        await services.deactivate(record.id)
        await until(lambda: _subscribers(channel, want=0), what="the unsubscribe")

    run_services(tmp_path / "data", body)


async def _subscribers(channel: str, want: int) -> bool:
    import redis.asyncio

    client = redis.asyncio.Redis(host=HOST, port=PORT, db=int(DB))
    try:
        [(_, count)] = await client.pubsub_numsub(channel)
        return count == want
    finally:
        await client.aclose()


def test_patterns_and_raw_messages(tmp_path: Path) -> None:
    prefix = f"flowbox-test-{uuid.uuid4().hex}"

    async def body(services: Harness) -> None:
        record = await services.create_workflow(trigger_workflow(
            await credential(services), channels=f"{prefix}.orders.*, {prefix}.news", pattern=True,
            jsonParse=False))
        await services.activate(record.id)
        await publish_when_subscribed(f"{prefix}.orders.new", '{"id": 7}')
        await publish(f"{prefix}.news", "hello")
        runs = await trigger_outputs(services, record.id, 2)
        assert runs == [[{"channel": f"{prefix}.orders.new", "message": '{"id": 7}', "pattern": f"{prefix}.orders.*"}],
                        [{"channel": f"{prefix}.news", "message": "hello", "pattern": f"{prefix}.news"}]]

    run_services(tmp_path / "data", body)


def test_a_server_that_does_not_answer_is_logged_and_retried(tmp_path: Path) -> None:
    from mail_servers import free_port

    port = free_port()  # nothing listens there

    async def body(services: Harness) -> None:
        record = await services.create_workflow(trigger_workflow(
            await credential(services, port=str(port)), channels="anything"))
        await services.activate(record.id)
        state = await listener_state(services, record.id, lambda s: s["restarts"] >= 2)
        assert f"{HOST}:{port}" in state["lastError"] and "Redis" in state["lastError"]

    run_services(tmp_path / "data", body)
