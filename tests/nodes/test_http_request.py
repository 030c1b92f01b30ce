"""httpRequest through the real engine against a real HTTP server on 127.0.0.1."""

from __future__ import annotations

import base64
import json
import socket
import subprocess
import sys
import time
from typing import Any

import pytest

from flowbox.engine.runner import EngineServices


def http(**params: Any) -> dict[str, Any]:
    return {"name": "HTTP", "type": "httpRequest", "parameters": params}


def out(result: Any, output: int = 0) -> list[dict[str, Any]]:
    return [item.json for item in result.runs["HTTP"][-1].outputs[output]]


def test_get_sends_query_and_headers(run_node, server):
    result = run_node(http(url=f"{server.url}/echo", query={"q": "{{ $json.q }}", "n": 2},
                           headers={"X-Trace": "t-{{ $json.q }}"}), [{"q": "a b"}])
    assert result.status == "success", result.error
    [echo] = out(result)
    assert echo["method"] == "GET" and echo["path"] == "/echo"
    assert echo["query"] == {"q": "a b", "n": "2"}
    assert echo["headers"]["x-trace"] == "t-a b"


def test_query_merges_with_the_url_query_string(run_node, server):
    result = run_node(http(url=f"{server.url}/echo?a=1&b=2", query={"b": "3", "c": ["x", "y"]}))
    [echo] = out(result)
    assert echo["rawQuery"] == "a=1&b=3&c=x&c=y"


def test_one_request_per_item_in_input_order(run_node, server):
    items = [{"id": i, "s": 0.3 if i % 2 == 0 else 0.01} for i in range(6)]
    result = run_node(http(url=f"{server.url}/slow", query={"s": "{{ $json.s }}", "id": "{{ $json.id }}"}), items)
    assert result.status == "success", result.error
    assert [o["id"] for o in out(result)] == [str(i) for i in range(6)]


def test_requests_run_concurrently_but_bounded(run_node, server):
    items = [{"id": i} for i in range(25)]
    start = time.monotonic()
    result = run_node(http(url=f"{server.url}/slow", query={"s": 0.3, "id": "{{ $json.id }}"}), items)
    elapsed = time.monotonic() - start
    assert result.status == "success", result.error
    assert len(out(result)) == 25
    assert elapsed < 25 * 0.3 / 2  # far faster than one at a time
    assert 2 <= server.max_in_flight <= 10


def test_post_json_body_per_item(run_node, server):
    result = run_node(http(method="POST", url=f"{server.url}/echo",
                           body={"name": "{{ $json.name }}", "tags": ["x", "{{ $json.n * 2 }}"]}),
                      [{"name": "Ada", "n": 1}, {"name": "Bob", "n": 2}])
    assert result.status == "success", result.error
    echoes = out(result)
    assert [json.loads(e["body"]) for e in echoes] == [{"name": "Ada", "tags": ["x", 2]},
                                                       {"name": "Bob", "tags": ["x", 4]}]
    assert echoes[0]["headers"]["content-type"] == "application/json"


def test_form_body(run_node, server):
    result = run_node(http(method="PUT", url=f"{server.url}/echo", bodyType="form",
                           body={"a": 1, "b": "x y", "ok": True}))
    [echo] = out(result)
    assert echo["method"] == "PUT"
    assert echo["headers"]["content-type"] == "application/x-www-form-urlencoded"
    assert echo["body"] == "a=1&b=x+y&ok=true"


def test_raw_body_with_content_type(run_node, server):
    result = run_node(http(method="PATCH", url=f"{server.url}/echo", bodyType="raw", contentType="text/csv",
                           body="a,b\n{{ $json.x }},2"), [{"x": 1}])
    [echo] = out(result)
    assert echo["method"] == "PATCH"
    assert echo["headers"]["content-type"] == "text/csv"
    assert echo["body"] == "a,b\n1,2"


def test_body_is_not_sent_with_get(run_node, server):
    result = run_node(http(method="GET", url=f"{server.url}/echo", body={"a": 1}))
    assert out(result)[0]["body"] == ""


