"""compareDatasets through the real engine: two pinned inputs, four outputs, every `resolve`, fuzzy compare,
skipped fields, multiple matches and bad parameters."""

from __future__ import annotations

import asyncio
import re
from typing import Any

import pytest
from support import connect, node, workflow

from flowbox.engine.runner import ExecutionResult, Runner
from flowbox.errors import WorkflowInvalid
from flowbox.node import make_items
from flowbox.workflow import load_workflow

A = [{"id": 1, "name": "Ada", "city": "Berlin"}, {"id": 2, "name": "Bob", "city": "Paris"},
     {"id": 3, "name": "Cy", "city": "Rome"}, {"name": "no id"}]
B = [{"id": 2, "name": "Bob", "city": "Lyon"}, {"id": 1, "name": "Ada", "city": "Berlin"},
     {"id": 4, "name": "Dee", "city": "Oslo"}]


def run(a: list[dict[str, Any]], b: list[dict[str, Any]], version: float | None = None,
        **params: Any) -> ExecutionResult:
    params.setdefault("mergeByFields", [{"field1": "id", "field2": "id"}])
    compare = node("Compare", "compareDatasets", **params)
    if version is not None:
        compare["typeVersion"] = version
    wf = workflow(node("Start", "manualTrigger"), node("A", "noOp"), node("B", "noOp"), compare, name="compare",
                  connections=connect([("Start", 0, "A", 0), ("Start", 0, "B", 0),
                                       ("A", 0, "Compare", 0), ("B", 0, "Compare", 1)]),
                  pinData={"A": [{"json": j} for j in a], "B": [{"json": j} for j in b]})
    return asyncio.run(Runner(load_workflow(wf)).run(make_items([{}])))


def outputs(result: ExecutionResult) -> list[list[dict[str, Any]]]:
    assert result.status == "success", result.error
    return [[item.json for item in output] for output in result.runs["Compare"][-1].outputs]


def test_four_outputs_with_both_versions_by_default():
    only_a, same, different, only_b = outputs(run(A, B))
    assert only_a == [{"id": 3, "name": "Cy", "city": "Rome"}, {"name": "no id"}]
    assert same == [{"id": 1, "name": "Ada", "city": "Berlin"}]
    assert different == [{"keys": {"id": 2}, "same": {"id": 2, "name": "Bob"},
                          "different": {"city": {"inputA": "Paris", "inputB": "Lyon"}}}]
    assert only_b == [{"id": 4, "name": "Dee", "city": "Oslo"}]


@pytest.mark.parametrize(("resolve", "expected"), [
    ("preferInput1", {"id": 2, "name": "Bob", "city": "Paris"}),
    ("preferInput2", {"id": 2, "name": "Bob", "city": "Lyon"}),
])
def test_prefer_one_input(resolve, expected):
    assert outputs(run(A, B, resolve=resolve))[2] == [expected]


def test_mix_takes_the_except_fields_from_the_other_input():
    a = [{"id": 1, "name": "Ada", "city": "Berlin", "zip": "10115"}]
    b = [{"id": 1, "name": "Ada L.", "city": "Bonn", "zip": "53111"}]
    different = outputs(run(a, b, resolve="mix", preferWhenMix="input1", exceptWhenMix="city, zip"))[2]
    assert different == [{"id": 1, "name": "Ada", "city": "Bonn", "zip": "53111"}]


def test_missing_field_on_one_side_is_null_in_the_difference():
    different = outputs(run([{"id": 1, "x": 1}], [{"id": 1, "y": 2}]))[2]
    assert different == [{"keys": {"id": 1}, "same": {"id": 1},
                          "different": {"x": {"inputA": 1, "inputB": None}, "y": {"inputA": None, "inputB": 2}}}]


def test_fuzzy_compare_matches_loose_types():
    a = [{"id": 1, "n": 3, "ok": True, "tags": [], "obj": {"k": 1}, "z": None}]
    b = [{"id": "1", "n": "3", "ok": "TRUE", "tags": "", "obj": '{"k":1}', "z": 0}]
    strict = outputs(run(a, b))
    assert strict[0] == a and strict[3] == b  # "1" does not match 1
    only_a, same, different, only_b = outputs(run(a, b, fuzzyCompare=True))
    assert same == a and different == [] and only_a == only_b == []
    assert outputs(run(a, b, fuzzyCompare=True, resolve="preferInput2"))[1] == b


