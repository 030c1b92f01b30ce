"""The REST API (DESIGN §8) against a real `flowbox serve`: workflows, executions, variables, nodes, docs.

One server for the module; each test names its workflows uniquely so they don't see each other's.
"""

from __future__ import annotations

import re
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from support import node, workflow

from .conftest import Server


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[httpx.Client]:
    srv = Server(tmp_path_factory.mktemp("api") / "data").start()
    try:
        with srv.client() as client:
            yield client
    finally:
        if srv.proc is not None and srv.proc.poll() is None:
            srv.stop()


def unique(prefix: str = "wf") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def create(api: httpx.Client, data: dict[str, Any]) -> dict[str, Any]:
    res = api.post("/api/v1/workflows", json=data)
    assert res.status_code == 201, res.text
    return res.json()


def assert_error(res: httpx.Response, status: int, code: str | None = None) -> dict[str, Any]:
    """The JSON error shape of DESIGN §8; returns the `error` object."""
    assert res.status_code == status, res.text
    assert res.headers["content-type"].startswith("application/json")
    error = res.json()["error"]
    assert set(error) == {"code", "message", "details"}
    assert isinstance(error["message"], str) and error["message"]
    if code is not None:
        assert error["code"] == code, error
    return error


def error_keys(error: dict[str, Any]) -> list[str]:
    return [d.get("key") for d in error["details"] or []]


def webhook_workflow(name: str, path: str) -> dict[str, Any]:
    return workflow(node("Hook", "webhook", path=path, method="POST"), node("Echo", "set", fields={"ok": True}),
                    name=name)


def manual_workflow(name: str, **fields: Any) -> dict[str, Any]:
    return workflow(node("Start", "manualTrigger"), node("Set", "set", fields=fields or {"done": True}), name=name)


def poll_execution(api: httpx.Client, execution_id: str, timeout: float = 15) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        res = api.get(f"/api/v1/executions/{execution_id}")
        assert res.status_code == 200, res.text
        if res.json()["status"] not in ("new", "queued", "running"):
            return res.json()
        time.sleep(0.05)
    raise AssertionError(f"execution {execution_id} did not finish: {res.json()}")


# ---------------------------------------------------------------- workflows

def test_workflow_crud_and_versions(api: httpx.Client) -> None:
    name = unique("crud")
    created = create(api, manual_workflow(name, total="{{ 1 + 1 }}"))
    wid = created["id"]
    assert created["name"] == name and created["active"] is False and created["version"] == 1
    assert [n["name"] for n in created["nodes"]] == ["Start", "Set"]
    assert created["connections"]["Start"]["main"][0][0]["node"] == "Set"

    got = api.get(f"/api/v1/workflows/{wid}")
    assert got.status_code == 200 and got.json() == created

    # PUT replaces it and keeps the previous version; the editor sends back what it read
    changed = {**got.json(), "name": name + "-v2"}
    changed["nodes"][1]["parameters"]["fields"] = {"total": 3}
    res = api.put(f"/api/v1/workflows/{wid}", json=changed)
    assert res.status_code == 200, res.text
    assert res.json()["version"] == 2 and res.json()["name"] == name + "-v2"
    # a PUT carrying an older version is refused: someone saved in between
    assert_error(api.put(f"/api/v1/workflows/{wid}", json=changed), 409, "conflict")

    versions = api.get(f"/api/v1/workflows/{wid}/versions").json()["data"]
    assert [v["version"] for v in versions] == [2, 1]
    assert versions[0]["current"] is True and all("data" not in v for v in versions)
    assert all(re.match(r"\d{4}-\d\d-\d\dT", v["createdAt"]) for v in versions)
    full = api.get(f"/api/v1/workflows/{wid}/versions", params={"includeData": "true"}).json()["data"]
    assert full[1]["data"]["nodes"][1]["parameters"]["fields"] == {"total": "{{ 1 + 1 }}"}
    assert full[0]["data"]["nodes"][1]["parameters"]["fields"] == {"total": 3}

    assert api.delete(f"/api/v1/workflows/{wid}").status_code == 204
    error = assert_error(api.get(f"/api/v1/workflows/{wid}"), 404, "not_found")
    assert wid in error["message"]
    assert_error(api.delete(f"/api/v1/workflows/{wid}"), 404, "not_found")
    assert_error(api.get(f"/api/v1/workflows/{wid}/versions"), 404, "not_found")
    assert_error(api.put(f"/api/v1/workflows/{wid}", json=manual_workflow(name)), 404, "not_found")


