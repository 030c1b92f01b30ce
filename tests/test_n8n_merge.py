"""Merge's SQL mode (n8n's combineBySql) and v3's numberInputs, written from n8n's documentation: n8n exports
run by `flowbox run --json`, and the query runner's limits on real SQLite."""

from __future__ import annotations

from pathlib import Path

import pytest
from n8n_support import n8n_node, n8n_workflow, outputs, run_json

from flowbox.nodes import _merge_sql
from flowbox.nodes._merge_sql import QueryFailed, run_query

PEOPLE = "return [{json: {name: 'ann', age: 31, tags: ['a']}}, {json: {name: 'bob', flag: true}}]"
ORDERS = "return [{json: {id: 'ann', total: 5}}, {json: {id: 'ann', total: 7}}, {json: {id: 'eve', total: 1}}]"


def _merge_workflow(version: float, **params: object) -> dict:
    nodes = [n8n_node("Start", "manualTrigger"), n8n_node("People", "code", 2, {"jsCode": PEOPLE}),
             n8n_node("Orders", "code", 2, {"jsCode": ORDERS}),
             n8n_node("Merge", "merge", version, {"mode": "combineBySql", **params})]
    connections = {"Start": {"main": [[{"node": "People", "type": "main", "index": 0},
                                       {"node": "Orders", "type": "main", "index": 0}]]},
                   "People": {"main": [[{"node": "Merge", "type": "main", "index": 0}]]},
                   "Orders": {"main": [[{"node": "Merge", "type": "main", "index": 1}]]}}
    return n8n_workflow(*nodes, connections=connections)