def test_skip_fields_top_level_and_nested():
    a = [{"id": 1, "updated": "mon", "meta": {"by": "ann", "v": 1}}]
    b = [{"id": 1, "updated": "tue", "meta": {"by": "bob", "v": 1}}]
    assert outputs(run(a, b, options={"skipFields": "updated, meta.by"}))[1] == a
    different = outputs(run(a, b, options={"skipFields": "meta.by"}))[2]
    assert different == [{"keys": {"id": 1}, "same": {"id": 1},
                          "different": {"updated": {"inputA": "mon", "inputB": "tue"},
                                        "meta": {"inputA": {"v": 1}, "inputB": {"v": 1}}},
                          "skipped": {"meta": {"inputA": {"by": "ann"}, "inputB": {"by": "bob"}}}}]


def test_multiple_matches_first_or_all():
    a = [{"k": 1, "v": "a"}]
    b = [{"k": 1, "v": "a"}, {"k": 1, "v": "b"}]
    first = outputs(run(a, b, mergeByFields=[{"field1": "k", "field2": "k"}]))
    assert first[1] == a and first[2] == [] and first[3] == [{"k": 1, "v": "b"}]
    every = outputs(run(a, b, mergeByFields=[{"field1": "k", "field2": "k"}], resolve="preferInput2",
                        options={"multipleMatches": "all"}))
    assert every[1] == a and every[2] == [{"k": 1, "v": "b"}] and every[3] == []


def test_dotted_match_fields_and_empty_items_dropped():
    a = [{"user": {"id": 5}, "n": 1}, {}]
    b = [{"uid": 5, "n": 1}]
    only_a, same, different, only_b = outputs(run(a, b, mergeByFields=[{"field1": "user.id", "field2": "uid"}]))
    assert only_a == [] and same == [] and only_b == []
    assert different == [{"keys": {}, "same": {"n": 1},  # n8n's keys read the field as one key: undefined, dropped
                          "different": {"user": {"inputA": {"id": 5}, "inputB": None},
                                        "uid": {"inputA": None, "inputB": 5}}}]


def test_one_input_empty_sends_everything_to_the_other_side():
    only_a, same, different, only_b = outputs(run([], B))
    assert only_a == same == different == [] and only_b == B


def test_a_pair_with_one_side_empty_names_the_pair():
    result = run(A, B, mergeByFields=[{"field1": "id", "field2": ""}])
    assert result.status == "error" and result.error["node"] == "Compare"
    assert "parameter 'mergeByFields': pair 1 needs both fields" in result.error["message"]


def test_no_pair_at_all_is_refused():
    result = run(A, B, mergeByFields=[{"field1": "", "field2": ""}])
    assert result.status == "error" and "Fields to Match" in result.error["message"]


def test_dot_in_skip_fields_with_dot_notation_disabled():
    result = run(A, B, options={"skipFields": "a.b", "disableDotNotation": True})
    assert result.status == "error" and "options.skipFields" in result.error["message"]


def test_an_unknown_resolve_is_refused_on_load():
    with pytest.raises(WorkflowInvalid, match=re.escape("node 'Compare': parameter 'resolve' must be one of")):
        run(A, B, resolve="newest")


def test_version_1_rules_when_the_workflow_names_them():
    a, b = [{"id": 1, "n": 0, "s": "x"}], [{"id": 1, "s": "y"}]
    # v1: resolve defaults to preferInput2; with includeBoth the sides are input1/input2 and 0 becomes null
    assert outputs(run(a, b, version=1))[2] == b
    assert outputs(run(a, b, version=1, resolve="includeBoth"))[2] == [
        {"keys": {"id": 1}, "same": {"id": 1}, "different": {"n": {"input1": None, "input2": None},
                                                            "s": {"input1": "x", "input2": "y"}}}]
    assert outputs(run(a, b, resolve="includeBoth"))[2][0]["different"]["n"] == {"inputA": 0, "inputB": None}
    # v2 still prefers input B; from v2.1 both versions are the default
    assert outputs(run(a, b, version=2))[2] == b
    for version in (2.1, 2.2):
        assert outputs(run(a, b, version=version))[2][0]["different"]["s"] == {"inputA": "x", "inputB": "y"}


def test_version_1_fuzzy_option_and_missing_match_field():
    a, b = [{"id": 1, "v": 3}], [{"id": "1", "v": "3"}]
    assert outputs(run(a, b, version=1, options={"fuzzyCompare": True}))[1] == b  # preferInput2: B's item
    missing = run(a, [{"key": 1}], version=2.1)
    assert missing.status == "error"
    assert "Field 'id' is not present in any of items in 'Input B'" in missing.error["message"]
    assert outputs(run(a, [{"key": 1}]))[3] == [{"key": 1}]  # from 2.2 it is simply unmatched
