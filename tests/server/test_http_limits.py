"""What the server refuses, over real HTTP against a real `flowbox serve` (issue 12, items 4-7 and 9).

Oversized and too many headers (431/414), slow and idle clients (408, closed), the connection cap (503),
JSON nested too deeply (400), NUL characters (kept on both stores), and that every error answer under
/api, /webhook*, /healthz, /readyz and /metrics is `{"error": {"code", "message", "details"}}`.
The servers here run with 1-second time limits so that the slow-client tests stay short.
"""

from __future__ import annotations

import contextlib
import json
import selectors
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from support import node, postgres_schema, workflow

from .conftest import Server

FAST = {"FLOWBOX_HEADER_TIMEOUT": "1", "FLOWBOX_BODY_TIMEOUT": "1", "FLOWBOX_KEEPALIVE_TIMEOUT": "1",
        "FLOWBOX_MAX_BODY_MB": "1", "FLOWBOX_WEBHOOK_RATE_LIMIT": "0"}


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    server = Server(tmp_path_factory.mktemp("limits") / "data", FAST, ui=True).start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def http(srv: Server) -> Iterator[httpx.Client]:
    with srv.client() as client:
        for data in (workflow(node("Hook", "webhook", path="echo", method="POST", respond="lastNode"), name="echo"),
                     workflow(node("Hook", "webhook", path="later", method="POST"), name="later")):
            wid = client.post("/api/v1/workflows", json=data).json()["id"]
            assert client.post(f"/api/v1/workflows/{wid}/activate").status_code == 200
        yield client


def connect(srv: Server, timeout: float = 10) -> socket.socket:
    return socket.create_connection(("127.0.0.1", srv.port), timeout=timeout)


def read_all(sock: socket.socket) -> bytes:
    """Everything the server sends until it closes the connection."""
    out = b""
    with contextlib.suppress(ConnectionResetError):
        while chunk := sock.recv(65536):
            out += chunk
    return out


def read_answer(sock: socket.socket) -> bytes:
    """One whole answer (head and a `content-length` body) on a connection kept open."""
    out = b""
    while b"\r\n\r\n" not in out or len(out.partition(b"\r\n\r\n")[2]) < int(parse(out)[1]["content-length"]):
        chunk = sock.recv(65536)
        assert chunk, out
        out += chunk
    return out


def exchange(srv: Server, request: bytes) -> bytes:
    with connect(srv) as sock:
        sock.sendall(request)
        return read_all(sock)


def parse(raw: bytes) -> tuple[int, dict[str, str], bytes]:
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = dict(line.lower().split(": ", 1) for line in lines[1:])
    return int(lines[0].split()[1]), headers, body


def json_error(raw: bytes, status: int, code: str) -> dict[str, Any]:
    """The `error` object of a raw answer, checked to be JSON with `status` and `code`."""
    got, headers, body = parse(raw)
    assert got == status, raw[:300]
    assert headers["content-type"] == "application/json", headers
    error = json.loads(body)["error"]
    assert error["code"] == code and error["message"] and set(error) == {"code", "message", "details"}, error
    return error


def assert_json_error(response: httpx.Response, status: int, code: str | None = None) -> dict[str, Any]:
    assert response.status_code == status, response.text[:300]
    assert response.headers["content-type"].startswith("application/json"), response.headers
    error = response.json()["error"]
    assert set(error) == {"code", "message", "details"} and error["message"], error
    assert code is None or error["code"] == code, error
    return error


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS"):
            return int(line.split()[1]) / 1024
    return 0.0


def nested(depth: int) -> Any:
    value: Any = 1
    for i in range(depth):
        value = [value] if i % 2 else {"a": value}
    return value


def nested_text(depth: int) -> bytes:
    """`nested(depth)` as JSON text, built without recursion (100,000 deep is fine)."""
    opens = b"".join(b"[" if i % 2 else b'{"a":' for i in reversed(range(depth)))
    closes = b"".join(b"]" if i % 2 else b"}" for i in range(depth))
    return opens + b"1" + closes


