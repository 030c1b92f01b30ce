"""The declarative service-node engine (`flowbox.service_node`): parameters, requests, pagination, errors.

A small service "Acme" is declared here with the same data model the service nodes use; its API is
mocked at the HTTP layer with respx and the node runs through the real engine.
"""

from __future__ import annotations

import json
import time
from typing import Any

import httpx
import pytest
import respx

from flowbox import registry
from flowbox.credentials import CredentialType, register
from flowbox.engine.runner import EngineServices
from flowbox.node import Param
from flowbox.service_node import (
    MERGE,
    Auth,
    Operation,
    Pagination,
    Service,
    node_params,
    retry_wait,
    service_node,
)
from flowbox.workflow import load_workflow, validate

API = "https://api.acme.test/v1"
TOKEN = "acme-secret-token-123"

register(CredentialType("acmeTestApi", "Acme", (Param("token", "string", label="Token", secret=True, required=True),),
                        sign="bearer"))
register(CredentialType("acmeTestKey", "Acme key", (Param("key", "string", label="Key", secret=True, required=True),)))

ID = Param("thingId", "string", default="", required=True)
ACME = Service(
    type="acmeTest", display_name="Acme", icon="science", description="A test service",
    base_url=API, credentials=["acmeTestApi", Auth("acmeTestKey", query={"api_key": "{credential.key}"})],
    headers={"X-Acme-Version": "7"}, ok_field="ok", error_paths=("error.message", "error"),
    auth_errors=("bad_token",), retry_after_path="retry_after", max_retries=2,
    resources={
        "thing": [
            Operation("get", "GET", "/things/{thingId}", params=[ID], output="thing"),
            Operation("create", "POST", "/things", params=[
                Param("name", "string", default=""), Param("tags", "json", default=None),
                Param("extra", "json", default=None)],
                body={"name": "{name}", "meta.tags": "{tags}", "kind": "widget", MERGE: "{extra}"}),
            Operation("form", "POST", "/things/{thingId}/form", body_type="form",
                      params=[ID, Param("data", "json", default=None)], body={"data": "{data}", "n": 1}),
            Operation("list", "GET", "/things", params=[Param("q", "string", default="")], query={"q": "{q}"},
                      items="items",
                      pagination=Pagination("cursor", param="cursor", next="meta.next", size_param="per")),
            Operation("byId", "GET", "/things-by-id", items="data",
                      pagination=Pagination("cursor", param="after", next_from_item="id", has_more="more",
                                            size_param="limit", max_size=2)),
            Operation("search", "POST", "/things/search", items="results",
                      pagination=Pagination("cursor", param="start", next="next", in_body=True,
                                            size_param="size", max_size=3)),
        ],
        "page": [
            Operation("offset", "GET", "/offset", items="", pagination=Pagination(
                "offset", param="offset", size_param="count", max_size=2)),
            Operation("numbered", "GET", "/numbered", items="rows", pagination=Pagination(
                "page", param="page", size_param="per_page", max_size=2)),
            Operation("linked", "GET", "/linked", items="", pagination=Pagination("link", size_param="per_page")),
        ],
        "keyed": [
            Operation("get", "GET", "/keyed/{thingId}", params=[ID], credentials=["acmeTestKey"]),
        ],
    },
)
registry.load()  # the built-in nodes first: the registry loads them only while it is empty
service_node(ACME)


@pytest.fixture
def api() -> Any:
    """Acme's API, mocked at the HTTP layer; every route a test declares must be called."""
    with respx.mock(assert_all_called=True) as mock:
        yield mock


def acme(operation: str, resource: str = "thing", **params: Any) -> dict[str, Any]:
    return {"name": "Acme", "type": "acmeTest", "credentials": {"acmeTestApi": "c1", "acmeTestKey": "c2"},
            "parameters": {"resource": resource, "operation": operation, **params}}


