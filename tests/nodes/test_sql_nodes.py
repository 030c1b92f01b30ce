"""What the mysql and postgres nodes share, as one suite run against each real server (support.MYSQL_HOST/PORT,
support.PG_URL): parameters bound per item, SQL injection kept as data, one transaction per batch, onError per
item, update/upsert/select and the connection errors. What only one of them does is in test_mysql.py and
test_postgres.py; the servers are in sql_servers.py."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from typing import Any

import pytest
from sql_servers import SERVERS, Server, open_server, rows

pytestmark = pytest.mark.services


@pytest.fixture(params=sorted(SERVERS))
def db(request: pytest.FixtureRequest) -> Iterator[Server]:
    yield from open_server(request.param)


def test_several_statements_and_row_counts(run_node, db):
    table = db.q(db.make_people())
    several = run_node(db.node(operation="executeQuery",
                               query=f"INSERT INTO {table} (email) VALUES ('a@x'), ('b%x'); "
                                     f"SELECT email FROM {table} WHERE email LIKE '%x' ORDER BY email; SELECT 1 AS one"),
                       services=db.services())
    assert rows(several) == [{"email": "a@x"}, {"email": "b%x"}, {"one": 1}]
    write = run_node(db.node(operation="executeQuery", query=f"UPDATE {table} SET age = 3"), services=db.services())
    assert rows(write) == [{"success": True, "rowCount": 2}]
    short = run_node(db.node(operation="executeQuery", query="SELECT $2"), [{}], services=db.services())
    assert short.status == "error" and "parameter" in short.error["message"] and "2" in short.error["message"]


def test_sql_injection_is_stored_verbatim(run_node, db):
    table = db.make_people()
    evil = f"'; DROP TABLE {db.q(table)}; -- \\' %s $1"
    query = run_node(db.node(operation="executeQuery",
                             query=f"INSERT INTO {db.q(table)} (email, name) VALUES ($1, $2)",
                             queryParams=["{{ $json.email }}", "{{ $json.name }}"]),
                     [{"email": "e@x", "name": evil}], services=db.services())
    assert rows(query) == [{"success": True, "rowCount": 1}]
    insert = run_node(db.node(operation="insert", table=table, columns=["email", "name"]),
                      [{"email": "f@x", "name": evil}], services=db.services())
    assert rows(insert)[0]["name"] == evil
    found = run_node(db.node(operation="select", table=table, columns=["name"],
                             where=[{"column": "name", "operator": "=", "value": "{{ $json.name }}"}]),
                     [{"name": evil}], services=db.services())
    assert rows(found) == [{"name": evil}, {"name": evil}]
    assert db.table_rows() == [("e@x", evil), ("f@x", evil)]  # the table is intact
    field = f"name{db.quote}) VALUES (1); DROP TABLE {db.q(table)}; --"
    bad = run_node(db.node(operation="insert", table=table), [{"email": "g@x", field: "x"}], services=db.services())
    assert bad.status == "error" and "item 0" in bad.error["message"]
    assert "does not exist in table" in bad.error["message"]
    assert len(db.table_rows()) == 2


def test_expressions_in_the_query_are_refused(run_node, db):
    result = run_node(db.node(operation="executeQuery", query="SELECT '{{ $json.name }}' AS name"), [{"name": "x"}],
                      services=db.services())
    assert result.status == "error" and "Query Parameters" in result.error["message"]


def test_insert_is_one_transaction_rolled_back_when_an_item_fails(run_node, db):
    table = db.make_people()
    result = run_node(db.node(operation="insert", table=table),
                      [{"email": "a@x"}, {"email": "b@x"}, {"email": "a@x"}], services=db.services())
    assert result.status == "error"
    message = result.error["message"]
    assert message.startswith(f"item 2: {db.duplicate}") and "rolled back" in message, message
    assert db.table_rows() == []


def test_independent_items_follow_on_error_continue(run_node, db):
    table = db.make_people()
    result = run_node(db.node("continue", operation="insert", table=table, queryBatching="independently"),
                      [{"email": "a@x"}, {"email": "a@x"}, {"email": "c@x"}], services=db.services())
    out = rows(result)
    assert [o.get("email") for o in out] == ["a@x", None, "c@x"]
    assert out[1]["error"].startswith(f"item 1: {db.duplicate}")
    assert db.table_rows() == [("a@x", None), ("c@x", None)]


def test_independent_items_to_the_error_output(run_node, db):
    table = db.make_people()
    result = run_node(db.node("errorOutput", operation="update", table=table, matchOn=["email"],
                              queryBatching="independently"),
                      [{"email": "a@x", "name": "A"}, {"name": "no key"}], services=db.services())
    assert rows(result) == []  # nothing matched a@x
    [failed] = rows(result, 1)
    assert failed["name"] == "no key" and "match column 'email'" in failed["error"]


def test_update_matches_rows(run_node, db):
    table = db.make_people()
    db.sql(f"INSERT INTO {db.q(table)} (email, name, age) VALUES ('a@x', 'A', 1), ('b@x', 'B', 2)")
    result = run_node(db.node(operation="update", table=table, matchOn=["email"], columns=["name", "email"]),
                      [{"email": "b@x", "name": "Bee", "age": 50}], services=db.services())
    [row] = rows(result)
    assert (row["email"], row["name"], row["age"]) == ("b@x", "Bee", 2)
    assert db.table_rows() == [("a@x", "A"), ("b@x", "Bee")]


def test_upsert_twice_is_one_row(run_node, db):
    node = db.node(operation="upsert", table=db.make_people(), matchOn=["email"])
    first = rows(run_node(node, [{"email": "a@x", "name": "One", "age": 1}], services=db.services()))
    second = rows(run_node(node, [{"email": "a@x", "name": "Two"}], services=db.services()))
    assert first[0]["id"] == second[0]["id"]
    assert (second[0]["name"], second[0]["age"]) == ("Two", 1)
    assert db.table_rows() == [("a@x", "Two")]
    assert rows(run_node(node, [{"email": "a@x"}], services=db.services()))[0]["name"] == "Two"


def test_select_where_sort_limit(run_node, db):
    table = db.make_people()
    db.sql(f"INSERT INTO {db.q(table)} (email, name, age) VALUES ('a@x', 'Ann', 30), ('b@x', 'Bob', 40), "
           f"('c@x', 'Cid', 50), ('d@x', NULL, 60)")
    node = db.node(operation="select", table=table, columns=["name", "age"],
                   sort=[{"column": "age", "direction": "DESC"}], limit=2,
                   where=[{"column": "age", "operator": ">=", "value": "{{ $json.min }}"},
                          {"column": "name", "operator": "IS NOT NULL"}])
    assert rows(run_node(node, [{"min": 35}], services=db.services())) == [{"name": "Cid", "age": 50},
                                                                            {"name": "Bob", "age": 40}]
    every = db.node(operation="select", table=table, columns=["email"], returnAll=True, combineConditions="OR",
                    where=[{"column": "name", "operator": "LIKE", "value": "A%"},
                           {"column": "name", "operator": "=", "value": None}], sort=[{"column": "email"}])
    assert rows(run_node(every, services=db.services())) == [{"email": "a@x"}, {"email": "d@x"}]
    per_item = db.node(operation="select", table=table, columns=["name"],
                       where=[{"column": "email", "operator": "=", "value": "{{ $json.email }}"}])
    assert rows(run_node(per_item, [{"email": "b@x"}, {"email": "c@x"}], services=db.services())) == [
        {"name": "Bob"}, {"name": "Cid"}]


def test_connection_failure_names_the_server_and_hides_the_password(run_node, db):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    result = run_node(db.node(operation="executeQuery", query="SELECT 1"),
                      services=db.services(port=str(port), password="hunter2-secret"))
    assert result.status == "error"
    assert f"could not connect to {db.label} at 127.0.0.1:{port}" in result.error["message"]
    assert "hunter2" not in result.error["message"]


def test_missing_credential_is_a_clear_error(run_node, db):
    result = run_node({**db.node(operation="executeQuery", query="SELECT 1"), "credentials": {}},
                      services=db.services())
    assert result.status == "error" and f"needs a {db.type} credential" in result.error["message"]


# ---------------------------------------------------------------- n8n's Postgres / MySQL nodes, imported


def _from_n8n(db: Server, version: float, params: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any], Any]:
    """n8n's node for `db` with `params` through the importer: (the flowbox node, the workflow settings, report)."""
    from n8n_support import n8n_node, n8n_workflow

    from flowbox.n8n import accept

    kind = {"mysql": "mySql", "postgres": "postgres"}[db.type]
    data, report = accept(n8n_workflow(n8n_node("Db", kind, version, params,
                                                credentials={kind: {"id": "db1", "name": "Test database"}})))
    return data["nodes"][0], data["settings"], report


