"""What only the postgres node does (casts, comma-separated parameters, arrays and its types, schemas), through
the real engine against the real PostgreSQL server; what it shares with the mysql node is test_sql_nodes.py."""

from __future__ import annotations

import socket
import uuid
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest
from support import PG_URL, credential_services, unavailable

from flowbox.engine.runner import EngineServices

pytestmark = pytest.mark.services

_URL = urlsplit(PG_URL)
CRED = {"host": _URL.hostname or "127.0.0.1", "port": str(_URL.port or 5432), "database": _URL.path.lstrip("/"),
        "user": _URL.username or "postgres", "password": _URL.password or "", "ssl": "disable"}


def services(cred: dict[str, Any] | None = None) -> EngineServices:
    return credential_services(cred or CRED, "postgres", "pg1")


def pg(on_error: str = "stop", **params: Any) -> dict[str, Any]:
    return {"name": "PG", "type": "postgres", "parameters": params, "credentials": {"postgres": "pg1"},
            "onError": on_error}


def rows(result: Any, output: int = 0) -> list[dict[str, Any]]:
    assert result.status == "success", result.error
    return [item.json for item in result.runs["PG"][-1].outputs[output]]


@pytest.fixture
def db() -> Iterator[tuple[Any, str]]:
    """(autocommit connection, a fresh table name); the table is dropped after the test."""
    psycopg = pytest.importorskip("psycopg")
    try:
        conn = psycopg.connect(PG_URL, autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as exc:
        unavailable(f"PostgreSQL does not answer at {PG_URL}: {exc}".strip())
    table = f"fb_node_{uuid.uuid4().hex[:12]}"
    yield conn, table
    conn.execute(f'DROP TABLE IF EXISTS "{table}"')
    conn.close()


def make_people(db: tuple[Any, str]) -> str:
    conn, table = db
    conn.execute(f'CREATE TABLE "{table}" (id serial PRIMARY KEY, email text UNIQUE, name text, age int, '
                 f'score numeric(8,2), tags text[], meta jsonb, seen timestamptz, active boolean)')
    return table


def table_rows(db: tuple[Any, str], order: str = "id") -> list[tuple[Any, ...]]:
    conn, table = db
    return conn.execute(f'SELECT email, name FROM "{table}" ORDER BY {order}').fetchall()


def test_execute_query_binds_parameters_per_item(run_node, db):
    result = run_node(pg(operation="executeQuery", query="SELECT $1::int + $2 AS total, $3::text AS label",
                         queryParams=["{{ $json.a }}", "{{ $json.b }}", "{{ $json.label }}"]),
                      [{"a": 1, "b": 2, "label": "x"}, {"a": 10, "b": 5, "label": "it's 100%"}],
                      services=services())
    assert rows(result) == [{"total": 3, "label": "x"}, {"total": 15, "label": "it's 100%"}]


def test_execute_query_comma_separated_params_and_several_statements(run_node, db):
    table = make_people(db)
    result = run_node(pg(operation="executeQuery", queryParams="{{ $json.n }}, Ada",
                         query='SELECT $1::int * 2 AS double, $2::text AS name'), [{"n": 21}], services=services())
    assert rows(result) == [{"double": 42, "name": "Ada"}]
    several = run_node(pg(operation="executeQuery",
                          query=f"INSERT INTO \"{table}\" (email) VALUES ('a@x'), ('b@x'); "
                                f"SELECT email FROM \"{table}\" ORDER BY email; SELECT 1 AS one"),
                       services=services())
    assert rows(several) == [{"email": "a@x"}, {"email": "b@x"}, {"one": 1}]
    write = run_node(pg(operation="executeQuery", query=f"UPDATE \"{table}\" SET age = 3"), services=services())
    assert rows(write) == [{"success": True, "rowCount": 2}]


def test_insert_round_trips_types(run_node, db):
    table = make_people(db)
    item = {"email": "ada@x", "name": "Ada", "age": 36, "score": 12.5, "tags": ["a", "b"],
            "meta": {"k": [1, {"x": None}], "ok": True}, "seen": "2024-05-06T07:08:09Z", "active": True}
    result = run_node(pg(operation="insert", table=table), [item, {"email": "bob@x"}], services=services())
    first, second = rows(result)
    assert first == {**item, "id": first["id"], "seen": "2024-05-06T07:08:09+00:00"}
    assert second == {"id": first["id"] + 1, "email": "bob@x", "name": None, "age": None, "score": None,
                      "tags": None, "meta": None, "seen": None, "active": None}
    values = run_node(pg(operation="executeQuery",
                         query="SELECT 12345678901234567890.123456789::numeric AS big, 3.00::numeric AS whole, "
                               "'\\x00ff'::bytea AS raw, interval '90 minutes' AS span, DATE '2024-02-29' AS day, "
                               "'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'::uuid AS id, "
                               "'NaN'::float8 AS nan"), services=services())
    assert rows(values) == [{"big": "12345678901234567890.123456789", "whole": 3, "raw": "AP8=", "span": 5400.0,
                             "day": "2024-02-29", "id": "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", "nan": "nan"}]


def test_insert_chosen_columns_only(run_node, db):
    table = make_people(db)
    result = run_node(pg(operation="insert", table=table, columns="email, name"),
                      [{"email": "a@x", "name": "A", "age": 99, "unrelated": 1}], services=services())
    [row] = rows(result)
    assert (row["email"], row["name"], row["age"]) == ("a@x", "A", None)


def test_upsert_needs_a_unique_key(run_node, db):
    table = make_people(db)
    result = run_node(pg(operation="upsert", table=table, matchOn=["name"]), [{"name": "x", "age": 1}],
                      services=services())
    assert result.status == "error"
    assert "item 0: there is no unique or exclusion constraint" in result.error["message"]


def test_quoted_identifiers_and_schema(run_node, db):
    conn, table = db
    odd = f'{table} "odd" %s'
    conn.execute(f'CREATE TABLE "{odd.replace(chr(34), chr(34) * 2)}" ("we""ird col" text)')
    try:
        written = run_node(pg(operation="insert", schema="public", table=odd), [{'we"ird col': "v"}],
                           services=services())
        assert rows(written) == [{'we"ird col': "v"}]
        read = run_node(pg(operation="select", table=odd, where=[{"column": 'we"ird col', "value": "v"}]),
                        services=services())
        assert rows(read) == [{'we"ird col': "v"}]
    finally:
        conn.execute(f'DROP TABLE "{odd.replace(chr(34), chr(34) * 2)}"')
    missing = run_node(pg(operation="insert", schema="nope", table=table), [{"a": 1}], services=services())
    assert "table nope." in missing.error["message"] and "does not exist" in missing.error["message"]


def test_bad_parameters_are_named(run_node, db):
    table = make_people(db)
    cases = [
        (pg(operation="select", table=table, where=[{"column": "age", "operator": "{{ '~~~' }}", "value": 1}]),
         "unknown where operator '~~~'"),
        (pg(operation="select", table=table, limit="{{ 0 }}"), "'limit'"),
        (pg(operation="select", table="{{ '' }}"), "parameter 'table' is empty"),
        (pg(operation="update", table=table), "'matchOn'"),
        (pg(operation="update", table=table, matchOn=["email"]), "nothing to update"),
        (pg(operation="executeQuery", query="SELEC 1"), "item 0: syntax error"),
    ]
    for node, expected in cases:
        result = run_node(node, [{"email": "a@x"}], services=services())
        assert result.status == "error" and expected in result.error["message"], (node, result.error)


def test_connection_failure_names_the_server(run_node):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    result = run_node(pg(operation="executeQuery", query="SELECT 1"),
                      services=services({**CRED, "port": str(port), "password": "hunter2-secret"}))
    assert result.status == "error"
    assert f"could not connect to PostgreSQL at 127.0.0.1:{port}" in result.error["message"]
    assert "hunter2" not in result.error["message"]