def services(**data: dict[str, Any] | None) -> EngineServices:
    stored = {"acmeTestApi": {"token": TOKEN}, "acmeTestKey": {"key": "k-77"}, **data}

    async def credential(type_: str, id_: str) -> dict[str, Any] | None:
        return stored.get(type_)

    return EngineServices(credential=credential)


def out(result: Any) -> list[dict[str, Any]]:
    assert result.status == "success", result.error
    return [item.json for item in result.runs["Acme"][-1].outputs[0]]


def sent(route: respx.Route, n: int = 0) -> httpx.Request:
    return route.calls[n].request


# ---------------------------------------------------------------- generated parameters


def test_parameters_are_generated_with_show_if_per_operation():
    params = {p.name: p for p in node_params(ACME)}
    assert list(params)[:3] == ["authentication", "resource", "operation"]
    assert params["resource"].options == ("thing", "page", "keyed")
    assert params["operation"].options == ("get", "create", "form", "list", "byId", "search", "offset",
                                           "numbered", "linked")
    assert params["authentication"].options == ("acmeTestApi", "acmeTestKey")
    assert params["thingId"].show_if == {"resource": ["thing", "keyed"], "operation": ["get", "form"]}
    assert params["name"].show_if == {"resource": ["thing"], "operation": ["create"]}
    assert params["limit"].show_if == {"resource": ["thing", "page"],
                                       "operation": ["list", "byId", "search", "offset", "numbered", "linked"],
                                       "returnAll": [False]}
    assert params["limit"].shown({"resource": "thing", "operation": "list", "returnAll": False})
    assert not params["limit"].shown({"resource": "thing", "operation": "list", "returnAll": True})
    assert not params["name"].shown({"resource": "thing", "operation": "get"})


def test_the_node_is_in_the_catalog_like_any_node():
    spec = validate(load_workflow({"nodes": [acme("get", thingId="1")], "connections": {}}))["Acme"]
    entry = spec.to_dict()
    assert entry["type"] == "acmeTest" and entry["icon"] == "science" and entry["group"] == "integration"
    assert entry["credentials"] == ["acmeTestApi", "acmeTestKey"]
    assert spec.module == __name__


def test_a_required_operation_parameter_is_checked_only_when_shown():
    with pytest.raises(Exception, match="parameter 'thingId' is required"):
        validate(load_workflow({"nodes": [acme("get")], "connections": {}}))
    validate(load_workflow({"nodes": [acme("create")], "connections": {}}))


@pytest.mark.parametrize("broken, message", [
    (dict(resources={"a": [Operation("x", "GET", "/{missing}")]}), "refers to {missing}"),
    (dict(resources={"a": [Operation("x", "GET", "/", params=[Param("p", "string")]),
                           Operation("y", "GET", "/", params=[Param("p", "number")])]}), "declared twice"),
    (dict(resources={"a": [Operation("x", "GET", "/", params=[Param("p", "string")]), Operation("y", "GET", "/")],
                     "b": [Operation("x", "GET", "/"), Operation("y", "GET", "/", params=[Param("p", "string")])]}),
     "cannot single out"),
    (dict(resources={"a": [Operation("x", "GET", "/", params=[Param("resource", "string")])]}), "reserved"),
    (dict(resources={"a": [Operation("x", "GET", "/", credentials=["nope"])]}), "does not list"),
])
def test_a_broken_definition_is_refused_at_import(broken, message):
    service = Service(type="brokenTest", display_name="B", icon="x", description="d", base_url=API, **broken)
    with pytest.raises(ValueError, match=message):
        service_node(service)


# ---------------------------------------------------------------- requests


def test_get_fills_the_path_signs_and_sends_service_headers(run_node, api):
    route = api.get(f"{API}/things/a%2Fb%20c").mock(
        return_value=httpx.Response(200, json={"ok": True, "thing": {"id": "a/b c"}}))
    result = run_node(acme("get", thingId="{{ $json.id }}"), [{"id": "a/b c"}], services=services())
    assert out(result) == [{"id": "a/b c"}]
    request = sent(route)
    assert request.headers["authorization"] == f"Bearer {TOKEN}"
    assert request.headers["x-acme-version"] == "7"