# item 4: headers


def test_a_50_mb_header_is_refused_early_with_431(srv: Server) -> None:
    before = rss_mb(srv.proc.pid)  # type: ignore[union-attr]
    sent, answer = 0, b""
    with connect(srv) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ")
        selector = selectors.DefaultSelector()
        selector.register(sock, selectors.EVENT_READ | selectors.EVENT_WRITE)
        chunk = b"a" * 65536
        while sent < 50_000_000 and b"\r\n\r\n" not in answer:
            events = selector.select(timeout=10)
            assert events, "the server neither answered nor read"
            for _, mask in events:
                if mask & selectors.EVENT_READ:
                    data = sock.recv(65536)
                    answer += data
                    if not data:
                        sent = 50_000_000
                elif mask & selectors.EVENT_WRITE:
                    sent += sock.send(chunk)
        answer += read_all(sock)
    error = json_error(answer, 431, "headers_too_large")
    assert error["details"] == {"maxBytes": 32 * 1024}
    assert sent < 20_000_000  # refused long before the end
    assert rss_mb(srv.proc.pid) - before < 30  # type: ignore[union-attr]


def test_too_many_headers_and_a_too_long_url(srv: Server) -> None:
    many = b"".join(b"X-%d: v\r\n" % i for i in range(10_000))
    error = json_error(exchange(srv, b"GET /healthz HTTP/1.1\r\nHost: x\r\n" + many + b"\r\n"),
                       431, "headers_too_large")
    assert error["details"] == {"maxHeaders": 100}
    error = json_error(exchange(srv, b"GET /healthz?" + b"q" * 40_000 + b" HTTP/1.1\r\nHost: x\r\n\r\n"),
                       414, "uri_too_long")
    assert error["details"] == {"maxBytes": 32 * 1024}


def test_requests_within_the_limits_are_served(http: httpx.Client) -> None:
    headers = {f"x-h{i}": "v" * 300 for i in range(90)}  # ~28 KB in 97 headers with httpx's own
    answer = http.post("/webhook/echo", json={"ok": True}, headers=headers)
    assert answer.status_code == 200 and answer.json()["body"] == {"ok": True}


# item 5: slow and idle clients


