"""Helpers shared by every test folder (on sys.path through pytest's `pythonpath = ["tests"]`)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import socketserver
import threading
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

PG_URL = os.environ.get("FLOWBOX_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("FLOWBOX_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
MYSQL_HOST, MYSQL_PORT = "127.0.0.1", 3306


@contextlib.contextmanager
def serving(server: socketserver.BaseServer, poll_interval: float = 0.02) -> Iterator[Any]:
    """Run a local test server (an http.server subclass) on a thread while the block runs."""
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": poll_interval}, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


def unavailable(reason: str) -> None:
    """Skip, or fail when FLOWBOX_REQUIRE_SERVICES=1 (CI sets it: a missing service must not pass silently)."""
    if os.environ.get("FLOWBOX_REQUIRE_SERVICES") == "1":
        pytest.fail(f"{reason} (and FLOWBOX_REQUIRE_SERVICES=1)")
    pytest.skip(reason)


def require_port(host: str, port: int, what: str) -> None:
    """`unavailable` unless something accepts TCP connections at host:port."""
    try:
        socket.create_connection((host, port), timeout=2).close()
    except OSError as exc:
        unavailable(f"{what} does not answer at {host}:{port}: {exc}")


def run_with_services(tmp_path: Path, body: Callable[[Any, Any], Awaitable[None]]) -> None:
    """Start Services on a temp data dir, and call `body` with them and a client on the API app."""
    import httpx

    from flowbox.api import make_api
    from flowbox.services import Services
    from flowbox.settings import Settings

    async def main() -> None:
        services = Services(Settings.load(tmp_path / "data", ui=False))
        await services.start(consume=False, schedule=False, recover=False)
        app = make_api(services)
        try:
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
                client.app = app  # type: ignore[attr-defined]
                await body(services, client)
        finally:
            await services.stop(timeout=1)

    asyncio.run(main())


def credential_services(cred: dict[str, Any], type_: str | None = None, id_: str | None = None) -> Any:
    """Engine services whose credential lookup answers `cred` (checking the type and id a node asks for)."""
    from flowbox.engine.runner import EngineServices

    async def credential(asked_type: str, asked_id: str) -> dict[str, Any]:
        assert type_ is None or asked_type == type_, (asked_type, type_)
        assert id_ is None or asked_id == id_, (asked_id, id_)
        return cred

    return EngineServices(credential=credential)