def test_json_body_mapping_nests_merges_and_skips_empty_values(run_node, api):
    route = api.post(f"{API}/things").mock(return_value=httpx.Response(201, json={"id": 9}))
    result = run_node(acme("create", name="{{ $json.n }}", tags=["a"], extra='{"color": "red"}'),
                      [{"n": "Bolt"}, {"n": ""}], services=services())
    assert out(result) == [{"id": 9}, {"id": 9}]
    first, second = (json.loads(sent(route, n).content) for n in (0, 1))
    assert first == {"name": "Bolt", "meta": {"tags": ["a"]}, "kind": "widget", "color": "red"}
    assert second == {"meta": {"tags": ["a"]}, "kind": "widget", "color": "red"}
    assert sent(route).headers["content-type"] == "application/json"


def test_form_body_nests_objects_and_lists_in_brackets(run_node, api):
    route = api.post(f"{API}/things/7/form").mock(return_value=httpx.Response(200, json={}))
    run_node(acme("form", thingId=7, data={"a": {"b": "x y"}, "l": [1, True]}), services=services())
    request = sent(route)
    assert request.headers["content-type"] == "application/x-www-form-urlencoded"
    assert request.content == b"data%5Ba%5D%5Bb%5D=x+y&data%5Bl%5D%5B0%5D=1&data%5Bl%5D%5B1%5D=true&n=1"


def test_a_second_credential_type_signs_with_its_query_template(run_node, api):
    route = api.get(f"{API}/keyed/5").mock(return_value=httpx.Response(200, json={"id": 5}))
    result = run_node(acme("get", "keyed", authentication="acmeTestKey", thingId="5"), services=services())
    assert out(result) == [{"id": 5}]
    assert sent(route).url.params["api_key"] == "k-77"
    assert "authorization" not in sent(route).headers


def test_an_operation_refuses_a_credential_type_it_does_not_take(run_node, api):
    result = run_node(acme("get", "keyed", thingId="5"), services=services())
    assert result.status == "error"
    assert "signs with a acmeTestKey credential: set 'authentication' to acmeTestKey" in result.error["message"]


def test_a_missing_credential_is_a_clear_error(run_node, api):
    result = run_node(acme("get", thingId="1"), services=services(acmeTestApi=None))
    assert result.status == "error"
    assert "Acme needs a acmeTestApi credential" in result.error["message"]


def test_an_operation_of_another_resource_is_refused(run_node, api):
    result = run_node(acme("offset", "thing"), services=services())
    assert result.status == "error"
    assert "no operation 'offset' for resource 'thing'" in result.error["message"]


def test_an_empty_path_parameter_names_itself(run_node, api):
    result = run_node(acme("get", thingId="{{ $json.missing }}"), services=services())
    assert result.status == "error"
    assert "parameter 'thingId' is empty" in result.error["message"]


# ---------------------------------------------------------------- pagination


def test_cursor_pagination_follows_the_response_cursor_until_it_is_empty(run_node, api):
    route = api.get(f"{API}/things").mock(side_effect=[
        httpx.Response(200, json={"ok": True, "items": [{"n": 1}, {"n": 2}], "meta": {"next": "c2"}}),
        httpx.Response(200, json={"ok": True, "items": [{"n": 3}], "meta": {"next": ""}}),
    ])
    result = run_node(acme("list", q="x", returnAll=True), services=services())
    assert [o["n"] for o in out(result)] == [1, 2, 3]
    assert dict(sent(route, 0).url.params) == {"q": "x", "per": "100"}
    assert dict(sent(route, 1).url.params) == {"q": "x", "per": "100", "cursor": "c2"}


def test_limit_stops_paging_and_asks_for_no_more_than_needed(run_node, api):
    route = api.get(f"{API}/things").mock(side_effect=[
        httpx.Response(200, json={"items": [{"n": 1}, {"n": 2}], "meta": {"next": "c2"}}),
        httpx.Response(200, json={"items": [{"n": 3}, {"n": 4}], "meta": {"next": "c3"}}),
    ])
    result = run_node(acme("list", limit=3), services=services())
    assert [o["n"] for o in out(result)] == [1, 2, 3]
    assert sent(route, 0).url.params["per"] == "3" and sent(route, 1).url.params["per"] == "1"
    assert route.call_count == 2


