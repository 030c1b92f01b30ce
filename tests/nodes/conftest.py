"""Shared fixtures for node tests: run one node through the real engine, and a real local HTTP server."""

from __future__ import annotations

import asyncio
import http.server
import json
import threading
import time
import urllib.parse
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import support
from support import serving

from flowbox.engine.runner import EngineServices, ExecutionResult, Runner
from flowbox.node import make_items
from flowbox.workflow import load_workflow

RunNode = Callable[..., ExecutionResult]


def workflow(node: dict[str, Any], *, extra: list[dict[str, Any]] | None = None,
             connections: dict[str, Any] | None = None, settings: dict[str, Any] | None = None) -> dict[str, Any]:
    """Start (manualTrigger) -> `node`, plus any `extra` nodes and connections."""
    start, node = support.node("Start", "manualTrigger"), {"position": [200, 0], "parameters": {}, **node}
    return support.workflow(start, node, *(extra or []), name="test", settings=settings or {"timezone": "UTC"},
                            connections={**support.chained([start, node]), **(connections or {})})


@pytest.fixture
def run_node() -> RunNode:
    """run_node(node_dict, [json, ...], services=None, **workflow_kwargs) -> ExecutionResult.

    An input may also be an n8n-style `{"json": {...}, "binary": {...}}` item.
    """

    def run(node: dict[str, Any], inputs: list[dict[str, Any]] | None = None,
            services: EngineServices | None = None, **kwargs: Any) -> ExecutionResult:
        wf = load_workflow(workflow(node, **kwargs))
        svc = services or EngineServices()

        async def go() -> ExecutionResult:
            try:
                return await Runner(wf, services=svc).run(make_items([dict(j) for j in inputs or [{}]]))
            finally:
                await svc.close()

        return asyncio.run(go())

    return run


class LocalServer(http.server.ThreadingHTTPServer):
    """Counts calls per path and the most requests it held open at once."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.calls: Counter[str] = Counter()
        self.lock = threading.Lock()
        self.in_flight = 0
        self.max_in_flight = 0
        self.files: dict[str, tuple[str, bytes]] = {}  # /files/<name> -> (content type, body)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_port}"


class Handler(http.server.BaseHTTPRequestHandler):
    """/echo, /status/N, /flaky/KEY/N (503 N times), /ratelimit/KEY, /slow?s=, /bytes, /badjson,
    /list, /text, /empty, /files/<name> (what a test put in `server.files`)."""

    server: LocalServer
    protocol_version = "HTTP/1.1"

    def _answer(self) -> None:
        url = urllib.parse.urlsplit(self.path)
        self._raw_query = url.query
        parts = url.path.strip("/").split("/")
        query = dict(urllib.parse.parse_qsl(url.query))
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        srv = self.server
        with srv.lock:
            srv.calls[url.path] += 1
            calls = srv.calls[url.path]
            srv.in_flight += 1
            srv.max_in_flight = max(srv.max_in_flight, srv.in_flight)
        try:
            self._route(parts, query, raw, calls, url.path)
        finally:
            with srv.lock:
                srv.in_flight -= 1

    def _route(self, parts: list[str], query: dict[str, str], raw: bytes, calls: int, path: str) -> None:
        head = parts[0]
        if head == "echo":
            self._send(200, {"method": self.command, "path": path, "query": query, "rawQuery": self._raw_query,
                             "headers": {k.lower(): v for k, v in self.headers.items()},
                             "body": raw.decode("utf-8", "replace")})
        elif head == "status":
            self._send(int(parts[1]), f"status {parts[1]} body", "text/plain")
        elif head == "flaky":
            if calls <= int(parts[2]):
                self._send(503, "try later", "text/plain", {"Retry-After": "0"})
            else:
                self._send(200, {"calls": calls})
        elif head == "ratelimit":
            if calls == 1:
                self._send(429, "slow down", "text/plain", {"Retry-After": "0.1"})
            else:
                self._send(200, {"calls": calls})
        elif head == "slow":
            time.sleep(float(query.get("s", "1")))
            self._send(200, {"slept": float(query.get("s", "1")), "id": query.get("id")})
        elif head == "bytes":
            self._send(200, bytes(range(256)), "image/png", {"Content-Disposition": 'attachment; filename="pic.png"'})
        elif head == "badjson":
            self._send(200, "{not json", "application/json")
        elif head == "list":
            self._send(200, [{"id": 1}, {"id": 2}, 3])
        elif head == "text":
            self._send(200, "hello\nworld", "text/plain; charset=utf-8")
        elif head == "empty":
            self._send(204, b"")
        elif head == "files" and "/".join(parts[1:]) in self.server.files:
            content_type, body = self.server.files["/".join(parts[1:])]
            self._send(200, body, content_type)
        else:
            self._send(404, {"error": "no route"})

    def _send(self, status: int, body: Any, content_type: str = "application/json",
              headers: dict[str, str] | None = None) -> None:
        data = body if isinstance(body, bytes) else body.encode() if isinstance(body, str) else json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _answer

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def server() -> Iterator[LocalServer]:
    with serving(LocalServer()) as srv:
        yield srv