def test_invalid_workflow_is_422_naming_the_node(api: httpx.Client) -> None:
    unknown = workflow(node("Start", "manualTrigger"), node("Mystery", "noSuchNode"), name=unique("bad"))
    error = assert_error(api.post("/api/v1/workflows", json=unknown), 422, "workflow_invalid")
    assert error["details"]["node"] == "Mystery" and "Mystery" in error["message"]

    dangling = manual_workflow(unique("bad"))
    dangling["connections"]["Set"] = {"main": [[{"node": "Nowhere", "type": "main", "index": 0}]]}
    error = assert_error(api.post("/api/v1/workflows", json=dangling), 422, "workflow_invalid")
    assert "Nowhere" in error["message"]

    # saving a bad version over a good workflow is refused the same way, and changes nothing
    wid = create(api, manual_workflow(unique("bad")))["id"]
    error = assert_error(api.put(f"/api/v1/workflows/{wid}", json=unknown), 422, "workflow_invalid")
    assert error["details"]["node"] == "Mystery"
    assert api.get(f"/api/v1/workflows/{wid}").json()["version"] == 1


@pytest.mark.parametrize(("body", "field"), [
    ({"name": "x", "nodes": "Start"}, "nodes"),
    ({"name": "x"}, "nodes"),
    ({"name": "x", "nodes": [42]}, "nodes[0]"),
    ({"name": "x", "nodes": [{"name": "A", "type": "set", "parameters": []}]}, "nodes[0].parameters"),
    ({"name": "x", "nodes": [], "connections": []}, "connections"),
    ({"name": 7, "nodes": []}, "name"),
    ({"name": "x", "nodes": [], "settings": "fast"}, "settings"),
])
def test_malformed_workflow_body_is_400_naming_the_field(api: httpx.Client, body: Any, field: str) -> None:
    error = assert_error(api.post("/api/v1/workflows", json=body), 400, "invalid_request")
    assert error_keys(error) == [field] and field in error["message"]


def test_unparseable_bodies_are_400_json_errors(api: httpx.Client) -> None:
    headers = {"content-type": "application/json"}
    assert_error(api.post("/api/v1/workflows", content=b"{not json", headers=headers), 400)
    assert_error(api.post("/api/v1/workflows", content=b"[1, 2]", headers=headers), 400, "invalid_request")
    assert_error(api.post("/api/v1/workflows", content=b"", headers=headers), 400, "invalid_request")
    assert_error(api.get("/api/v1/no-such-resource"), 404)


def test_list_search_active_filter_and_pagination(api: httpx.Client) -> None:
    tag = unique("page")
    ids = [create(api, manual_workflow(f"{tag} number {i}"))["id"] for i in range(5)]
    hooked = create(api, webhook_workflow(f"{tag} HOOKED", unique("p")))["id"]
    assert api.post(f"/api/v1/workflows/{hooked}/activate").status_code == 200

    seen, cursor, pages = [], None, 0
    while True:
        params = {"search": tag.upper(), "limit": 2, **({"cursor": cursor} if cursor else {})}
        res = api.get("/api/v1/workflows", params=params)
        assert res.status_code == 200, res.text
        body = res.json()
        assert set(body) == {"data", "nextCursor"} and len(body["data"]) <= 2
        seen += [w["id"] for w in body["data"]]
        pages += 1
        cursor = body["nextCursor"]
        if not cursor:
            break
    assert pages == 3 and len(seen) == len(set(seen)) == 6
    assert set(seen) == {*ids, hooked}
    assert seen == sorted(seen, reverse=True)  # newest first

    active = api.get("/api/v1/workflows", params={"search": tag, "active": "true"}).json()["data"]
    assert [w["id"] for w in active] == [hooked] and active[0]["active"] is True
    inactive = api.get("/api/v1/workflows", params={"search": tag, "active": "false"}).json()["data"]
    assert {w["id"] for w in inactive} == set(ids)
    assert api.get("/api/v1/workflows", params={"search": unique("nothing")}).json() == {"data": [],
                                                                                          "nextCursor": None}
    for bad in ("0", "251", "ten"):
        error = assert_error(api.get("/api/v1/workflows", params={"limit": bad}), 400, "invalid_request")
        assert error_keys(error) == ["limit"]
    assert api.get("/api/v1/workflows", params={"limit": 250}).status_code == 200
    assert api.post(f"/api/v1/workflows/{hooked}/deactivate").status_code == 200