def test_a_repeated_cursor_fails_instead_of_looping(run_node, api):
    api.get(f"{API}/things").mock(return_value=httpx.Response(200, json={"items": [{}], "meta": {"next": "same"}}))
    result = run_node(acme("list", returnAll=True), services=services())
    assert result.status == "error" and "same page cursor twice" in result.error["message"]


def test_cursor_from_the_last_item_while_has_more(run_node, api):
    route = api.get(f"{API}/things-by-id").mock(side_effect=[
        httpx.Response(200, json={"data": [{"id": "a"}, {"id": "b"}], "more": True}),
        httpx.Response(200, json={"data": [{"id": "c"}], "more": False}),
    ])
    result = run_node(acme("byId", returnAll=True), services=services())
    assert [o["id"] for o in out(result)] == ["a", "b", "c"]
    assert "after" not in sent(route, 0).url.params
    assert dict(sent(route, 1).url.params) == {"limit": "2", "after": "b"}


def test_cursor_in_the_json_body(run_node, api):
    route = api.post(f"{API}/things/search").mock(side_effect=[
        httpx.Response(200, json={"results": [{"n": 1}, {"n": 2}, {"n": 3}], "next": "p2"}),
        httpx.Response(200, json={"results": [{"n": 4}], "next": None}),
    ])
    result = run_node(acme("search", returnAll=True), services=services())
    assert len(out(result)) == 4
    assert json.loads(sent(route, 0).content) == {"size": 3}
    assert json.loads(sent(route, 1).content) == {"size": 3, "start": "p2"}


def test_offset_pagination_until_a_short_page(run_node, api):
    route = api.get(f"{API}/offset").mock(side_effect=[
        httpx.Response(200, json=[{"n": 1}, {"n": 2}]), httpx.Response(200, json=[{"n": 3}, 4]),
        httpx.Response(200, json=[]),
    ])
    result = run_node(acme("offset", "page", returnAll=True), services=services())
    assert out(result) == [{"n": 1}, {"n": 2}, {"n": 3}, {"data": 4}]
    assert [dict(c.request.url.params) for c in route.calls] == [
        {"count": "2"}, {"count": "2", "offset": "2"}, {"count": "2", "offset": "4"}]


def test_page_pagination_counts_pages_from_one(run_node, api):
    route = api.get(f"{API}/numbered").mock(side_effect=[
        httpx.Response(200, json={"rows": [{"n": 1}, {"n": 2}]}), httpx.Response(200, json={"rows": [{"n": 3}]}),
    ])
    result = run_node(acme("numbered", "page", returnAll=True), services=services())
    assert [o["n"] for o in out(result)] == [1, 2, 3]
    assert [c.request.url.params["page"] for c in route.calls] == ["1", "2"]


def test_link_header_pagination(run_node, api):
    route = api.get(f"{API}/linked").mock(side_effect=[
        httpx.Response(200, json=[{"n": 1}], headers={"Link": f'<{API}/linked?page=2&per_page=100>; rel="next", '
                                                              f'<{API}/linked?page=3>; rel="last"'}),
        httpx.Response(200, json=[{"n": 2}], headers={"Link": f'<{API}/linked?page=1>; rel="prev"'}),
    ])
    result = run_node(acme("linked", "page", returnAll=True), services=services())
    assert [o["n"] for o in out(result)] == [1, 2]
    assert str(sent(route, 1).url) == f"{API}/linked?page=2&per_page=100"
    assert sent(route, 1).headers["authorization"] == f"Bearer {TOKEN}"


