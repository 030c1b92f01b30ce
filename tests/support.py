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


def node(name: str, type_: str, **params: Any) -> dict[str, Any]:
    """A workflow node with these parameters."""
    return {"name": name, "type": type_, "position": [0, 0], "parameters": params}


def chained(nodes: list[dict[str, Any]]) -> dict[str, Any]:
    """Connections from each node to the next (output 0 to input 0)."""
    return {a["name"]: {"main": [[{"node": b["name"], "type": "main", "index": 0}]]}
            for a, b in zip(nodes, nodes[1:], strict=False)}


def connect(edges: list[tuple[str, int, str, int]]) -> dict[str, Any]:
    """Connections from (source, output, target, input) edges."""
    connections: dict[str, Any] = {}
    for source, output, target, index in edges:
        outputs = connections.setdefault(source, {"main": []})["main"]
        while len(outputs) <= output:
            outputs.append([])
        outputs[output].append({"node": target, "type": "main", "index": index})
    return connections


def workflow(*nodes: dict[str, Any], name: str = "wf", settings: dict[str, Any] | None = None,
             connections: dict[str, Any] | None = None, **extra: Any) -> dict[str, Any]:
    """A workflow of `nodes` chained in order (unless `connections` is given); `extra` adds fields (pinData)."""
    return {"name": name, "nodes": list(nodes),
            "connections": connections if connections is not None else chained(list(nodes)),
            "settings": settings or {}, **extra}


def unavailable(reason: str) -> None:
    """Skip, or fail when FLOWBOX_REQUIRE_SERVICES=1 (CI sets it: a missing service must not pass silently)."""
    if os.environ.get("FLOWBOX_REQUIRE_SERVICES") == "1":
        pytest.fail(f"{reason} (and FLOWBOX_REQUIRE_SERVICES=1)")
    pytest.skip(reason)


@contextlib.contextmanager
def postgres_schema(prefix: str = "flowbox_test") -> Iterator[str]:
    """A fresh schema on the test PostgreSQL (dropped afterwards); yields a URL whose search_path is it."""
    import uuid

    try:
        import psycopg
    except ImportError:
        unavailable("psycopg is not installed (pip install flowbox)")
    try:
        admin = psycopg.connect(PG_URL, autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as exc:
        unavailable(f"PostgreSQL does not answer at {PG_URL}: {exc}".strip())
    schema = f"{prefix}_{uuid.uuid4().hex[:12]}"
    admin.execute(f'CREATE SCHEMA "{schema}"')
    try:
        yield f"{PG_URL}{'&' if '?' in PG_URL else '?'}options=-csearch_path%3D{schema}"
    finally:
        admin.execute(f'DROP SCHEMA "{schema}" CASCADE')
        admin.close()


def require_port(host: str, port: int, what: str) -> None:
    """`unavailable` unless something accepts TCP connections at host:port."""
    try:
        socket.create_connection((host, port), timeout=2).close()
    except OSError as exc:
        unavailable(f"{what} does not answer at {host}:{port}: {exc}")


class Harness:
    """A `flowbox.runtime.Runtime` for tests: its operations for no user in particular
    (`harness.create_workflow(...)`, as the CLI has them) and the runtime's own parts (`harness.store`,
    `harness.start()`, `harness.runs`); `harness.runtime` is the runtime itself."""

    def __init__(self, settings: Any, store: Any = None) -> None:
        from flowbox.runtime import Runtime

        self.runtime = Runtime(settings, store)

    def __getattr__(self, name: str) -> Any:
        from flowbox.operations import Operations

        if hasattr(Operations, name):
            return getattr(self.runtime.operations(), name)
        return getattr(self.runtime, name)


def run_with_services(tmp_path: Path, body: Callable[[Any, Any], Awaitable[None]]) -> None:
    """Start a runtime on a temp data dir, and call `body` with its `Harness` and a client on the API app
    (webhook paths reach the webhook app, as under `flowbox serve`; `client.app` is the API app)."""
    import httpx

    from flowbox.api import make_api
    from flowbox.api.webhooks import WebhookApp
    from flowbox.app import Root
    from flowbox.settings import Settings

    async def main() -> None:
        services = Harness(Settings.load(tmp_path / "data", ui=False))
        runtime = services.runtime
        await runtime.start(consume=False, schedule=False, recover=False)
        app = make_api(runtime)
        try:
            transport = httpx.ASGITransport(app=Root(runtime, app, WebhookApp(runtime), None))
            async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
                client.app = app  # type: ignore[attr-defined]
                await body(services, client)
        finally:
            await runtime.stop(timeout=1)

    asyncio.run(main())


def credential_services(cred: dict[str, Any], type_: str | None = None, id_: str | None = None) -> Any:
    """Engine services whose credential lookup answers `cred` (checking the type and id a node asks for)."""
    from flowbox.engine.runner import EngineServices

    async def credential(asked_type: str, asked_id: str) -> dict[str, Any]:
        assert type_ is None or asked_type == type_, (asked_type, type_)
        assert id_ is None or asked_id == id_, (asked_id, id_)
        return cred

    return EngineServices(credential=credential)


@pytest.fixture
def unsandboxed_code(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """For tests whose code nodes keep state in host files (a test double: an attempt counter, a flag the
    test flips), which the code node's sandbox does not allow: its explicit fallback FLOWBOX_CODE_SANDBOX=process,
    in this process's default code pool and in the processes the test starts."""
    from flowbox.engine import codebox
    from flowbox.engine.codesandbox import SandboxConfig

    monkeypatch.setenv("FLOWBOX_CODE_SANDBOX", "process")
    pool = codebox.CodePool(sandbox=SandboxConfig(mode="process"))
    monkeypatch.setattr(codebox, "_default", pool)
    yield
    pool.close_now()