def test_activate_and_deactivate_webhooks(api: httpx.Client) -> None:
    path = unique("hook")
    wid = create(api, webhook_workflow(unique("hook"), path))["id"]
    assert_error(api.post(f"/webhook/{path}", json={}), 404)

    res = api.post(f"/api/v1/workflows/{wid}/activate")
    assert res.status_code == 200 and res.json()["active"] is True and res.json()["id"] == wid
    answer = api.post(f"/webhook/{path}", json={"n": 1})
    assert answer.status_code == 200, answer.text
    assert poll_execution(api, answer.json()["executionId"])["status"] == "success"
    assert api.get(f"/api/v1/workflows/{wid}").json()["active"] is True

    # a second workflow on the same path cannot go online while the first is
    other = create(api, webhook_workflow(unique("hook"), path))["id"]
    error = assert_error(api.post(f"/api/v1/workflows/{other}/activate"), 409, "conflict")
    assert path in error["message"]
    assert api.get(f"/api/v1/workflows/{other}").json()["active"] is False
    # nor can an active workflow be changed to take a path that is in use
    path2 = unique("hook")
    third = create(api, webhook_workflow(unique("hook"), path2))["id"]
    assert api.post(f"/api/v1/workflows/{third}/activate").status_code == 200
    moved = api.get(f"/api/v1/workflows/{third}").json()
    moved["nodes"][0]["parameters"]["path"] = path
    assert_error(api.put(f"/api/v1/workflows/{third}", json=moved), 409, "conflict")
    assert api.post(f"/webhook/{path2}", json={}).status_code == 200

    res = api.post(f"/api/v1/workflows/{wid}/deactivate")
    assert res.status_code == 200 and res.json()["active"] is False
    assert_error(api.post(f"/webhook/{path}", json={}), 404)
    assert api.post(f"/api/v1/workflows/{other}/activate").status_code == 200
    assert api.post(f"/webhook/{path}", json={}).status_code == 200
    for id_ in (other, third):
        api.post(f"/api/v1/workflows/{id_}/deactivate")

    manual = create(api, manual_workflow(unique("manual")))["id"]
    error = assert_error(api.post(f"/api/v1/workflows/{manual}/activate"), 422, "workflow_invalid")
    assert "trigger" in error["message"]
    assert_error(api.post("/api/v1/workflows/no-such-id/activate"), 404, "not_found")
    assert_error(api.post("/api/v1/workflows/no-such-id/deactivate"), 404, "not_found")


# ---------------------------------------------------------------- runs and executions

def test_run_waiting_and_queued(api: httpx.Client) -> None:
    wid = create(api, manual_workflow(unique("run"), double="{{ $json.n * 2 }}"))["id"]

    res = api.post(f"/api/v1/workflows/{wid}/run", json={"input": [{"n": 1}, {"n": 21}], "wait": True})
    assert res.status_code == 200, res.text
    done = res.json()
    assert done["status"] == "success" and done["workflowId"] == wid and done["mode"] == "manual"
    assert done["error"] is None and done["finishedAt"] and done["lastNode"] == "Set"
    assert [i["double"] for i in done["nodes"]["Set"][0]["outputs"][0]] == [2, 42]

    one = api.post(f"/api/v1/workflows/{wid}/run", json={"input": {"n": 5}}).json()  # wait is the default
    assert one["nodes"]["Set"][0]["outputs"][0] == [{"n": 5, "double": 10}]
    bare = api.post(f"/api/v1/workflows/{wid}/run")  # no body: no input, one empty item, and None * 2 fails
    assert bare.status_code == 200 and bare.json()["nodes"]["Start"][0]["outputs"] == [[{}]]
    assert bare.json()["status"] == "error" and bare.json()["error"]["node"] == "Set"

    res = api.post(f"/api/v1/workflows/{wid}/run", json={"input": {"n": 4}, "wait": False})
    assert res.status_code == 202, res.text
    queued = res.json()
    assert queued["status"] in ("queued", "running", "success") and queued["id"]
    finished = poll_execution(api, queued["id"])
    assert finished["status"] == "success" and finished["nodes"]["Set"][0]["outputs"][0] == [{"n": 4, "double": 8}]

    for bad in ({"input": 3}, {"input": [1, 2]}, {"wait": "soon"}):
        error = assert_error(api.post(f"/api/v1/workflows/{wid}/run", json=bad), 400, "invalid_request")
        assert error_keys(error)[0].split("[")[0] in bad
    assert_error(api.post("/api/v1/workflows/no-such-id/run", json={}), 404, "not_found")


