"""summarize through the real engine: n8n's output names, empty handling, splits and both output formats."""

from __future__ import annotations

import re
from typing import Any

import pytest

from flowbox.errors import WorkflowInvalid

ORDERS = [
    {"id": 1, "country": "DE", "city": "Berlin", "amount": 10, "tag": "a", "meta": {"rep": "x"}},
    {"id": 2, "country": "DE", "city": "Munich", "amount": 5.5, "tag": "", "meta": {"rep": "y"}},
    {"id": 3, "country": "FR", "city": "Paris", "amount": "7", "tag": "b", "meta": {"rep": "x"}},
    {"id": 4, "country": "DE", "city": "Berlin", "amount": None, "meta": {"rep": "x"}},
]


def summarize(**params: Any) -> dict[str, Any]:
    return {"name": "Summarize", "type": "summarize", "parameters": params}


def out(result: Any) -> list[dict[str, Any]]:
    assert result.status == "success", result.error
    return [item.json for item in result.runs["Summarize"][-1].outputs[0]]


def test_every_aggregation_is_named_like_n8n(run_node):
    rows = [{"aggregation": a, "field": f} for a, f in [
        ("sum", "amount"), ("average", "amount"), ("count", "id"), ("count", "tag"), ("countUnique", "country"),
        ("min", "id"), ("max", "city"), ("append", "tag"), ("concatenate", "city"), ("sum", "meta.rep")]]
    [item] = out(run_node(summarize(fieldsToSummarize=rows), ORDERS))
    assert item == {
        "sum_amount": 15.5,          # only real numbers: "7" and null are left out
        "average_amount": 7.75,
        "count_id": 4,
        "count_tag": 2,              # "" and a missing tag are empty
        "unique_count_country": 2,
        "min_id": 1,
        "max_city": "Paris",
        "appended_tag": ["a", "b"],
        "concatenated_city": "Berlin,Munich,Paris,Berlin",
        "sum_meta_rep": 0,           # dotted path read, "." becomes "_" in the name
    }


def test_include_empty_and_separators(run_node):
    rows = [{"aggregation": "count", "field": "tag", "includeEmpty": True},
            {"aggregation": "append", "field": "tag", "includeEmpty": True},
            {"aggregation": "concatenate", "field": "id", "separateBy": "other", "customSeparator": " | "},
            {"aggregation": "concatenate", "field": "meta", "separateBy": ", "}]
    [item] = out(run_node(summarize(fieldsToSummarize=rows), ORDERS))
    assert item["count_tag"] == 4 and item["appended_tag"] == ["a", "", "b", None]
    assert item["concatenated_id"] == "1 | 2 | 3 | 4"
    assert item["concatenated_meta"] == '{"rep":"x"}, {"rep":"y"}, {"rep":"x"}, {"rep":"x"}'


def test_split_by_two_fields_one_item_per_group(run_node):
    result = run_node(summarize(fieldsToSummarize=[{"aggregation": "sum", "field": "amount"}],
                                fieldsToSplitBy="country, city"), ORDERS)
    assert out(result) == [
        {"sum_amount": 10, "city": "Berlin", "country": "DE"},
        {"sum_amount": 5.5, "city": "Munich", "country": "DE"},
        {"sum_amount": 0, "city": "Paris", "country": "FR"},
    ]
    items = result.runs["Summarize"][-1].outputs[0]
    start = result.runs["Start"][-1].outputs[0]
    assert items[2].source is start[2]  # the group's item pairs with its first input item


def test_single_item_output_nests_groups_by_value(run_node):
    result = run_node(summarize(fieldsToSummarize=[{"aggregation": "count", "field": "id"}],
                                fieldsToSplitBy="country,city", options={"outputFormat": "singleItem"}), ORDERS)
    assert out(result) == [{"DE": {"Berlin": {"count_id": 2}, "Munich": {"count_id": 1}},
                            "FR": {"Paris": {"count_id": 1}}}]