def test_slow_headers_slow_bodies_and_idle_connections_are_ended(srv: Server, http: httpx.Client) -> None:
    """300 clients trickling headers, 100 trickling a webhook body and 100 saying nothing: with 1-second
    limits all of them are answered 408 (or, idle, closed) within a few seconds; others are served meanwhile."""
    before = http.get("/api/v1/executions", params={"limit": 250}).json()["data"]
    kinds: dict[socket.socket, str] = {}
    for kind, count in (("head", 300), ("body", 100), ("idle", 100)):
        for _ in range(count):
            sock = connect(srv)
            sock.setblocking(False)
            if kind == "head":
                sock.send(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
            elif kind == "body":
                sock.send(b"POST /webhook/later HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                          b"Content-Length: 100\r\n\r\n{")
            kinds[sock] = kind
    answers = {sock: b"" for sock in kinds}
    open_ = set(kinds)
    deadline = time.monotonic() + 8
    try:
        while open_ and time.monotonic() < deadline:
            assert http.get("/healthz", timeout=5).status_code == 200
            for sock in list(open_):
                with contextlib.suppress(BlockingIOError):
                    data = sock.recv(65536)
                    answers[sock] += data
                    if not data:
                        open_.discard(sock)
                        continue
                with contextlib.suppress(BlockingIOError, BrokenPipeError, ConnectionResetError):
                    sock.send(b"X-Slow: 1\r\n" if kinds[sock] == "head" else b" " if kinds[sock] == "body" else b"")
            time.sleep(0.2)
        assert not open_, f"{len(open_)} connections still open: {sorted(kinds[s] for s in open_)[:5]}"
    finally:
        for sock in kinds:
            sock.close()
    for sock, kind in kinds.items():
        if kind == "idle":
            assert answers[sock] == b""
        else:
            error = json_error(answers[sock], 408, "timeout")
            assert error["details"] == ({"headerTimeout": 1.0} if kind == "head" else {"bodyTimeout": 1.0})
    after = http.get("/api/v1/executions", params={"limit": 250}).json()["data"]
    assert len(after) == len(before)  # a body that never completed ran nothing


def test_an_idle_keep_alive_connection_is_closed(srv: Server) -> None:
    with connect(srv) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        assert read_answer(sock).startswith(b"HTTP/1.1 200")
        started = time.monotonic()
        sock.settimeout(4)
        assert read_all(sock) == b""
        assert time.monotonic() - started < 3


def test_connections_past_the_cap_get_503(make_server: Any) -> None:
    server: Server = make_server({"FLOWBOX_MAX_CONNECTIONS": "20", "FLOWBOX_KEEPALIVE_TIMEOUT": "30"}).start()
    held = []
    try:
        for _ in range(20):
            sock = connect(server)
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            assert read_answer(sock).startswith(b"HTTP/1.1 200")  # open and counted
            held.append(sock)
        with connect(server) as extra:
            error = json_error(read_all(extra), 503, "unavailable")
        assert error["details"] == {"maxConnections": 20}
        held.pop().close()
        deadline = time.monotonic() + 5
        while True:  # the server notices the closed connection soon
            with connect(server) as again:
                again.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                if read_all(again).startswith(b"HTTP/1.1 200"):
                    break
            assert time.monotonic() < deadline
            time.sleep(0.1)
    finally:
        for sock in held:
            sock.close()


# item 9: uvicorn's own answers are JSON too


def test_a_request_that_is_not_http_gets_json_400(srv: Server) -> None:
    json_error(exchange(srv, b"GARBAGE\r\n\r\n"), 400, "invalid_request")


def test_a_failure_inside_the_app_answers_json_500(http: httpx.Client) -> None:
    """A workflow whose output cannot be written back (nested past what orjson writes) fails in the middle
    of the ASGI app; uvicorn's answer to that used to be text/plain 'Internal Server Error'."""
    code = "v = 1\nfor _ in range(300):\n    v = [v]\nreturn [{'v': v}]"
    data = workflow(node("Hook", "webhook", path="unstorable", method="POST", respond="lastNode"),
                    node("Code", "code", language="python", mode="allItems", code=code), name="unstorable")
    wid = http.post("/api/v1/workflows", json=data).json()["id"]
    assert http.post(f"/api/v1/workflows/{wid}/activate").status_code == 200
    error = assert_json_error(http.post("/webhook/unstorable", json={}), 500)
    assert error["code"]


# item 6: deep JSON


@pytest.mark.parametrize("depth", [129, 300, 1_024, 100_000])
def test_json_nested_too_deeply_is_refused_everywhere(http: httpx.Client, depth: int) -> None:
    body = nested_text(depth)
    for method, url in (("POST", "/webhook/echo"), ("POST", "/webhook/later"), ("POST", "/api/v1/workflows"),
                        ("POST", "/api/v1/variables"), ("PUT", "/api/v1/variables/x")):
        answer = http.request(method, url, content=body, headers={"content-type": "application/json"})
        error = assert_json_error(answer, 400, "invalid_request")
        assert error["details"] == {"maxDepth": 128} and "128" in error["message"], (url, error)
    workflow_ = b'{"name": "deep", "nodes": [], "settings": ' + body + b"}"
    answer = http.post("/api/v1/workflows", content=workflow_, headers={"content-type": "application/json"})
    assert assert_json_error(answer, 400, "invalid_request")["details"] == {"maxDepth": 128}


def test_json_128_deep_is_stored_and_answered(http: httpx.Client) -> None:
    deep = nested(128)
    answer = http.post("/webhook/echo", json=deep)
    assert answer.status_code == 200 and answer.json()["body"] == deep
    pins = {"Start": [nested(125)]}  # 128 levels with the body's own object and pinData's
    nodes = [{"name": "Start", "type": "manualTrigger", "parameters": {}}]
    created = http.post("/api/v1/workflows", json={"name": "deep", "nodes": nodes, "pinData": pins})
    assert created.status_code == 201, created.text
    assert http.get(f"/api/v1/workflows/{created.json()['id']}").json()["pinData"] == pins


# item 9: every error answer under /api, /webhook*, /healthz, /readyz, /metrics is JSON


def test_errors_under_api_webhook_and_health_paths_are_json(http: httpx.Client) -> None:
    for path in ("/webhook", "/webhook/", "/webhook-test", "/webhook-waiting", "/webhooks/x", "/webhook/nope",
                 "/api/v1/nope", "/api/nope", "/api/v1/workflows/nope", "/healthz/x", "/metricsx"):
        assert_json_error(http.get(path), 404, "not_found")
    assert_json_error(http.delete("/healthz"), 405, "method_not_allowed")
    assert_json_error(http.put("/api/v1/workflows"), 405, "method_not_allowed")
    assert_json_error(http.get("/webhook/echo"), 405, "method_not_allowed")
    for content_type in ("application/json", "text/plain", "application/x-www-form-urlencoded"):
        for url in ("/api/v1/workflows", "/webhook/echo"):
            answer = http.post(url, content=b'{"name": ', headers={"content-type": content_type})
            if url.startswith("/webhook") and content_type != "application/json":
                assert answer.status_code == 200  # a webhook takes any body: text or form fields
                continue
            assert_json_error(answer, 400, "invalid_request")
    big = b"x" * (1024 * 1024 + 1)
    for url in ("/webhook/echo", "/api/v1/workflows"):
        assert_json_error(http.post(url, content=big, headers={"content-type": "application/json"}),
                          413, "body_too_large")
    page = http.get("/no-such-page")  # the editor's own pages stay HTML
    assert page.status_code == 404 and page.headers["content-type"].startswith("text/html")


# item 7: NUL characters, on both stores


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.services)])
def store_server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Server]:
    with contextlib.ExitStack() as stack:
        env = {"FLOWBOX_WEBHOOK_RATE_LIMIT": "0"}
        if request.param == "postgres":
            env["FLOWBOX_DATABASE_URL"] = stack.enter_context(postgres_schema("flowbox_nul"))
        server = Server(tmp_path / "data", env).start()
        stack.callback(server.stop)
        yield server


