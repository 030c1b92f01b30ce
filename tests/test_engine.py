"""The runner: order, lineage, merges, loops, retries and validation, through the real engine (no CLI)."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
from support import connect, unsandboxed_code, workflow  # noqa: F401 - unsandboxed_code is a fixture

from flowbox import registry
from flowbox.engine.runner import MAX_NODE_RUNS, ExecutionResult, Runner
from flowbox.errors import DuplicateNodeType, WorkflowInvalid
from flowbox.node import Item, NodeSpec, Param, get_path, remove_path, set_path
from flowbox.workflow import load_workflow


def node(name: str, type_: str, **params: Any) -> dict[str, Any]:
    return {"name": name, "type": type_, "parameters": params}


def wf(nodes: list[dict[str, Any]], edges: list[tuple[str, int, str, int]], **extra: Any) -> dict[str, Any]:
    return workflow(*nodes, name="t", connections=connect(edges), **extra)


def run(data: dict[str, Any], items: list[dict[str, Any]] | None = None) -> ExecutionResult:
    return asyncio.run(Runner(load_workflow(data)).run([Item(i) for i in items or []]))


def out(result: ExecutionResult, name: str, output: int = 0, run_index: int = -1) -> list[dict[str, Any]]:
    return [i.json for i in result.runs[name][run_index].outputs[output]]


def test_paired_item_reaches_several_nodes_back_through_filters_and_sorts() -> None:
    data = wf([node("Start", "manualTrigger"),
               node("Tag", "set", fields={"tag": "{{ 't' + str($json.n) }}"}),
               node("Odd", "filter", condition="{{ $json.n % 2 == 1 }}"),
               node("Sort", "sort", fields=[{"field": "n", "order": "desc"}]),
               node("Back", "set", fields={"fromTag": "{{ $('Tag').item.json.tag }}",
                                           "fromStart": "{{ $('Start').item.json.n }}"})],
              [("Start", 0, "Tag", 0), ("Tag", 0, "Odd", 0), ("Odd", 0, "Sort", 0), ("Sort", 0, "Back", 0)])
    result = run(data, [{"n": n} for n in range(5)])
    assert result.status == "success", result.error
    assert [(i["fromTag"], i["fromStart"]) for i in out(result, "Back")] == [("t3", 3), ("t1", 1)]


@pytest.mark.parametrize(("on_error", "name"), [("continue", "continue"), ("continueRegularOutput", "continue"),
                                              ("errorOutput", "errorOutput"),
                                              ("continueErrorOutput", "errorOutput")])
def test_code_each_item_on_error_keeps_the_good_items(on_error: str, name: str) -> None:
    data = wf([node("Start", "manualTrigger"),
               {**node("Code", "code", mode="eachItem",
                       code="if item['n'] == 2:\n    raise ValueError('bad')\nreturn {'m': item['n']}"),
                "onError": on_error},
               node("Back", "set", fields={"n": "{{ $('Start').item.json.n }}"})],
              [("Start", 0, "Code", 0), ("Code", 0, "Back", 0)])
    result = run(data, [{"n": 1}, {"n": 2}, {"n": 3}])
    assert result.status == "success" and result.runs["Code"][0].error is None
    error = "ValueError: bad (line 2, item 1)"
    if name == "continue":
        assert out(result, "Code") == [{"m": 1}, {"error": error}, {"m": 3}]
        assert out(result, "Back") == [{"m": 1, "n": 1}, {"error": error, "n": 2}, {"m": 3, "n": 3}]
    else:
        assert out(result, "Code") == [{"m": 1}, {"m": 3}] and out(result, "Code", 1) == [{"n": 2, "error": error}]
    # allItems mode still fails as a whole: one error item, or every input item on the error output
    data["nodes"][1]["parameters"] = {"code": "raise ValueError('bad')"}
    result = run(data, [{"n": 1}, {"n": 2}])
    assert out(result, "Code") == ([{"error": "ValueError: bad (line 1)"}] if name == "continue" else [])


def test_code_each_item_stop_names_the_failing_item() -> None:
    data = wf([node("Start", "manualTrigger"),
               node("Code", "code", mode="eachItem", code="return {'m': 1 // item['n']}")], [("Start", 0, "Code", 0)])
    result = run(data, [{"n": 1}, {"n": 0}])
    assert result.status == "error" and result.error == {
        "node": "Code", "message": "ZeroDivisionError: integer division or modulo by zero (line 1, item 1)"}


def test_paired_item_through_the_code_node_each_item() -> None:
    data = wf([node("Start", "manualTrigger"),
               node("Code", "code", mode="eachItem", code="return {'v': item['n'] * 10} if item['n'] else None"),
               node("Back", "set", fields={"n": "{{ $('Start').item.json.n }}"})],
              [("Start", 0, "Code", 0), ("Code", 0, "Back", 0)])
    result = run(data, [{"n": 0}, {"n": 1}, {"n": 2}])
    assert out(result, "Back") == [{"v": 10, "n": 1}, {"v": 20, "n": 2}]


def test_paired_item_missing_gives_a_clear_error() -> None:
    data = wf([node("Start", "manualTrigger"), node("A", "set", fields={"a": 1}),
               node("B", "set", fields={"x": "{{ $('A').item.json.a }}"})],
              [("Start", 0, "B", 0), ("Start", 0, "A", 0)])
    result = run(data, [{}])
    assert result.status == "error"
    assert result.error["node"] == "B" and "has not run yet" in result.error["message"]


def test_depth_first_order_output_0_subtree_before_output_1() -> None:
    data = wf([node("Start", "manualTrigger"), node("If", "if", condition="{{ $json.n > 0 }}"),
               node("T1", "noOp"), node("T2", "noOp"), node("F1", "noOp"), node("After", "noOp")],
              [("Start", 0, "If", 0), ("If", 0, "T1", 0), ("T1", 0, "T2", 0), ("If", 1, "F1", 0),
               ("If", 0, "After", 0)])
    result = run(data, [{"n": 1}, {"n": -1}])
    assert list(result.runs) == ["Start", "If", "T1", "T2", "After", "F1"]
    assert result.last_node == "F1"


def test_empty_output_stops_its_branch_and_always_output_data_continues() -> None:
    nodes = [node("Start", "manualTrigger"), node("None", "filter", condition="{{ False }}"), node("Next", "noOp")]
    result = run(wf(nodes, [("Start", 0, "None", 0), ("None", 0, "Next", 0)]), [{"a": 1}])
    assert "Next" not in result.runs
    nodes[1]["alwaysOutputData"] = True
    result = run(wf(nodes, [("Start", 0, "None", 0), ("None", 0, "Next", 0)]), [{"a": 1}])
    assert out(result, "Next") == [{}]


def test_merge_waits_for_both_inputs_even_when_one_branch_is_long() -> None:
    data = wf([node("Start", "manualTrigger"), node("A1", "set", fields={"a": 1}), node("A2", "set", fields={"b": 2}),
               node("A3", "set", fields={"c": 3}), node("B", "set", fields={"side": "b"}),
               node("M", "merge", mode="combineByPosition")],
              [("Start", 0, "B", 0), ("Start", 0, "A1", 0), ("A1", 0, "A2", 0), ("A2", 0, "A3", 0),
               ("A3", 0, "M", 0), ("B", 0, "M", 1)])
    result = run(data, [{"k": 1}])
    assert len(result.runs["M"]) == 1
    assert out(result, "M") == [{"k": 1, "a": 1, "b": 2, "c": 3, "side": "b"}]


def test_merge_runs_with_an_empty_input_when_the_other_branch_cannot_deliver() -> None:
    data = wf([node("Start", "manualTrigger"), node("Never", "filter", condition="{{ False }}"),
               node("Always", "noOp"), node("M", "merge", mode="append"), node("After", "noOp")],
              [("Start", 0, "Never", 0), ("Start", 0, "Always", 0), ("Never", 0, "M", 0), ("Always", 0, "M", 1),
               ("M", 0, "After", 0)])
    result = run(data, [{"x": 1}])
    assert out(result, "M") == [{"x": 1}] and out(result, "After") == [{"x": 1}]


def test_chained_merges_run_upstream_first() -> None:
    data = wf([node("Start", "manualTrigger"), node("Drop", "filter", condition="{{ False }}"),
               node("M1", "merge", mode="append"), node("M2", "merge", mode="append"), node("Side", "noOp")],
              [("Start", 0, "Drop", 0), ("Start", 0, "M1", 1), ("Drop", 0, "M1", 0), ("Drop", 0, "M2", 0),
               ("M1", 0, "M2", 1), ("Start", 0, "Side", 0)])
    result = run(data, [{"x": 1}])
    assert list(result.runs).index("M1") < list(result.runs).index("M2")
    assert out(result, "M2") == [{"x": 1}]


def test_loop_processes_every_batch_and_collects_results() -> None:
    data = wf([node("Start", "manualTrigger"), node("Loop", "loop", batchSize=2),
               node("Body", "set", fields={"seen": "{{ $runIndex }}"}), node("Done", "noOp")],
              [("Start", 0, "Loop", 0), ("Loop", 1, "Body", 0), ("Body", 0, "Loop", 0), ("Loop", 0, "Done", 0)])
    result = run(data, [{"i": i} for i in range(5)])
    assert result.status == "success", result.error
    assert len(result.runs["Body"]) == 3
    assert out(result, "Done") == [{"i": 0, "seen": 0}, {"i": 1, "seen": 0}, {"i": 2, "seen": 1},
                                   {"i": 3, "seen": 1}, {"i": 4, "seen": 2}]


def test_loop_goes_on_when_the_body_drops_a_whole_batch() -> None:
    data = wf([node("Start", "manualTrigger"), node("Loop", "loop", batchSize=1),
               node("Odd", "filter", condition="{{ $json.i % 2 == 1 }}"), node("Done", "noOp")],
              [("Start", 0, "Loop", 0), ("Loop", 1, "Odd", 0), ("Odd", 0, "Loop", 0), ("Loop", 0, "Done", 0)])
    result = run(data, [{"i": i} for i in range(4)])
    assert out(result, "Done") == [{"i": 1}, {"i": 3}]
    assert len(result.runs["Odd"]) == 4


def test_endless_loop_is_stopped() -> None:
    data = wf([node("Start", "manualTrigger"), node("Loop", "loop", batchSize=1),
               node("Again", "noOp")],
              [("Start", 0, "Loop", 0), ("Loop", 1, "Again", 0), ("Again", 0, "Loop", 0), ("Loop", 0, "Loop", 0)])
    result = run(data, [{"i": 1}])
    assert result.status == "error" and f"{MAX_NODE_RUNS:,}" in result.error["message"]


@pytest.mark.usefixtures("unsandboxed_code")  # the flaky node counts its tries in a file
def test_retry_on_fail_tries_max_tries_times_with_the_wait() -> None:
    data = wf([node("Start", "manualTrigger"),
               {**node("Flaky", "code", code="import os, pathlib\n"
                       "p = pathlib.Path(items[0]['file'])\n"
                       "n = int(p.read_text()) + 1 if p.exists() else 1\n"
                       "p.write_text(str(n))\n"
                       "if n < 3: raise RuntimeError(f'try {n}')\n"
                       "return [{'tries': n}]"),
                "retryOnFail": True, "maxTries": 3, "waitBetweenTries": 100}],
              [("Start", 0, "Flaky", 0)])
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        start = time.monotonic()
        result = run(data, [{"file": f"{tmp}/count"}])
        assert time.monotonic() - start >= 0.2
    assert out(result, "Flaky") == [{"tries": 3}]


def test_on_error_continue_and_error_output_per_item() -> None:
    base = [node("Start", "manualTrigger"), node("Div", "set", fields={"r": "{{ 10 / $json.n }}"}), node("Ok", "noOp"),
            node("Bad", "noOp")]
    base[1]["onError"] = "continue"
    result = run(wf(base, [("Start", 0, "Div", 0), ("Div", 0, "Ok", 0)]), [{"n": 2}, {"n": 0}])
    assert out(result, "Ok")[0] == {"n": 2, "r": 5.0}
    assert "ZeroDivisionError" in out(result, "Ok")[1]["error"]
    base[1]["onError"] = "errorOutput"
    result = run(wf(base, [("Start", 0, "Div", 0), ("Div", 0, "Ok", 0), ("Div", 1, "Bad", 0)]),
                 [{"n": 2}, {"n": 0}])
    assert out(result, "Ok") == [{"n": 2, "r": 5.0}]
    assert out(result, "Bad")[0]["n"] == 0 and "division by zero" in out(result, "Bad")[0]["error"]


def test_on_error_pass_through_sends_a_failed_nodes_input_on() -> None:
    """passThrough (n8n's continue): a node that fails as a whole passes its input on unchanged; a node that
    fails item by item still gives error items."""
    base = [node("Start", "manualTrigger"), {**node("Boom", "code", code="raise ValueError('no')"), "onError": "passThrough"},
            {**node("Div", "set", fields={"r": "{{ 10 / $json.n }}"}), "onError": "passThrough"}]
    result = run(wf(base, [("Start", 0, "Boom", 0), ("Boom", 0, "Div", 0)]), [{"n": 2}, {"n": 0}])
    assert out(result, "Boom") == [{"n": 2}, {"n": 0}]
    assert out(result, "Div")[0] == {"n": 2, "r": 5.0} and "division by zero" in out(result, "Div")[1]["error"]


def test_stop_error_names_node_parameter_and_expression() -> None:
    data = wf([node("Start", "manualTrigger"), node("Calc", "set", fields={"total": "{{ $json.price * }}"})],
              [("Start", 0, "Calc", 0)])
    result = run(data, [{}])
    assert result.error["node"] == "Calc"
    assert "fields.total" in result.error["message"] and "$json.price *" in result.error["message"]


def test_pinned_data_replaces_the_run_and_disabled_passes_through() -> None:
    data = wf([node("Start", "manualTrigger"), node("Fetch", "httpRequest", url="http://127.0.0.1:9/never"),
               {**node("Off", "set", fields={"x": 1}), "disabled": True}, node("End", "noOp")],
              [("Start", 0, "Fetch", 0), ("Fetch", 0, "Off", 0), ("Off", 0, "End", 0)],
              pinData={"Fetch": [{"pinned": 1}, {"pinned": 2}]})
    result = run(data, [{}])
    assert out(result, "End") == [{"pinned": 1}, {"pinned": 2}]


def test_timezone_applies_to_now() -> None:
    data = wf([node("Start", "manualTrigger"), node("T", "set", fields={"tz": "{{ $now.tzinfo.key }}",
                                                                      "midnight": "{{ $today.hour }}"})],
              [("Start", 0, "T", 0)], settings={"timezone": "Asia/Tokyo"})
    assert out(run(data), "T") == [{"tz": "Asia/Tokyo", "midnight": 0}]
    data["nodes"][1]["parameters"]["fields"] = {"offset": "{{ $now.utcoffset().total_seconds() }}"}
    assert out(run(data), "T") == [{"offset": 9 * 3600.0}]


@pytest.mark.parametrize(("data", "text"), [
    (wf([node("A", "manualTrigger"), node("A", "noOp")], []), "duplicate node name 'A'"),
    (wf([node("A", "manualTrigger"), node("B", "nope")], []), "node 'B': unknown node type 'nope'"),
    (wf([node("A", "manualTrigger")], [("A", 0, "Ghost", 0)]), "missing node 'Ghost'"),
    (wf([node("A", "manualTrigger"), node("B", "noOp")], [("A", 3, "B", 0)]), "node 'A' has no output 3"),
    (wf([node("A", "manualTrigger"), node("B", "noOp")], [("A", 0, "B", 1)]), "node 'B' has no input 1"),
    (wf([node("A", "manualTrigger"), node("M", "merge", mode="zip")], []), "parameter 'mode' must be one of"),
    (wf([node("A", "manualTrigger"), node("L", "limit", max="lots")], []), "parameter 'max' must be a number"),
    (wf([node("A", "manualTrigger"), node("S", "sort", fields=[{"field": "x", "order": "up"}])], []),
     "fields[0].order"),
    (wf([node("A", "manualTrigger"), node("B", "noOp"), node("C", "noOp")],
        [("A", 0, "B", 0), ("B", 0, "C", 0), ("C", 0, "B", 0)]), "cycle without a loop node: 'B' -> 'C' -> 'B'"),
    (wf([node("A", "manualTrigger")], [], settings={"timezone": "Mars/Olympus"}), "unknown timezone"),
    (wf([node("A", "manualTrigger")], [], pinData={"Z": []}), "pinData names missing node 'Z'"),
    ({**wf([node("A", "manualTrigger")], []), "nodes": [{"name": "A", "type": "noOp", "onError": "explode"}]},
     "onError must be one of"),
])
def test_validation_names_what_is_wrong(data: dict[str, Any], text: str) -> None:
    with pytest.raises(WorkflowInvalid) as info:
        Runner(load_workflow(data))
    assert text in str(info.value)


def test_a_node_raising_a_plain_exception_fails_only_its_execution() -> None:
    async def broken(ctx: Any, items: list[Item]) -> list[list[Item]]:
        raise KeyError("boom")

    registry.register(NodeSpec("testBroken", "Broken", "test", "raises", (), broken, module="tests"))
    result = run(wf([node("Start", "manualTrigger"), node("X", "testBroken")], [("Start", 0, "X", 0)]), [{}])
    assert result.status == "error" and result.error == {"node": "X", "message": "KeyError: 'boom'"}


def test_duplicate_node_type_from_another_module_is_refused() -> None:
    spec = registry.get("set")
    with pytest.raises(DuplicateNodeType):
        registry.register(NodeSpec("set", "Set 2", "x", "y", (), spec.fn, module="someone.else"))


def test_param_schema_and_show_if() -> None:
    p = Param("output", "number", 0, show_if={"mode": ["expression"]})
    assert p.shown({"mode": "expression"}) and not p.shown({"mode": "rules"})
    assert p.to_dict()["showIf"] == {"mode": ["expression"]} and p.to_dict()["label"] == "Output"
    with pytest.raises(ValueError):
        Param("x", "colour")


def test_path_helpers_copy_instead_of_mutating() -> None:
    data = {"a": {"b": 1}, "list": [{"x": 5}]}
    changed = set_path(data, "a.c", 2)
    assert changed == {"a": {"b": 1, "c": 2}, "list": [{"x": 5}]} and data == {"a": {"b": 1}, "list": [{"x": 5}]}
    assert get_path(data, "list.0.x") == 5 and get_path(data, "a.zz") is None
    assert remove_path(changed, "a.b") == {"a": {"c": 2}, "list": [{"x": 5}]}


def test_run_up_to_a_node_runs_only_what_leads_there() -> None:
    data = wf([node("Start", "manualTrigger"), node("A", "set", fields={"a": 1}), node("B", "set", fields={"b": 2}),
               node("Side", "noOp"), node("After", "noOp")],
              [("Start", 0, "A", 0), ("A", 0, "B", 0), ("Start", 0, "Side", 0), ("B", 0, "After", 0)])
    result = asyncio.run(Runner(load_workflow(data), destination="B").run([Item({"x": 0})]))
    assert list(result.runs) == ["Start", "A", "B"] and result.last_node == "B"
    assert out(result, "B") == [{"x": 0, "a": 1, "b": 2}]


def test_partial_run_reuses_earlier_output_with_lineage() -> None:
    data = wf([node("Start", "manualTrigger"),
               node("Fetch", "httpRequest", url="http://127.0.0.1:9/never-called"),
               node("Use", "set", fields={"v": "{{ $json.v * 10 }}", "first": "{{ $('Fetch').item.json.v }}"})],
              [("Start", 0, "Fetch", 0), ("Fetch", 0, "Use", 0)])
    earlier = {"Fetch": [[Item({"v": 1}), Item({"v": 2})]]}
    result = asyncio.run(Runner(load_workflow(data), destination="Use", replay=earlier).run([Item({})]))
    assert result.status == "success", result.error
    assert out(result, "Use") == [{"v": 10, "first": 1}, {"v": 20, "first": 2}]


def test_run_up_to_an_unknown_node_is_refused() -> None:
    with pytest.raises(WorkflowInvalid, match="no node named 'Nope'"):
        Runner(load_workflow(wf([node("Start", "manualTrigger")], [])), destination="Nope")


def test_an_item_made_of_several_keeps_every_line_through_a_snapshot() -> None:
    """`Item.also`: the other items an item was made from; a snapshot (Wait, retry) keeps them."""
    from flowbox.engine.snapshot import freeze, thaw
    from flowbox.engine.state import Task
    from flowbox.node import Item

    runner = Runner(load_workflow(wf([node("A", "noOp")], [])))
    left, right = Item({"side": "l"}), Item({"side": "r"})
    made = Item({}, None, left, (right,))
    again = Runner(runner.workflow)
    _, _, pending, _ = thaw(again, freeze(runner, [], {}, Task("A", [[made]], None), "wait"))
    [restored] = pending.inputs[0]
    assert restored.source.json == {"side": "l"} and [i.json for i in restored.also] == [{"side": "r"}]