def test_executions_list_get_delete_and_retry(api: httpx.Client) -> None:
    failing = workflow(node("Start", "manualTrigger"), node("Fail", "stopAndError", message="boom {{ $json.n }}"),
                       name=unique("fail"))
    wid = create(api, failing)["id"]
    first = api.post(f"/api/v1/workflows/{wid}/run", json={"input": {"n": 1}}).json()
    assert first["status"] == "error"
    assert first["error"]["node"] == "Fail" and "boom 1" in first["error"]["message"]
    ok_wid = create(api, manual_workflow(unique("ok")))["id"]
    ok = api.post(f"/api/v1/workflows/{ok_wid}/run").json()
    for n in (2, 3):
        api.post(f"/api/v1/workflows/{wid}/run", json={"input": {"n": n}})

    # filters
    mine = api.get("/api/v1/executions", params={"workflowId": wid}).json()
    assert len(mine["data"]) == 3 and mine["nextCursor"] is None
    assert all(e["workflowId"] == wid and e["status"] == "error" and "nodes" not in e for e in mine["data"])
    assert mine["data"][-1]["id"] == first["id"]  # newest first
    errors = api.get("/api/v1/executions", params={"status": "error", "limit": 250}).json()["data"]
    assert first["id"] in {e["id"] for e in errors} and ok["id"] not in {e["id"] for e in errors}
    assert api.get("/api/v1/executions", params={"workflowId": ok_wid, "status": "success"}).json()["data"][0][
        "id"] == ok["id"]
    assert api.get("/api/v1/executions", params={"workflowId": ok_wid, "status": "error"}).json()["data"] == []
    error = assert_error(api.get("/api/v1/executions", params={"status": "finished"}), 400, "invalid_request")
    assert error_keys(error) == ["status"] and "status" in error["message"]
    assert error_keys(assert_error(api.get("/api/v1/executions", params={"limit": 0}), 400)) == ["limit"]

    # pagination, one per page
    seen, cursor = [], None
    for _ in range(5):
        params = {"workflowId": wid, "limit": 1, **({"cursor": cursor} if cursor else {})}
        body = api.get("/api/v1/executions", params=params).json()
        seen += [e["id"] for e in body["data"]]
        cursor = body["nextCursor"]
        if not cursor:
            break
    assert seen == [e["id"] for e in mine["data"]]

    # one execution, with its node runs
    got = api.get(f"/api/v1/executions/{first['id']}").json()
    assert got["status"] == "error" and got["error"]["node"] == "Fail"
    assert got["nodes"]["Start"][0]["outputs"] == [[{"n": 1}]]
    assert got["nodes"]["Fail"][0]["error"]

    # retry: a new execution that remembers the old one
    res = api.post(f"/api/v1/executions/{first['id']}/retry")
    assert res.status_code == 202, res.text
    retried = res.json()
    assert retried["retryOf"] == first["id"] and retried["id"] != first["id"] and retried["mode"] == "retry"
    after = poll_execution(api, retried["id"])
    assert after["status"] == "error" and after["retryOf"] == first["id"] and "boom 1" in after["error"]["message"]
    res = api.post(f"/api/v1/executions/{first['id']}/retry", params={"wait": "true"})
    assert res.status_code == 200 and res.json()["status"] == "error" and res.json()["retryOf"] == first["id"]

    # delete
    assert api.delete(f"/api/v1/executions/{first['id']}").status_code == 204
    assert_error(api.get(f"/api/v1/executions/{first['id']}"), 404, "not_found")
    assert_error(api.delete(f"/api/v1/executions/{first['id']}"), 404, "not_found")
    assert_error(api.post(f"/api/v1/executions/{first['id']}/retry"), 404, "not_found")