def test_an_n8n_query_with_expressions_runs_with_its_values_bound(run_node, db):
    table = db.q(db.make_people())
    evil = "O'Brien'); DROP TABLE people; --"
    insert, settings, report = _from_n8n(db, 2.5, {
        "operation": "executeQuery",
        "query": f"=INSERT INTO {table} (email, name, age) VALUES ('{{{{ $json.email }}}}', '{{{{ $json.name }}}}', "
                 "{{ $json.age + 1 }})"})
    assert insert["type"] == db.type and insert["credentials"] == {db.type: "db1"}
    assert "bound parameters" in str(report.to_json()["approximated"])
    people = [{"email": "a@x", "name": evil, "age": 29}, {"email": "b@x", "name": "Bob", "age": 40}]
    assert run_node(insert, people, services=db.services(), settings=settings).status == "success"
    assert db.sql(f"SELECT name, age FROM {table} ORDER BY id") == [(evil, 30), ("Bob", 41)]
    select, settings, _ = _from_n8n(db, 2.5, {
        "operation": "executeQuery",
        "query": f"=SELECT name FROM {table} WHERE age > $1 AND email LIKE '%{{{{ $json.domain }}}}'",
        "options": {"queryReplacement": "={{ $json.min }}"}})
    assert rows(run_node(select, [{"min": 35, "domain": "@x"}], services=db.services(), settings=settings)) == [
        {"name": "Bob"}]