def test_split_keeps_types_apart_and_skips_empty_split_values(run_node):
    data = [{"k": 1, "v": 1}, {"k": "1", "v": 2}, {"k": True, "v": 3}, {"v": 4}, {"k": "", "v": 5}, {"k": 0, "v": 6}]
    rows = [{"aggregation": "sum", "field": "v"}]
    assert out(run_node(summarize(fieldsToSummarize=rows, fieldsToSplitBy="k"), data)) == [
        {"sum_v": 1, "k": 1}, {"sum_v": 2, "k": "1"}, {"sum_v": 3, "k": True}, {"sum_v": 4},  # undefined: no key
        {"sum_v": 5, "k": ""}, {"sum_v": 6, "k": 0}]
    skipped = run_node(summarize(fieldsToSummarize=rows, fieldsToSplitBy="k", options={"skipEmptySplitFields": True}),
                       data)
    assert [i["sum_v"] for i in out(skipped)] == [1, 2, 3, 6]  # 0 is a valid number


def test_missing_field_continues_with_empty_results_like_v1_1(run_node):
    rows = [{"aggregation": "sum", "field": "nope"}, {"aggregation": "append", "field": "nope"},
            {"aggregation": "average", "field": "nope"}, {"aggregation": "min", "field": "nope"}]
    assert out(run_node(summarize(fieldsToSummarize=rows), ORDERS)) == [
        {"sum_nope": 0, "appended_nope": [], "average_nope": None, "min_nope": None}]


def test_version_1_fails_on_a_missing_field_unless_told_to_continue(run_node):
    node = {**summarize(fieldsToSummarize=[{"aggregation": "sum", "field": "nope"}]), "typeVersion": 1}
    assert out(run_node({**node, "parameters": {**node["parameters"], "options": {"continueIfFieldNotFound": True}}},
                        ORDERS)) == [{"sum_nope": 0}]
    result = run_node(node, ORDERS)
    assert result.status == "error" and result.error["node"] == "Summarize"
    assert "fieldsToSummarize" in result.error["message"]
    assert "The field 'nope' does not exist in any items" in result.error["message"]


def test_disable_dot_notation_reads_the_dotted_key(run_node):
    data = [{"a.b": 2, "a": {"b": 100}}, {"a.b": 3}]
    rows = [{"aggregation": "sum", "field": "a.b"}]
    assert out(run_node(summarize(fieldsToSummarize=rows), data)) == [{"sum_a_b": 5}]  # a key named "a.b" wins
    assert out(run_node(summarize(fieldsToSummarize=[{"aggregation": "sum", "field": "a.b"}],
                                  options={"disableDotNotation": True}), [{"a": {"b": 1}}, {"a.b": 3}])) == [
        {"sum_a_b": 3}]


def test_no_field_to_summarize_is_a_clear_error(run_node):
    result = run_node(summarize(fieldsToSummarize=[{"aggregation": "count", "field": ""}]), ORDERS)
    assert result.status == "error" and result.error["node"] == "Summarize"
    assert "fieldsToSummarize" in result.error["message"] and "non-empty 'field'" in result.error["message"]


@pytest.mark.parametrize(("rows", "message"), [
    ([], "parameter 'fieldsToSummarize' is required"),
    ([{"aggregation": "median", "field": "id"}], "parameter 'fieldsToSummarize[0].aggregation' must be one of"),
])
def test_bad_rows_are_refused_when_the_workflow_loads(run_node, rows, message):
    with pytest.raises(WorkflowInvalid, match=re.escape(f"node 'Summarize': {message}")):
        run_node(summarize(fieldsToSummarize=rows), ORDERS)


def test_version_1_groups_split_values_as_text(run_node):
    node = {**summarize(fieldsToSummarize=[{"aggregation": "count", "field": "v"}], fieldsToSplitBy="k"),
            "typeVersion": 1}
    assert out(run_node(node, [{"k": 1, "v": 1}, {"k": "1", "v": 2}, {"v": 3}])) == [
        {"count_v": 2, "k": "1"}, {"count_v": 1, "k": "undefined"}]