def test_json_list_gives_one_item_per_element_with_lineage(run_node, server):
    result = run_node(http(url=f"{server.url}/list"), [{"n": 1}])
    assert out(result) == [{"id": 1}, {"id": 2}, {"data": 3}]
    start_item = result.runs["Start"][-1].outputs[0][0]
    assert all(item.source is start_item for item in result.runs["HTTP"][-1].outputs[0])


def test_text_response(run_node, server):
    assert out(run_node(http(url=f"{server.url}/text", response="text"))) == [{"data": "hello\nworld"}]


def test_binary_response(run_node, server):
    result = run_node(http(url=f"{server.url}/bytes", response="binary"))
    [item] = result.runs["HTTP"][-1].outputs[0]
    data = item.binary["data"]
    assert base64.b64decode(data["data"]) == bytes(range(256))
    assert data["mimeType"] == "image/png"
    assert data["fileName"] == "pic.png"


def test_full_response(run_node, server):
    [full] = out(run_node(http(url=f"{server.url}/list", fullResponse=True)))
    assert full["statusCode"] == 200
    assert full["headers"]["content-type"] == "application/json"
    assert full["body"] == [{"id": 1}, {"id": 2}, 3]


def test_empty_and_head_responses(run_node, server):
    assert out(run_node(http(url=f"{server.url}/empty"))) == [{}]
    assert out(run_node(http(method="HEAD", url=f"{server.url}/echo"))) == [{}]


def test_http_status_error_names_status_method_url_and_body(run_node, server):
    url = f"{server.url}/status/404"
    result = run_node(http(method="DELETE", url=url))
    assert result.status == "error"
    assert result.error["node"] == "HTTP"
    message = result.error["message"]
    assert "404" in message and "DELETE" in message and url in message and "status 404 body" in message


def test_ignore_http_status_errors(run_node, server):
    result = run_node(http(url=f"{server.url}/status/500", response="text", fullResponse=True,
                           ignoreHttpStatusErrors=True))
    assert result.status == "success", result.error
    [full] = out(result)
    assert full["statusCode"] == 500 and full["body"] == "status 500 body"


def test_invalid_json_is_a_clear_error(run_node, server):
    result = run_node(http(url=f"{server.url}/badjson"))
    assert result.status == "error"
    assert "not valid JSON" in result.error["message"] and "{not json" in result.error["message"]


def test_retries_on_5xx(run_node, server):
    result = run_node(http(url=f"{server.url}/flaky/a/2", retries=2))
    assert result.status == "success", result.error
    assert out(result) == [{"calls": 3}]


def test_retries_exhausted_reports_last_status(run_node, server):
    result = run_node(http(url=f"{server.url}/flaky/b/5", retries=1))
    assert result.status == "error"
    assert "503" in result.error["message"]
    assert server.calls["/flaky/b/5"] == 2


def test_no_retries_by_default(run_node, server):
    result = run_node(http(url=f"{server.url}/flaky/c/1"))
    assert result.status == "error"
    assert server.calls["/flaky/c/1"] == 1


def test_retry_on_429_honours_retry_after(run_node, server):
    start = time.monotonic()
    result = run_node(http(url=f"{server.url}/ratelimit/x", retries=3))
    assert result.status == "success", result.error
    assert out(result) == [{"calls": 2}]
    assert time.monotonic() - start >= 0.1


def test_timeout_names_url(run_node, server):
    url = f"{server.url}/slow?s=2"
    start = time.monotonic()
    result = run_node(http(url=url, timeout=0.2))
    assert time.monotonic() - start < 1.5
    assert result.status == "error"
    assert "timeout" in result.error["message"] and url in result.error["message"]


def test_connection_error_names_url(run_node):
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"http://127.0.0.1:{port}/nothing"
    result = run_node(http(url=url, retries=1))
    assert result.status == "error"
    assert "could not connect" in result.error["message"] and url in result.error["message"]


def test_url_without_scheme(run_node):
    result = run_node(http(url="example.com/x"))
    assert result.status == "error"
    assert "http://" in result.error["message"] and "example.com/x" in result.error["message"]