def test_default_query_left_joins_like_alasql(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """n8n's default query: each person with each of their orders; bob (no order) keeps only his own fields,
    with their types (a list, a boolean), and no null columns from the unmatched side."""
    result = run_json(capsys, tmp_path, _merge_workflow(3))
    assert outputs(result, "Merge") == [
        {"name": "ann", "age": 31, "tags": ["a"], "id": "ann", "total": 5},
        {"name": "ann", "age": 31, "tags": ["a"], "id": "ann", "total": 7},
        {"name": "bob", "flag": True}]


def test_computed_columns_statements_and_empty_results(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """Computed columns come as SQLite gives them; several statements give the rows of those that select;
    no rows: one {success: true} item before v3.2, none from v3.2 unless emptyQueryResult is success."""
    query = ("CREATE TABLE t AS SELECT id, SUM(total) AS total FROM input2 GROUP BY id;\n"
             "SELECT input1.name, t.total, upper(input1.name) AS shout FROM input1 JOIN t ON t.id = input1.name")
    result = run_json(capsys, tmp_path, _merge_workflow(3.1, query=query))
    assert outputs(result, "Merge") == [{"name": "ann", "total": 12, "shout": "ANN"}]
    empty = "SELECT * FROM input1 WHERE name = 'nobody'"
    for sub in "abc":
        (tmp_path / sub).mkdir()
    assert outputs(run_json(capsys, tmp_path / "a", _merge_workflow(3.1, query=empty)), "Merge") == [{"success": True}]
    assert outputs(run_json(capsys, tmp_path / "b", _merge_workflow(3.2, query=empty)), "Merge") == []
    kept = _merge_workflow(3.2, query=empty, options={"emptyQueryResult": "success"})
    assert outputs(run_json(capsys, tmp_path / "c", kept), "Merge") == [{"success": True}]


def test_expressions_in_the_query_are_resolved(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """n8n resolves `{{ }}` in the query text (its parameter is not an expression otherwise)."""
    query = "SELECT name FROM input1 WHERE name = '{{ 'b' + 'ob' }}'"
    assert outputs(run_json(capsys, tmp_path, _merge_workflow(3, query=query)), "Merge") == [{"name": "bob"}]


def test_a_bad_query_fails_the_node_naming_the_problem(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    import json

    from n8n_support import cli

    path = tmp_path / "w.json"
    path.write_text(json.dumps(_merge_workflow(3, query="SELECT * FROM input3")))
    code, _, err = cli(capsys, "run", str(path), "--data-dir", str(tmp_path / "data"))
    assert code == 1 and "Issue while executing query: no such table: input3" in err


def test_the_database_stays_closed_to_files_and_bounded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """ATTACH (reading or creating a file) and pragmas are refused; a runaway query stops at the time limit and
    a huge result at the row limit."""
    target = tmp_path / "x.db"
    with pytest.raises(QueryFailed, match="not authorized"):
        run_query([[{"a": 1}], []], f"ATTACH DATABASE '{target}' AS x")
    assert not target.exists()
    with pytest.raises(QueryFailed, match="not authorized"):
        run_query([[], []], "PRAGMA table_info(input1)")
    monkeypatch.setattr(_merge_sql, "SQL_TIMEOUT", 0.3)
    forever = "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n) SELECT count(*) FROM n"
    with pytest.raises(QueryFailed, match="ran longer than 0.3 s"):
        run_query([[], []], forever)
    monkeypatch.setattr(_merge_sql, "MAX_ROWS", 1000)
    many = "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 5000) SELECT i FROM n"
    with pytest.raises(QueryFailed, match="more than 1,000 rows"):
        run_query([[], []], many)


def _three_inputs(version: float, **params: object) -> dict:
    codes = ["return [{json: {a: 1}}, {json: {a: 2}}]", "return [{json: {b: 1}}]",
             "return [{json: {c: 1}}, {json: {c: 2}}, {json: {c: 3}}]"]
    nodes = [n8n_node("Start", "manualTrigger"),
             *(n8n_node(f"In{n}", "code", 2, {"jsCode": code}) for n, code in enumerate(codes, 1)),
             n8n_node("Merge", "merge", version, {"numberInputs": 3, **params})]
    connections = {"Start": {"main": [[{"node": f"In{n}", "type": "main", "index": 0} for n in (1, 2, 3)]]},
                   **{f"In{n}": {"main": [[{"node": "Merge", "type": "main", "index": n - 1}]]} for n in (1, 2, 3)}}
    return n8n_workflow(*nodes, connections=connections)


def test_merge_v3_with_three_inputs(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """numberInputs 3: append gives every input's items in input order, chooseBranch input 3's (n8n v3's
    useDataOfInput, counted from 1), combineByPosition merges the items at each position (addSuffix numbers
    each input), the SQL mode sees input3."""
    cases = {
        "append": ({"mode": "append"}, [{"a": 1}, {"a": 2}, {"b": 1}, {"c": 1}, {"c": 2}, {"c": 3}]),
        "branch": ({"mode": "chooseBranch", "useDataOfInput": 3}, [{"c": 1}, {"c": 2}, {"c": 3}]),
        "position": ({"mode": "combine", "combineBy": "combineByPosition"}, [{"a": 1, "b": 1, "c": 1}]),
        "unpaired": ({"mode": "combine", "combineBy": "combineByPosition",
                      "options": {"includeUnpaired": True,
                                  "clashHandling": {"values": {"resolveClash": "addSuffix"}}}},
                     [{"a_1": 1, "b_2": 1, "c_3": 1}, {"a_1": 2, "c_3": 2}, {"c_3": 3}]),
        "sql": ({"mode": "combineBySql", "query": "SELECT count(*) AS n FROM input3"}, [{"n": 3}]),
    }
    for name, (params, expected) in cases.items():
        (tmp_path / name).mkdir()
        assert outputs(run_json(capsys, tmp_path / name, _three_inputs(3.2, **params)), "Merge") == expected, name


def test_an_input_past_number_inputs_is_refused(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    import json

    from n8n_support import cli

    data = _three_inputs(3.2, mode="append")
    data["nodes"][-1]["parameters"]["numberInputs"] = 2
    path = tmp_path / "w.json"
    path.write_text(json.dumps(data))
    code, _, err = cli(capsys, "run", str(path), "--data-dir", str(tmp_path / "data"))
    assert code == 2 and "node 'Merge' has no input 2 (it has 2)" in err
