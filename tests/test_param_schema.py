"""A node's parameter schema is the whole truth: a key it does not declare is refused, not ignored.

Validation refuses unknown keys (naming the node and the key, with a close declared name when there
is one) and missing required ones; so every parameter a node reads must be in its schema, which the
source walk below checks for every node module.
"""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

import httpx
import pytest
from support import Harness, run_with_services

from flowbox import registry
from flowbox.errors import WorkflowInvalid
from flowbox.node import NodeSpec, Param
from flowbox.workflow import load_workflow, validate

NODES = Path(__file__).resolve().parent.parent / "nodes"
READERS = {"param", "raw_param", "has_expressions"}


def one(node: dict[str, Any], *, connect: bool = True) -> dict[str, Any]:
    return {"name": "t", "nodes": [{"name": "Start", "type": "manualTrigger", "parameters": {}},
                                   {"position": [200, 0], **node}],
            "connections": {"Start": {"main": [[{"node": node["name"]}]]}} if connect else {}}


def refusal(node: dict[str, Any]) -> WorkflowInvalid:
    with pytest.raises(WorkflowInvalid) as info:
        validate(load_workflow(one(node)))
    return info.value


@pytest.mark.parametrize(("node", "text", "field"), [
    ({"name": "Set", "type": "set", "parameters": {"keepOnlySet": True, "fields": {"a": 1}}},
     "node 'Set': unknown parameter 'keepOnlySet' (did you mean 'keepOnly'?)", "keepOnlySet"),
    ({"name": "Set", "type": "set", "parameters": {"values": {"string": []}, "keepOnlySet": True}},
     "node 'Set': unknown parameters 'values', 'keepOnlySet' (did you mean 'keepOnly'?); its parameters are: "
     "fields, keepOnly, keep, remove", "values"),
    ({"name": "Set", "type": "set", "parameters": {"fields": {"values": [{"name": "a", "value": "b"}]}}},
     "node 'Set': parameter 'fields' looks like n8n's Set layout", "fields"),
    ({"name": "Sort", "type": "sort", "parameters": {"sortFieldsUi": {"sortField": [{"fieldName": "a"}]}}},
     "node 'Sort': unknown parameter 'sortFieldsUi' (did you mean 'fields'?)", "sortFieldsUi"),
    ({"name": "Sort", "type": "sort", "parameters": {"fields": [{"field": "a"}, {"field": "b", "desc": True}]}},
     "node 'Sort': unknown parameter 'fields[1].desc'; 'fields[1]' takes: field, order", "fields[1].desc"),
    ({"name": "Sort", "type": "sort", "parameters": {}}, "node 'Sort': parameter 'fields' is required", "fields"),
    ({"name": "Dedupe", "type": "removeDuplicates", "parameters": {"compare": "allFields"}},
     "node 'Dedupe': unknown parameter 'compare'; its parameters are: fields", "compare"),
    ({"name": "Code", "type": "code", "parameters": {}}, "node 'Code': parameter 'code' is required", "code"),
    ({"name": "Code", "type": "code", "parameters": {"pythonCode": "return items"}},
     "node 'Code': unknown parameter 'pythonCode' (did you mean 'code'?)", "pythonCode"),
    ({"name": "Call", "type": "httpRequest", "parameters": {"URL": "http://x.test"}},
     "node 'Call': unknown parameter 'URL' (did you mean 'url'?)", "URL"),
    ({"name": "Nothing", "type": "noOp", "parameters": {"x": 1}},
     "node 'Nothing': unknown parameter 'x'; it takes no parameters", "x"),
])
def test_unknown_and_missing_parameters_are_refused(node: dict[str, Any], text: str, field: str) -> None:
    error = refusal(node)
    assert text in str(error) and error.details == {"node": node["name"], "field": field}


def test_what_the_schemas_allow_still_validates() -> None:
    for node in ({"name": "Set", "type": "set", "parameters": {"fields": {"values": [1, 2]}}},  # a field "values"
                 {"name": "Set", "type": "set", "parameters": {"fields": "{{ {'values': [{'name': 1}]} }}"}},
                 {"name": "Call", "type": "httpRequest", "parameters": {"url": "http://x.test", "authentication":
                                                                        "httpHeaderAuth"}},
                 {"name": "Hook", "type": "webhook", "parameters": {"path": "p", "authentication": "none"}}):
        validate(load_workflow(one(node)))
    note = {"name": "Note", "type": "stickyNote", "parameters": {"content": "hi", "width": 300, "height": 200,
                                                                  "color": "#ffd"}}
    validate(load_workflow(one(note, connect=False)))


