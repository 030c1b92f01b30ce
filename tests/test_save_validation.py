"""Save-time validation (issue 12, item 8): every parameter and setting is checked against its declared type
and bounds when a workflow is saved or run, so nothing that can never work is stored (an immediately
answered execution of a workflow with `maxConcurrency: "x"` stayed queued forever and failed at every
restart; a webhook path `:a/:a` failed its activation with a 500)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest
import support
from support import Harness, run_with_services

from flowbox.errors import WorkflowInvalid
from flowbox.workflow import load_workflow, validate


def workflow(node: dict[str, Any] | None = None, **fields: Any) -> dict[str, Any]:
    """Start (manualTrigger) -> `node`."""
    start = support.node("Start", "manualTrigger")
    return support.workflow(start, *([{"position": [200, 0], **node}] if node else []), **{"name": "t", **fields})


def node(name: str, type_: str, **params: Any) -> dict[str, Any]:
    return {"name": name, "type": type_, "parameters": params}


REFUSED = [
    (workflow(node("Set", "set", fields=5)), "node 'Set': parameter 'fields' must be an object; got 5", "fields"),
    (workflow(node("If", "if", condition=[])), "node 'If': parameter 'condition' must be true or false; got []",
     "condition"),
    (workflow(node("Hook", "webhook", path=123)), "node 'Hook': parameter 'path' must be a URL path (text); got 123",
     "path"),
    (workflow(node("Hook", "webhook", path=":a/:a")), "names the path parameter ':a' twice", "path"),
    (workflow(node("Hook", "webhook", path="a//b")), "has a segment '' that is not a URL path part", "path"),
    (workflow(node("Hook", "webhook", path="orders", responseCode=200.5)),
     "node 'Hook': parameter 'responseCode' must be a whole number; got 200.5", "responseCode"),
    (workflow({"name": "Null", "type": "noOp", "parameters": None}),
     "node 'Null': 'parameters' must be an object; got null", "parameters"),
    (workflow(node("Wait", "wait", seconds=1e12)), "node 'Wait': parameter 'seconds' must be at most 3.16224e+07",
     "seconds"),
    (workflow(node("Wait", "wait", seconds=float("nan"))), "parameter 'seconds' must be a finite number", "seconds"),
    (workflow(node("Cut", "limit", max=2.5)), "node 'Cut': parameter 'max' must be a whole number; got 2.5", "max"),
    (workflow(node("Sort", "sort", fields=["a"])), "parameter 'fields[0]' must be an object with field, order; got \"a\"",
     "fields[0]"),
    (workflow(node("Tidy", "set", remove=5)),
     "node 'Tidy': parameter 'remove' must be a list (or a comma-separated text); got 5", "remove"),
    (workflow(node("Sort", "sort", fields={"field": "a"})), "parameter 'fields' must be a list; got {", "fields"),
    (workflow(name="x" * 15_000_000), "workflow name is 15,000,000 characters long (at most 200)", "name"),
    (workflow(name=5), "workflow field 'name' must be text; got int", "name"),
    (workflow({"name": "a\x00b", "type": "noOp", "parameters": {}}), "holds a control character", "name"),
    (workflow(settings={"maxConcurrency": -1}), "workflow setting 'settings.maxConcurrency' must be at least 0; got -1",
     "settings.maxConcurrency"),
    (workflow(settings={"maxConcurrency": "x"}), "workflow setting 'settings.maxConcurrency' must be a number; got 'x'",
     "settings.maxConcurrency"),
    (workflow(settings={"maxConcurrency": 1.5}), "must be a whole number; got 1.5", "settings.maxConcurrency"),
    (workflow(settings={"saveManualExecution": False}),
     "unknown workflow setting 'settings.saveManualExecution' (did you mean 'settings.saveManualExecutions'?)",
     "settings.saveManualExecution"),
    (workflow(settings={"saveDataSuccessExecution": "some"}),
     "workflow setting 'settings.saveDataSuccessExecution' must be one of 'all', 'none'; got 'some'",
     "settings.saveDataSuccessExecution"),
    (workflow(settings={"executionOrder": "v9"}), "must be one of 'v1', 'v0'; got 'v9'", "settings.executionOrder"),
    (workflow({"name": "R", "type": "noOp", "parameters": {}, "retryOnFail": True, "maxTries": 50}),
     "node 'R': maxTries must be a whole number from 1 to 10; got 50", "maxTries"),
    (workflow({"name": "R", "type": "noOp", "parameters": {}, "waitBetweenTries": -5}),
     "node 'R': waitBetweenTries must be a whole number from 0 to 300,000; got -5", "waitBetweenTries"),
]


@pytest.mark.parametrize(("data", "text", "field"), REFUSED, ids=[r[2] + str(i) for i, r in enumerate(REFUSED)])
def test_a_value_that_can_never_work_is_refused_naming_node_and_field(data: dict[str, Any], text: str,
                                                                      field: str) -> None:
    with pytest.raises(WorkflowInvalid) as info:
        validate(load_workflow(data))
    assert text in info.value.message, info.value.message
    assert info.value.details.get("field") == field, info.value.details


@pytest.mark.parametrize("data", [
    workflow(node("Set", "set", fields={"a": "{{ $json.x }}"})),
    workflow(node("If", "if", conditions=[{"left": "{{ $json.n }}", "op": "gt", "right": 5}])),
    workflow(node("Hook", "webhook", path="orders/:id/items")),
    workflow(node("Wait", "wait", seconds="{{ $json.delay }}")),  # an expression is checked when it runs
    workflow(node("Cut", "limit", max=3.0)),
    workflow(node("Tidy", "set", remove="a, b.c")),
    workflow(settings={"maxConcurrency": 2, "timezone": "Europe/Berlin", "saveManualExecutions": False,
                       "executionOrder": "v1", "errorWorkflow": "abc"}),
    workflow({"name": "R", "type": "noOp", "retryOnFail": True, "maxTries": 5, "waitBetweenTries": 0}),
])
def test_what_is_declared_still_validates(data: dict[str, Any]) -> None:
    validate(load_workflow(data))


def test_the_api_refuses_with_422_and_nothing_is_stored(tmp_path: Path) -> None:
    async def body(services: Harness, client: httpx.AsyncClient) -> None:
        for data, text, field in REFUSED:
            try:
                if len(json.dumps(data, allow_nan=False)) > 1_000_000:
                    continue  # the 15 MB name is refused by the body-size limit before it reaches validation
            except ValueError:
                continue  # NaN is not JSON: no client can send it
            made = await client.post("/api/v1/workflows", json=data)
            error = made.json()["error"]
            if made.status_code == 400:  # the API's own schema types some fields (a name that is a number)
                assert error["details"][0]["key"] == field, error
                continue
            assert made.status_code == 422, (field, made.text)
            assert text in error["message"] and error["details"]["field"] == field, error
        assert (await client.get("/api/v1/workflows")).json()["data"] == []

    run_with_services(tmp_path, body)