def test_n8n_insert_and_select_operations_run(run_node, db):
    table = db.make_people()
    insert, settings, _ = _from_n8n(db, 2.5, {
        "operation": "insert", "table": {"__rl": True, "value": table, "mode": "list"},
        "columns": {"mappingMode": "defineBelow", "value": {"email": "={{ $json.email }}", "name": "={{ $json.name }}"},
                    "matchingColumns": []}})
    assert insert["parameters"]["columns"] == ["email", "name"]
    assert run_node(insert, [{"email": "a@x", "name": "Ann", "age": 9}, {"email": "b@x", "name": "Bob"}],
                    services=db.services(), settings=settings).status == "success"
    assert db.table_rows() == [("a@x", "Ann"), ("b@x", "Bob")]
    select, settings, _ = _from_n8n(db, 2.5, {
        "operation": "select", "table": {"__rl": True, "value": table, "mode": "name"}, "limit": 1,
        "where": {"values": [{"column": "email", "condition": "LIKE", "value": "%@x"}]},
        "sort": {"values": [{"column": "email", "direction": "DESC"}]}, "options": {"outputColumns": ["name"]}})
    assert rows(run_node(select, services=db.services(), settings=settings)) == [{"name": "Bob"}]


def test_what_n8n_sql_flowbox_cannot_bind_becomes_a_placeholder(db):
    table_name, _, report = _from_n8n(db, 2.5, {"operation": "executeQuery",
                                                "query": "=SELECT * FROM {{ $json.table }}"})
    assert table_name["type"] == "n8nPlaceholder"
    assert "table or column name" in str(report.to_json()["unsupported"])
    computed, _, report = _from_n8n(db, 2.5, {
        "operation": "insert", "table": {"__rl": True, "value": "t", "mode": "list"},
        "columns": {"mappingMode": "defineBelow", "value": {"name": "={{ $json.first }} {{ $json.last }}"}}})
    assert computed["type"] == "n8nPlaceholder" and "column 'name'" in str(report.to_json()["unsupported"])


def test_an_n8n_v1_query_takes_its_parameters_from_the_named_fields(run_node, db):
    table = db.q(db.make_people())
    db.sql(f"INSERT INTO {table} (email, name) VALUES ('a@x', 'Ann'), ('b@x', 'Bob')")
    node, settings, _ = _from_n8n(db, 1, {"operation": "executeQuery",
                                          "query": f"SELECT name FROM {table} WHERE email = $1",
                                          "additionalFields": {"queryParams": "email"}})
    assert rows(run_node(node, [{"email": "b@x"}], services=db.services(), settings=settings)) == [{"name": "Bob"}]
    update, settings, _ = _from_n8n(db, 1, {"operation": "update", "table": db.table, "columns": "email,name",
                                            "updateKey": "email"})
    assert update["parameters"]["matchOn"] == ["email"]
    assert run_node(update, [{"email": "a@x", "name": "Anne"}], services=db.services(),
                    settings=settings).status == "success"
    assert db.table_rows() == [("a@x", "Anne"), ("b@x", "Bob")]