def test_a_third_party_node_follows_the_same_rule() -> None:
    async def shout(ctx: Any, items: list[Any]) -> list[list[Any]]:
        return [items]

    registry.register(NodeSpec("testShout", "Shout", "test", "shouts", (Param("field", "string", "text"),), shout,
                               module="tests"))
    error = refusal({"name": "Loud", "type": "testShout", "parameters": {"feild": "x"}})
    assert "node 'Loud': unknown parameter 'feild' (did you mean 'field'?)" in str(error)


def _read_names(path: Path) -> set[str]:
    """Parameter names a node module reads: `ctx.param("x")`, `ctx.raw_param("x")`, and `helper(ctx, "x", ...)`
    for a helper of the module itself (`_int(ctx, "fromLine", i, 1)`)."""
    tree = ast.parse(path.read_text())
    helpers = {f.name for f in tree.body if isinstance(f, (ast.FunctionDef, ast.AsyncFunctionDef))}
    names = set()
    for call in ast.walk(tree):
        if not isinstance(call, ast.Call) or not call.args:
            continue
        args = call.args
        if isinstance(call.func, ast.Attribute) and call.func.attr in READERS:
            first = args[0]
        elif isinstance(call.func, ast.Name) and call.func.id in helpers and len(args) > 1 and \
                isinstance(args[0], ast.Name) and args[0].id == "ctx":
            first = args[1]
        else:
            continue
        if isinstance(first, ast.Constant) and isinstance(first.value, str):
            names.add(first.value)
    return names


def test_every_node_declares_every_parameter_it_reads() -> None:
    registry.load()
    declared: dict[str, set[str]] = {}
    for spec in registry.catalog():
        declared.setdefault(spec.module.rsplit(".", 1)[-1], set()).update(p.name for p in spec.params)
    undeclared = {}
    for path in sorted(NODES.glob("*.py")):
        if path.stem == "__init__":
            continue
        if path.stem.startswith("_"):  # a helper module: what the node modules importing it declare
            users = [p.stem for p in NODES.glob("*.py") if f"flowbox.nodes.{path.stem} import" in p.read_text()]
            known = set().union(*(declared.get(u, set()) for u in users))
        else:
            known = declared.get(path.stem, set())
        missing = _read_names(path) - known
        if missing:
            undeclared[path.name] = sorted(missing)
    assert not undeclared, f"parameters read but not declared (validation would refuse them): {undeclared}"


def test_the_api_answers_422_naming_the_node_and_the_key(tmp_path: Path) -> None:
    async def body(services: Harness, client: httpx.AsyncClient) -> None:
        await services.create_user("owner@example.com", "owner", "long enough")
        key, _ = await services.create_api_key("owner@example.com", "schema")
        headers = {"X-API-Key": key}
        bad = one({"name": "Tag", "type": "set", "parameters": {"keepOnlySet": True}})
        made = await client.post("/api/v1/workflows", json=bad, headers=headers)
        assert made.status_code == 422, made.text
        error = made.json()["error"]
        assert error["message"] == "node 'Tag': unknown parameter 'keepOnlySet' (did you mean 'keepOnly'?)"
        assert error["details"] == {"node": "Tag", "field": "keepOnlySet"}
        good = one({"name": "Tag", "type": "set", "parameters": {"keepOnly": True}})
        made = await client.post("/api/v1/workflows", json=good, headers=headers)
        assert made.status_code == 201, made.text
        changed = await client.put(f"/api/v1/workflows/{made.json()['id']}", json=bad, headers=headers)
        assert changed.status_code == 422 and "keepOnlySet" in changed.json()["error"]["message"]

    run_with_services(tmp_path, body)


@pytest.mark.parametrize(("params", "message"), [
    ({"operation": "add", "value": "2026-01-01", "amount": "{{ $json.n }}"},
     "parameter 'amount' must be a number; got 'lots' (item 1)"),
    ({"operation": "add", "value": "2026-01-01", "unit": "{{ 'days' if $json.n == 2 else 'fortnights' }}"},
     "parameter 'unit' must be one of 'seconds', 'minutes', 'hours', 'days', 'weeks', 'months', 'years'; "
     "got 'fortnights' (item 1)"),
])
def test_an_expression_of_the_wrong_type_fails_naming_node_parameter_and_item(params: dict[str, Any],
                                                                                message: str) -> None:
    """`ctx.param()` returns the declared kind: an expression's result that cannot be one fails the node
    (not the server), naming the node, the parameter and the item."""
    import asyncio

    from flowbox.engine.runner import Runner
    from flowbox.node import make_items

    wf = load_workflow(one({"name": "Shift", "type": "dateTime", "parameters": params}))
    result = asyncio.run(Runner(wf).run(make_items([{"n": 2}, {"n": "lots"}])))
    assert result.status == "error" and result.error["node"] == "Shift"
    assert result.error["message"] == message