def test_a_next_link_to_another_host_is_not_followed(run_node, api):
    api.get(f"{API}/linked").mock(return_value=httpx.Response(
        200, json=[{"n": 1}], headers={"Link": '<https://evil.test/steal?page=2>; rel="next"'}))
    result = run_node(acme("linked", "page", returnAll=True), services=services())
    assert result.status == "error" and "another host (evil.test)" in result.error["message"]


# ---------------------------------------------------------------- errors


@pytest.mark.parametrize("status, body, expected", [
    (401, {"error": {"message": "token expired"}}, "credential rejected by Acme: token expired"),
    (403, {"error": "forbidden_scope"}, "credential rejected by Acme: forbidden_scope"),
    (404, {"error": {"message": "no such thing"}}, "Acme thing get: not found (404): no such thing"),
    (500, "upstream broke", "Acme thing get failed with status 500 Internal Server Error: upstream broke"),
    (200, {"ok": False, "error": "bad_token"}, "credential rejected by Acme: bad_token"),
    (200, {"ok": False, "error": "thing_locked"}, "Acme thing get failed: thing_locked"),
])
def test_error_mapping(run_node, api, status, body, expected):
    kwargs = {"json": body} if isinstance(body, dict) else {"text": body}
    api.get(f"{API}/things/1").mock(return_value=httpx.Response(status, **kwargs))
    result = run_node(acme("get", thingId="1"), services=services())
    assert result.status == "error"
    assert result.error["message"] == expected
    assert result.error["node"] == "Acme"


def test_a_secret_echoed_by_the_service_is_masked(run_node, api):
    api.get(f"{API}/things/1").mock(return_value=httpx.Response(
        401, json={"error": {"message": f"invalid token {TOKEN}"}}))
    result = run_node(acme("get", thingId="1"), services=services())
    assert TOKEN not in json.dumps(result.error)
    assert result.error["message"].startswith("credential rejected by Acme: invalid token __flowbox")


def test_failing_items_follow_on_error_continue(run_node, api):
    api.get(f"{API}/things/1").mock(return_value=httpx.Response(200, json={"thing": {"id": 1}}))
    api.get(f"{API}/things/2").mock(return_value=httpx.Response(404, json={"error": "gone"}))
    node = {**acme("get", thingId="{{ $json.id }}"), "onError": "continue"}
    result = run_node(node, [{"id": 1}, {"id": 2}], services=services())
    assert out(result) == [{"id": 1}, {"error": "Acme thing get: not found (404): gone"}]


def test_429_waits_for_retry_after_then_succeeds(run_node, api):
    route = api.get(f"{API}/things/1").mock(side_effect=[
        httpx.Response(429, headers={"Retry-After": "1"}, json={"error": "slow down"}),
        httpx.Response(200, json={"thing": {"id": 1}}),
    ])
    start = time.monotonic()
    result = run_node(acme("get", thingId="1"), services=services())
    assert out(result) == [{"id": 1}]
    assert time.monotonic() - start >= 0.95
    assert route.call_count == 2


def test_429_gives_up_after_the_bounded_retries(run_node, api):
    route = api.get(f"{API}/things/1").mock(return_value=httpx.Response(
        429, json={"error": "slow down", "retry_after": 0}))
    result = run_node(acme("get", thingId="1"), services=services())
    assert route.call_count == 3  # the request and max_retries=2 retries
    assert result.error["message"] == "Acme thing get: rate limited by Acme (429) after 2 retries: slow down"


def test_retry_wait_reads_the_header_or_the_body_and_is_capped():
    def response(headers: dict[str, str] | None = None, body: Any = None) -> httpx.Response:
        return httpx.Response(429, headers=headers, json=body)

    assert retry_wait(ACME, response({"Retry-After": "2"}), 0) == 2
    assert retry_wait(ACME, response({"Retry-After": "86400"}), 0) == 30.0
    assert retry_wait(ACME, response(body={"retry_after": 1.5}), 0) == 1.5
    assert retry_wait(ACME, response(body={"retry_after": 999}), 0) == 30.0
    assert retry_wait(ACME, response(body={}), 2) == 2.0  # 0.5 s doubling
