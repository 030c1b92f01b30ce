"""Webhooks over real HTTP against a real server: response modes, bodies, errors, test listening,
the error workflow, metrics."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from support import node, workflow

from .conftest import Server


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    server = Server(tmp_path_factory.mktemp("webhooks") / "data", {"FLOWBOX_MAX_BODY_MB": "1"}).start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def http(srv: Server) -> Iterator[httpx.Client]:
    with srv.client() as client:
        yield client


def activate(http: httpx.Client, data: dict[str, Any]) -> str:
    created = http.post("/api/v1/workflows", json=data)
    assert created.status_code == 201, created.text
    wid = created.json()["id"]
    answer = http.post(f"/api/v1/workflows/{wid}/activate")
    assert answer.status_code == 200, answer.text
    return wid


def wait_execution(http: httpx.Client, execution_id: str, timeout: float = 15) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = http.get(f"/api/v1/executions/{execution_id}").json()
        if got["status"] not in ("new", "queued", "running"):
            return got
        time.sleep(0.05)
    raise AssertionError(f"execution {execution_id} still {got['status']}")


def test_respond_immediately_queues_and_records(http: httpx.Client) -> None:
    activate(http, workflow(node("Hook", "webhook", path="orders/new", method="POST"),
                            node("Total", "set", fields={"total": "{{ $json.body.price * $json.body.qty }}",
                                                         "q": "{{ $json.query.src }}"}), name="orders"))
    answer = http.post("/webhook/orders/new?src=shop", json={"price": 3, "qty": 4})
    assert answer.status_code == 200 and set(answer.json()) == {"executionId"}
    done = wait_execution(http, answer.json()["executionId"])
    assert done["status"] == "success" and done["mode"] == "webhook"
    out = done["nodes"]["Total"][0]["outputs"][0][0]
    assert out["total"] == 12 and out["q"] == "shop"
    assert out["method"] == "POST" and out["path"] == "orders/new" and out["headers"]["content-type"] == \
        "application/json"


def test_respond_last_node_first_entry_and_all_entries(http: httpx.Client) -> None:
    activate(http, workflow(node("Hook", "webhook", path="split", method="POST", respond="lastNode"),
                            node("Each", "splitOut", field="body.items"), name="split-first"))
    answer = http.post("/webhook/split", json={"items": [{"a": 1}, {"a": 2}]})
    assert answer.status_code == 200 and answer.json() == {"a": 1}
    activate(http, workflow(node("Hook", "webhook", path="split-all", method="POST", respond="lastNode",
                                 responseData="allEntries", responseCode=201),
                            node("Each", "splitOut", field="body.items"), name="split-all"))
    answer = http.post("/webhook/split-all", json={"items": [{"a": 1}, {"a": 2}]})
    assert answer.status_code == 201 and answer.json() == [{"a": 1}, {"a": 2}]


def test_respond_node_sets_status_headers_and_body(http: httpx.Client) -> None:
    activate(http, workflow(
        node("Hook", "webhook", path="answer", method="GET", respond="respondNode"),
        node("Reply", "respondToWebhook", status=202, headers={"X-Flow": "box"},
             body={"hello": "{{ $json.query.name }}"}),
        node("After", "set", fields={"after": True}), name="answer"))
    answer = http.get("/webhook/answer", params={"name": "ada"})
    assert answer.status_code == 202 and answer.json() == {"hello": "ada"} and answer.headers["x-flow"] == "box"


def test_failing_inline_workflow_answers_500_naming_node(http: httpx.Client) -> None:
    activate(http, workflow(node("Hook", "webhook", path="boom", method="POST", respond="lastNode"),
                            node("Stop", "stopAndError", message="no thanks"), name="boom"))
    answer = http.post("/webhook/boom", json={})
    assert answer.status_code == 500
    error = answer.json()["error"]
    assert error["message"] == "no thanks" and error["details"]["node"] == "Stop"
    assert wait_execution(http, error["details"]["executionId"])["status"] == "error"


def test_bodies_form_raw_binary_and_path_params(http: httpx.Client) -> None:
    activate(http, workflow(node("Hook", "webhook", path="items/:kind/:id", method="POST", respond="lastNode"),
                            name="params"))
    form = http.post("/webhook/items/book/42", data={"a": "1", "b": "x y"}).json()
    assert form["params"] == {"kind": "book", "id": "42"} and form["body"] == {"a": "1", "b": "x y"}
    raw = http.post("/webhook/items/a/1", content=b"plain text", headers={"content-type": "text/plain"}).json()
    assert raw["body"] == "plain text"
    bad = http.post("/webhook/items/a/1", content=b"{nope", headers={"content-type": "application/json"})
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "invalid_request"


def test_unknown_path_wrong_method_and_too_large(http: httpx.Client) -> None:
    activate(http, workflow(node("Hook", "webhook", path="only-post", method="POST"), name="only-post"))
    missing = http.post("/webhook/does-not-exist", json={})
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"
    wrong = http.get("/webhook/only-post")
    assert wrong.status_code == 405 and wrong.json()["error"]["code"] == "method_not_allowed"
    big = http.post("/webhook/only-post", content=b"x" * (1024 * 1024 + 1), headers={"content-type": "text/plain"})
    assert big.status_code == 413 and big.json()["error"]["code"] == "body_too_large"


def test_listen_for_a_test_event(http: httpx.Client) -> None:
    data = workflow(node("Hook", "webhook", path="try-me", method="POST"),
                    node("Echo", "set", fields={"seen": "{{ $json.body.v }}"}), name="draft")
    wid = http.post("/api/v1/workflows", json=data).json()["id"]  # saved but not active
    assert http.post("/webhook-test/try-me", json={}).status_code == 404  # nobody listens yet
    result: dict[str, Any] = {}

    def listen() -> None:
        result["answer"] = http.post(f"/api/v1/workflows/{wid}/listen", json={"timeout": 10}, timeout=20)

    listener = threading.Thread(target=listen)
    listener.start()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        reply = http.post("/webhook-test/try-me", json={"v": 5})
        if reply.status_code != 404:
            break
        time.sleep(0.05)
    listener.join(20)
    assert reply.status_code == 200 and reply.json()["seen"] == 5  # a test call answers with the last node
    execution = result["answer"].json()
    assert execution["mode"] == "test" and execution["status"] == "success"
    assert http.post("/webhook/try-me", json={}).status_code == 404  # the production path stays off


def test_error_workflow_runs_with_the_failure(http: httpx.Client) -> None:
    handler = activate(http, workflow(node("On error", "errorTrigger"),
                                      node("Note", "set", fields={"failed": "{{ $json.execution.error.node }}"}),
                                      name="handler"))
    activate(http, workflow(node("Hook", "webhook", path="fragile", method="POST"),
                            node("Break", "stopAndError", message="fragile broke"),
                            name="fragile", settings={"errorWorkflow": handler}))
    failed = http.post("/webhook/fragile", json={}).json()["executionId"]
    assert wait_execution(http, failed)["status"] == "error"
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        runs = http.get("/api/v1/executions", params={"workflowId": handler}).json()["data"]
        if runs and runs[0]["status"] == "success":
            break
        time.sleep(0.1)
    detail = http.get(f"/api/v1/executions/{runs[0]['id']}").json()
    assert detail["mode"] == "error"
    assert detail["nodes"]["Note"][0]["outputs"][0][0]["failed"] == "Break"


def test_health_readiness_and_metrics(http: httpx.Client) -> None:
    assert http.get("/healthz").json() == {"status": "ok"}
    ready = http.get("/readyz")
    assert ready.status_code == 200 and ready.json()["checks"] == {"store": True, "writes": True, "disk": True,
                                                                   "queue": True, "accepting": True}
    activate(http, workflow(node("Hook", "webhook", path="counted", method="POST", respond="lastNode"),
                            name="counted"))
    for _ in range(3):
        http.post("/webhook/counted", json={})
    text = http.get("/metrics").text
    assert "flowbox_webhook_requests_total{status=\"200\"}" in text
    assert 'flowbox_executions_total{mode="webhook",status="success"}' in text
    assert "flowbox_execution_duration_seconds_bucket" in text and "flowbox_queue_depth" in text


def test_save_data_settings_drop_successful_runs(http: httpx.Client, srv: Server) -> None:
    wid = activate(http, workflow(node("Hook", "webhook", path="quiet", method="POST", respond="lastNode"),
                                  name="quiet", settings={"saveDataSuccessExecution": "none"}))
    assert http.post("/webhook/quiet", json={}).status_code == 200
    time.sleep(0.3)
    assert http.get("/api/v1/executions", params={"workflowId": wid}).json()["data"] == []


def test_a_slow_webhook_does_not_block_others(http: httpx.Client) -> None:
    activate(http, workflow(node("Hook", "webhook", path="slow", method="POST", respond="lastNode"),
                            node("Nap", "wait", seconds=2), name="slow"))
    activate(http, workflow(node("Hook", "webhook", path="fast", method="POST", respond="lastNode"), name="fast"))
    slow = threading.Thread(target=lambda: http.post("/webhook/slow", json={}))
    slow.start()
    time.sleep(0.2)
    start = time.monotonic()
    assert http.post("/webhook/fast", json={}).status_code == 200
    assert time.monotonic() - start < 1.0
    slow.join()


def test_api_docs_offline(http: httpx.Client, tmp_path: Path) -> None:
    page = http.get("/api/docs")
    assert page.status_code == 200 and "https://" not in page.text