def listen_and_call(api: httpx.Client, wid: str, path: str, body: dict[str, Any]) -> httpx.Response:
    """POST .../listen in a thread, call /webhook-test/<path> until the listener answers; the listen response."""
    result: dict[str, Any] = {}

    def listen() -> None:
        result["res"] = api.post(f"/api/v1/workflows/{wid}/listen", json=body)

    thread = threading.Thread(target=listen)
    thread.start()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:  # until the listener is registered
        answer = api.post(f"/webhook-test/{path}", json={"hello": path})
        if answer.status_code != 404:
            break
        time.sleep(0.05)
    assert answer.status_code == 200, answer.text
    thread.join(15)
    return result["res"]


def test_listen_for_a_test_webhook(api: httpx.Client) -> None:
    path = unique("test")
    wid = create(api, webhook_workflow(unique("listen"), path))["id"]
    res = listen_and_call(api, wid, path, {"timeout": 10})
    assert res.status_code == 200, res.text
    execution = res.json()
    assert execution["mode"] == "test" and execution["status"] == "success" and execution["workflowId"] == wid
    assert execution["nodes"]["Hook"][0]["outputs"][0][0]["body"] == {"hello": path}
    assert_error(api.post(f"/webhook/{path}", json={}), 404)  # test listening does not activate it

    # the editor listens with its unsaved changes
    unsaved = unique("test")
    res = listen_and_call(api, wid, unsaved, {"timeout": 10, "workflow": webhook_workflow("draft", unsaved)})
    assert res.status_code == 200 and res.json()["nodes"]["Hook"][0]["outputs"][0][0]["body"] == {"hello": unsaved}

    error = assert_error(api.post(f"/api/v1/workflows/{wid}/listen", json={"timeout": 0.2}), 408, "timeout")
    assert "test webhook" in error["message"]
    bad = api.post(f"/api/v1/workflows/{wid}/listen", json={"workflow": {"nodes": {}}})
    assert error_keys(assert_error(bad, 400, "invalid_request")) == ["workflow.nodes"]
    manual = create(api, manual_workflow(unique("listen")))["id"]
    assert_error(api.post(f"/api/v1/workflows/{manual}/listen", json={"timeout": 1}), 422, "workflow_invalid")
    assert_error(api.post("/api/v1/workflows/no-such-id/listen", json={"timeout": 1}), 404, "not_found")


# ---------------------------------------------------------------- variables, nodes, docs

def test_variables_crud_and_seen_by_running_workflows(api: httpx.Client) -> None:
    key = f"GREETING_{uuid.uuid4().hex[:6]}"
    res = api.post("/api/v1/variables", json={"key": key, "value": "hello"})
    assert res.status_code == 201 and res.json() == {"key": key, "value": "hello"}
    assert_error(api.post("/api/v1/variables", json={"key": key, "value": "again"}), 409, "conflict")
    assert error_keys(assert_error(api.post("/api/v1/variables", json={"key": "1bad-key", "value": "x"}),
                                   400, "invalid_request")) == ["key"]
    assert error_keys(assert_error(api.post("/api/v1/variables", json={"value": "x"}), 400)) == ["key"]
    assert error_keys(assert_error(api.post("/api/v1/variables", json={"key": "K", "value": [1]}), 400)) == ["value"]
    assert error_keys(assert_error(api.post("/api/v1/variables", json={"key": "K"}), 400)) == ["value"]

    listed = api.get("/api/v1/variables").json()
    assert {"key": key, "value": "hello"} in listed["data"]
    assert api.get(f"/api/v1/variables/{key}").json() == {"key": key, "value": "hello"}

    wid = create(api, manual_workflow(unique("vars"), said=f"{{{{ $vars.{key} }}}} world"))["id"]

    def said() -> Any:
        return api.post(f"/api/v1/workflows/{wid}/run").json()["nodes"]["Set"][0]["outputs"][0][0]["said"]

    assert said() == "hello world"
    res = api.put(f"/api/v1/variables/{key}", json={"value": "goodbye"})
    assert res.status_code == 200 and res.json() == {"key": key, "value": "goodbye"}
    assert said() == "goodbye world"
    assert api.put(f"/api/v1/variables/{key}", json={"value": 42}).json()["value"] == "42"

    assert api.delete(f"/api/v1/variables/{key}").status_code == 204
    assert said() == " world"
    assert_error(api.delete(f"/api/v1/variables/{key}"), 404, "not_found")
    assert_error(api.get(f"/api/v1/variables/{key}"), 404, "not_found")
    assert_error(api.put(f"/api/v1/variables/{key}", json={"value": "x"}), 404, "not_found")
    assert error_keys(assert_error(api.put(f"/api/v1/variables/{key}", json={}), 400)) == ["value"]
    assert key not in {v["key"] for v in api.get("/api/v1/variables").json()["data"]}