def test_nul_characters_are_kept(store_server: Server) -> None:
    text = "a\0b \\u0000 \U0010fffd0"
    with store_server.client() as http:
        data = workflow(node("Hook", "webhook", path="nul", method="POST", respond="lastNode"),
                        node("Note", "set", fields={"note": text}), name="holds NUL")
        named = http.post("/api/v1/workflows", json={**data, "name": f"name {text}"})
        assert named.status_code == 422 and "control character" in named.text  # names may not hold NUL
        created = http.post("/api/v1/workflows", json=data)
        assert created.status_code == 201, created.text
        wid = created.json()["id"]
        got = http.get(f"/api/v1/workflows/{wid}").json()
        assert got["nodes"][1]["parameters"]["fields"]["note"] == text
        assert http.post(f"/api/v1/workflows/{wid}/activate").status_code == 200
        answer = http.post("/webhook/nul", json={"text": text, text: [text]}, params={"q": text})
        assert answer.status_code == 200, answer.text
        assert answer.json()["body"] == {"text": text, text: [text]} and answer.json()["query"] == {"q": text}
        assert answer.json()["note"] == text
        execution = http.get("/api/v1/executions", params={"workflowId": wid}).json()["data"][0]
        run = http.get(f"/api/v1/executions/{execution['id']}").json()
        assert run["status"] == "success" and run["nodes"]["Hook"][0]["outputs"][0][0]["body"]["text"] == text
        assert http.post("/api/v1/variables", json={"key": "nul", "value": text}).status_code == 201
        assert http.get("/api/v1/variables/nul").json() == {"key": "nul", "value": text}
        assert_json_error(http.post("/api/v1/variables", json={"key": "a\0", "value": "x"}), 400)
