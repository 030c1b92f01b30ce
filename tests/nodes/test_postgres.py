"""What only the postgres node does (casts, comma-separated parameters, arrays and its types, schemas, the
unique key an upsert needs, its parameter errors), through the real engine against the real PostgreSQL server;
what it shares with the mysql node is test_sql_nodes.py."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sql_servers import Server, open_server, rows

pytestmark = pytest.mark.services


@pytest.fixture
def db() -> Iterator[Server]:
    yield from open_server("postgres")


def make_people(db: Server) -> str:
    db.sql(f'CREATE TABLE "{db.table}" (id serial PRIMARY KEY, email text UNIQUE, name text, age int, '
           f'score numeric(8,2), tags text[], meta jsonb, seen timestamptz, active boolean)')
    return db.table


def test_casts_and_comma_separated_parameters(run_node, db):
    result = run_node(db.node(operation="executeQuery", query="SELECT $1::int + $2 AS total, $3::text AS label",
                              queryParams=["{{ $json.a }}", "{{ $json.b }}", "{{ $json.label }}"]),
                      [{"a": 1, "b": 2, "label": "x"}, {"a": 10, "b": 5, "label": "it's 100%"}],
                      services=db.services())
    assert rows(result) == [{"total": 3, "label": "x"}, {"total": 15, "label": "it's 100%"}]
    result = run_node(db.node(operation="executeQuery", queryParams="{{ $json.n }}, Ada",
                              query='SELECT $1::int * 2 AS double, $2::text AS name'), [{"n": 21}],
                      services=db.services())
    assert rows(result) == [{"double": 42, "name": "Ada"}]


def test_insert_round_trips_types(run_node, db):
    table = make_people(db)
    item = {"email": "ada@x", "name": "Ada", "age": 36, "score": 12.5, "tags": ["a", "b"],
            "meta": {"k": [1, {"x": None}], "ok": True}, "seen": "2024-05-06T07:08:09Z", "active": True}
    result = run_node(db.node(operation="insert", table=table), [item, {"email": "bob@x"}], services=db.services())
    first, second = rows(result)
    assert first == {**item, "id": first["id"], "seen": "2024-05-06T07:08:09+00:00"}
    assert second == {"id": first["id"] + 1, "email": "bob@x", "name": None, "age": None, "score": None,
                      "tags": None, "meta": None, "seen": None, "active": None}
    values = run_node(db.node(operation="executeQuery",
                              query="SELECT 12345678901234567890.123456789::numeric AS big, 3.00::numeric AS whole, "
                                    "'\\x00ff'::bytea AS raw, interval '90 minutes' AS span, DATE '2024-02-29' AS day, "
                                    "'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'::uuid AS id, "
                                    "'NaN'::float8 AS nan"), services=db.services())
    assert rows(values) == [{"big": "12345678901234567890.123456789", "whole": 3, "raw": "AP8=", "span": 5400.0,
                             "day": "2024-02-29", "id": "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", "nan": "nan"}]


def test_insert_chosen_columns_only(run_node, db):
    table = make_people(db)
    result = run_node(db.node(operation="insert", table=table, columns="email, name"),
                      [{"email": "a@x", "name": "A", "age": 99, "unrelated": 1}], services=db.services())
    [row] = rows(result)
    assert (row["email"], row["name"], row["age"]) == ("a@x", "A", None)


def test_upsert_needs_a_unique_key(run_node, db):
    table = make_people(db)
    result = run_node(db.node(operation="upsert", table=table, matchOn=["name"]), [{"name": "x", "age": 1}],
                      services=db.services())
    assert result.status == "error"
    assert "item 0: there is no unique or exclusion constraint" in result.error["message"]


def test_quoted_identifiers_and_schema(run_node, db):
    odd = f'{db.table} "odd" %s'
    db.sql(f'CREATE TABLE {db.q(odd)} ("we""ird col" text)')
    try:
        written = run_node(db.node(operation="insert", schema="public", table=odd), [{'we"ird col': "v"}],
                           services=db.services())
        assert rows(written) == [{'we"ird col': "v"}]
        read = run_node(db.node(operation="select", table=odd, where=[{"column": 'we"ird col', "value": "v"}]),
                        services=db.services())
        assert rows(read) == [{'we"ird col': "v"}]
    finally:
        db.sql(f"DROP TABLE {db.q(odd)}")
    missing = run_node(db.node(operation="insert", schema="nope", table=db.table), [{"a": 1}], services=db.services())
    assert "table nope." in missing.error["message"] and "does not exist" in missing.error["message"]


def test_bad_parameters_are_named(run_node, db):
    table = make_people(db)
    cases = [
        (db.node(operation="select", table=table, where=[{"column": "age", "operator": "{{ '~~~' }}", "value": 1}]),
         "unknown where operator '~~~'"),
        (db.node(operation="select", table=table, limit="{{ 0 }}"), "'limit'"),
        (db.node(operation="select", table="{{ '' }}"), "parameter 'table' is empty"),
        (db.node(operation="update", table=table), "'matchOn'"),
        (db.node(operation="update", table=table, matchOn=["email"]), "nothing to update"),
        (db.node(operation="executeQuery", query="SELEC 1"), "item 0: syntax error"),
    ]
    for node, expected in cases:
        result = run_node(node, [{"email": "a@x"}], services=db.services())
        assert result.status == "error" and expected in result.error["message"], (node, result.error)