def test_node_catalog(api: httpx.Client) -> None:
    res = api.get("/api/v1/nodes")
    assert res.status_code == 200
    catalog = {spec["type"]: spec for spec in res.json()["data"]}
    assert {"manualTrigger", "set", "if", "merge", "webhook", "stopAndError", "httpRequest"} <= set(catalog)
    assert catalog["webhook"]["trigger"] is True and catalog["set"]["trigger"] is False
    assert catalog["if"]["outputNames"] == ["true", "false"] or len(catalog["if"]["outputNames"]) == 2
    params = {p["name"]: p for p in catalog["limit"]["params"]}
    assert {"max", "keep"} <= set(params) and params["keep"]["kind"] == "options"
    assert api.get("/api/v1/nodes/set").json() == catalog["set"]
    assert_error(api.get("/api/v1/nodes/noSuchNode"), 404, "not_found")


def test_api_docs_work_offline(api: httpx.Client) -> None:
    page = api.get("/api/docs")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    html = page.text
    assert "http://" not in html and "https://" not in html
    assets = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert assets
    for url in assets:
        assert url.startswith("/"), url
        assert api.get(url).status_code == 200, url
    assert api.get("/api/docs/assets/../../pyproject.toml").status_code == 404

    schema = api.get("/api/docs/openapi.json")
    assert schema.status_code == 200
    paths = schema.json()["paths"]
    for path in ("/api/v1/workflows", "/api/v1/workflows/{workflow_id}", "/api/v1/workflows/{workflow_id}/run",
                 "/api/v1/workflows/{workflow_id}/activate", "/api/v1/workflows/{workflow_id}/versions",
                 "/api/v1/executions", "/api/v1/executions/{execution_id}",
                 "/api/v1/executions/{execution_id}/retry", "/api/v1/nodes", "/api/v1/variables",
                 "/api/v1/variables/{key}"):
        assert path in paths, sorted(paths)
    assert {"get", "post"} <= set(paths["/api/v1/workflows"])
    assert {"get", "put", "delete"} <= set(paths["/api/v1/workflows/{workflow_id}"])
    names = [p["name"] for p in paths["/api/v1/executions"]["get"]["parameters"]]
    assert {"workflowId", "status", "limit", "cursor"} <= set(names)
    assert not any(p.startswith(("/healthz", "/webhook")) for p in paths)


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # litestar 2.25 deprecates inferred path parameters
def test_api_docs_fallback_without_vendored_assets(monkeypatch: pytest.MonkeyPatch) -> None:
    """A trimmed install without ui/vendor/ still serves a self-contained docs page."""
    from litestar import Litestar, get
    from litestar.openapi import OpenAPIConfig
    from litestar.testing import TestClient

    from flowbox.api import docs

    @get("/api/v1/things")
    async def things() -> dict[str, Any]:
        return {}

    monkeypatch.setattr(docs, "vendor_dir", lambda: None)
    app = Litestar([things], openapi_config=OpenAPIConfig(title="t", version="1", path="/api/docs",
                                                          render_plugins=docs.plugins()))
    with TestClient(app) as client:
        html = client.get("/api/docs").text
        assert "/api/docs/openapi.json" in html and "swagger-ui-bundle" not in html
        assert "http://" not in html and "https://" not in html
        assert client.get("/api/docs/assets/swagger-ui.css").status_code == 404
        assert "/api/v1/things" in client.get("/api/docs/openapi.json").json()["paths"]
