"""sqlite node through the real engine on real database files in a temporary files folder."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest

from flowbox.engine.runner import EngineServices


@pytest.fixture
def files(tmp_path: Path) -> Path:
    folder = tmp_path / "files"
    folder.mkdir()
    return folder


@pytest.fixture
def run(run_node, files):
    """run(params, items, on_error="stop") -> the result, with the files folder set to `files`."""

    def go(params: dict[str, Any], items: list[dict[str, Any]] | None = None, on_error: str = "stop") -> Any:
        services = EngineServices()
        services.files_dir = files
        node = {"name": "DB", "type": "sqlite", "parameters": {"path": "app.db", **params}, "onError": on_error}
        return run_node(node, items, services=services)

    return go


def rows(result: Any, output: int = 0) -> list[dict[str, Any]]:
    assert result.status == "success", result.error
    return [item.json for item in result.runs["DB"][-1].outputs[output]]


@pytest.fixture
def people(files: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(files / "app.db", isolation_level=None)
    conn.execute("CREATE TABLE people (id INTEGER PRIMARY KEY, email TEXT UNIQUE, name TEXT, age INTEGER, "
                 "score REAL, meta TEXT, active BOOLEAN)")
    yield conn
    conn.close()


def table_rows(conn: sqlite3.Connection) -> list[tuple[Any, ...]]:
    return conn.execute("SELECT email, name FROM people ORDER BY id").fetchall()


def test_execute_query_statements_and_parameters(run, files):
    created = run({"operation": "executeQuery",
                   "query": "CREATE TABLE t (a INTEGER, b TEXT); INSERT INTO t VALUES (1, 'x;y'); "
                            "SELECT * FROM t; SELECT 2 AS two -- done;"})
    assert rows(created) == [{"a": 1, "b": "x;y"}, {"two": 2}]
    assert (files / "app.db").is_file()
    bound = run({"operation": "executeQuery", "query": "SELECT $1 + $2 AS total, :3 AS label, ?2 AS again",
                 "queryParams": ["{{ $json.a }}", "{{ $json.b }}", "{{ $json.label }}"]},
                [{"a": 1, "b": 2, "label": "x"}, {"a": 5, "b": 5, "label": "100%"}])
    assert rows(bound) == [{"total": 3, "label": "x", "again": 2}, {"total": 10, "label": "100%", "again": 5}]
    anonymous = run({"operation": "executeQuery", "query": "SELECT ? AS a, ? AS b", "queryParams": "1, two"})
    assert rows(anonymous) == [{"a": "1", "b": "two"}]
    write = run({"operation": "executeQuery", "query": "UPDATE t SET b = 'z'"})
    assert rows(write) == [{"success": True, "rowCount": 1}]


def test_sql_injection_is_stored_verbatim(run, people):
    evil = "'; DROP TABLE people; --"
    query = run({"operation": "executeQuery", "query": "INSERT INTO people (email, name) VALUES ($1, $2) "
                                                       "RETURNING name",
                 "queryParams": ["{{ $json.email }}", "{{ $json.name }}"]}, [{"email": "e@x", "name": evil}])
    assert rows(query) == [{"name": evil}]
    insert = run({"operation": "insert", "table": "people", "columns": ["email", "name"]},
                 [{"email": "f@x", "name": evil}])
    assert rows(insert)[0]["name"] == evil
    found = run({"operation": "select", "table": "people", "columns": ["name"],
                 "where": [{"column": "name", "operator": "=", "value": "{{ $json.name }}"}]}, [{"name": evil}])
    assert rows(found) == [{"name": evil}, {"name": evil}]
    field = 'name") VALUES (1); DROP TABLE people; --'
    bad = run({"operation": "insert", "table": "people"}, [{"email": "g@x", field: "x"}])
    assert bad.status == "error" and "does not exist in table people" in bad.error["message"]
    assert table_rows(people) == [("e@x", evil), ("f@x", evil)]


def test_expressions_in_the_query_are_refused(run):
    result = run({"operation": "executeQuery", "query": "SELECT '{{ $json.name }}'"}, [{"name": "x"}])
    assert result.status == "error" and "Query Parameters" in result.error["message"]


def test_insert_round_trips_types(run, people):
    item = {"email": "ada@x", "name": "Ada", "age": 36, "score": 12.5, "meta": {"k": [1, None]}, "active": True}
    result = run({"operation": "insert", "table": "people"}, [item, {"EMAIL": "bob@x"}])
    first, second = rows(result)
    assert first == {**item, "id": 1, "meta": '{"k": [1, null]}', "active": 1}
    assert second == {"id": 2, "email": "bob@x", "name": None, "age": None, "score": None, "meta": None,
                      "active": None}
    blob = run({"operation": "executeQuery", "query": "SELECT X'00FF' AS raw, 1e400 AS inf"})
    assert rows(blob) == [{"raw": "AP8=", "inf": "inf"}]


def test_insert_is_one_transaction_rolled_back_when_an_item_fails(run, people):
    result = run({"operation": "insert", "table": "people"}, [{"email": "a@x"}, {"email": "b@x"}, {"email": "a@x"}])
    assert result.status == "error"
    assert result.error["message"].startswith("item 2: UNIQUE constraint failed: people.email")
    assert table_rows(people) == []


def test_independent_items_to_the_error_output(run, people):
    result = run({"operation": "insert", "table": "people", "queryBatching": "independently"},
                 [{"email": "a@x"}, {"email": "a@x"}, {"email": "c@x"}], on_error="errorOutput")
    assert [r["email"] for r in rows(result)] == ["a@x", "c@x"]
    [failed] = rows(result, 1)
    assert failed["email"] == "a@x" and failed["error"].startswith("item 1: UNIQUE constraint failed")
    assert table_rows(people) == [("a@x", None), ("c@x", None)]


def test_update_and_upsert(run, people):
    people.execute("INSERT INTO people (email, name, age) VALUES ('a@x', 'A', 1), ('b@x', 'B', 2)")
    updated = run({"operation": "update", "table": "people", "matchOn": ["email"]}, [{"email": "b@x", "name": "Bee"}])
    assert [(r["email"], r["name"], r["age"]) for r in rows(updated)] == [("b@x", "Bee", 2)]
    upsert = {"operation": "upsert", "table": "people", "matchOn": ["email"]}
    first = rows(run(upsert, [{"email": "c@x", "name": "One", "age": 3}]))
    second = rows(run(upsert, [{"email": "c@x", "name": "Two"}]))
    assert first[0]["id"] == second[0]["id"] == 3
    assert (second[0]["name"], second[0]["age"]) == ("Two", 3)
    assert table_rows(people) == [("a@x", "A"), ("b@x", "Bee"), ("c@x", "Two")]


def test_select_where_sort_limit(run, people):
    people.execute("INSERT INTO people (email, name, age) VALUES ('a@x', 'Ann', 30), ('b@x', 'Bob', 40), "
                   "('c@x', 'Cid', 50), ('d@x', NULL, 60)")
    node = {"operation": "select", "table": "people", "columns": ["name", "age"], "limit": 2,
            "sort": [{"column": "age", "direction": "DESC"}],
            "where": [{"column": "age", "operator": ">=", "value": "{{ $json.min }}"},
                      {"column": "name", "operator": "IS NOT NULL"}]}
    assert rows(run(node, [{"min": "35"}])) == [{"name": "Cid", "age": 50}, {"name": "Bob", "age": 40}]
    every = {"operation": "select", "table": "people", "columns": ["email"], "returnAll": True,
             "combineConditions": "OR", "sort": [{"column": "email"}],
             "where": [{"column": "name", "operator": "LIKE", "value": "a%"}, {"column": "name", "value": None}]}
    assert rows(run(every)) == [{"email": "a@x"}, {"email": "d@x"}]


def test_the_file_must_stay_in_the_files_folder(run, files, tmp_path):
    (tmp_path / "outside.db").touch()
    for path in ["../outside.db", str(tmp_path / "outside.db")]:
        result = run({"path": path, "operation": "executeQuery", "query": "SELECT 1"})
        assert result.status == "error", path
        assert result.error["message"].startswith("cannot open the SQLite database: path ")
        assert "the files folder" in result.error["message"]
    nested = run({"path": "sub/dir/new.db", "operation": "executeQuery", "query": "SELECT 1 AS one"})
    assert rows(nested) == [{"one": 1}]
    assert (files / "sub" / "dir" / "new.db").is_file()
    for query in [f"ATTACH DATABASE '{tmp_path / 'outside.db'}' AS other",
                  f"VACUUM INTO '{tmp_path / 'copy.db'}'"]:
        result = run({"operation": "executeQuery", "query": query})
        assert result.status == "error" and "ATTACH and VACUUM INTO are refused" in result.error["message"]
    assert not (tmp_path / "copy.db").exists()