def test_on_error_continue_fails_only_the_bad_item(run_node, server):
    node = {**http(url=server.url + "{{ $json.path }}"), "onError": "continue"}
    result = run_node(node, [{"path": "/echo"}, {"path": "/status/404"}, {"path": "/echo?x=1"}])
    assert result.status == "success"
    items = out(result)
    assert len(items) == 3
    assert items[0]["path"] == "/echo" and items[2]["query"] == {"x": "1"}
    assert set(items[1]) == {"error"} and "404" in items[1]["error"]


def test_on_error_output_routes_failed_items_to_output_1(run_node, server):
    node = {**http(url=server.url + "{{ $json.path }}"), "onError": "errorOutput"}
    result = run_node(node, [{"path": "/status/500"}, {"path": "/echo"}],
                      extra=[{"name": "Failed", "type": "noOp", "position": [400, 0], "parameters": {}}],
                      connections={"HTTP": {"main": [[], [{"node": "Failed", "type": "main", "index": 0}]]}})
    assert result.status == "success"
    assert [o["path"] for o in out(result)] == ["/echo"]
    [failed] = out(result, 1)
    assert failed["path"] == "/status/500" and "500" in failed["error"]
    assert [i.json for i in result.runs["Failed"][-1].outputs[0]] == [failed]


def test_on_error_stop_names_the_item(run_node, server):
    result = run_node(http(url=server.url + "{{ $json.path }}"), [{"path": "/echo"}, {"path": "/status/418"}])
    assert result.status == "error"
    assert "418" in result.error["message"]


def test_expression_error_fails_its_item(run_node, server):
    node = http(url=server.url + "/echo?n={{ 10 // $json.d }}")
    stopped = run_node(node, [{"d": 1}, {"d": 0}])
    assert stopped.status == "error"
    assert "'url'" in stopped.error["message"] and "ZeroDivisionError" in stopped.error["message"]
    continued = run_node({**node, "onError": "continue"}, [{"d": 1}, {"d": 0}])
    first, second = out(continued)
    assert first["query"] == {"n": "10"} and "ZeroDivisionError" in second["error"]


def test_input_items_are_not_changed(run_node, server):
    result = run_node({**http(url=f"{server.url}/status/500"), "onError": "errorOutput"}, [{"a": 1}])
    assert result.runs["Start"][-1].outputs[0][0].json == {"a": 1}


@pytest.mark.parametrize(("auth", "cred", "where", "expected"), [
    ("httpBasicAuth", {"user": "ada", "password": "s3cret"}, "authorization",
     "Basic " + base64.b64encode(b"ada:s3cret").decode()),
    ("httpBearerAuth", {"token": "tok"}, "authorization", "Bearer tok"),
    ("oAuth2Api", {"accessToken": "oat"}, "authorization", "Bearer oat"),
    ("httpHeaderAuth", {"name": "X-API-Key", "value": "k1"}, "x-api-key", "k1"),
    ("httpQueryAuth", {"name": "api_key", "value": "q1"}, "query:api_key", "q1"),
])
def test_credentials_sign_the_request(run_node, server, auth, cred, where, expected):
    asked: list[tuple[str, str]] = []

    async def credential(type_: str, id_: str) -> dict[str, Any]:
        asked.append((type_, id_))
        return cred

    node = {**http(url=f"{server.url}/echo", authentication=auth, headers={"authorization": "user-set"}),
            "credentials": {auth: "cred1"}}
    result = run_node(node, [{}, {}], services=EngineServices(credential=credential))
    assert result.status == "success", result.error
    for echo in out(result):
        got = echo["query"].get(where[6:]) if where.startswith("query:") else echo["headers"].get(where)
        assert got == expected
    assert asked == [(auth, "cred1")]  # fetched once per node run


def test_missing_credential_is_a_clear_error(run_node, server):
    result = run_node(http(url=f"{server.url}/echo", authentication="httpBasicAuth"),
                      services=EngineServices(credential=lambda *a: None))
    assert result.status == "error"
    assert "httpBasicAuth" in result.error["message"]


def test_importing_the_node_does_not_import_httpx():
    code = "import sys, flowbox.nodes.http_request; print('httpx' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"
