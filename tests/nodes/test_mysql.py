"""What only the mysql node does (its placeholders, a list bound for IN, its types, backtick identifiers, a refused
login), through the real engine against the real MariaDB/MySQL server; what it shares with the postgres node is
test_sql_nodes.py."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from sql_servers import Server, open_server, rows
from support import MYSQL_HOST, MYSQL_PORT

from flowbox import registry

pytestmark = pytest.mark.services


@pytest.fixture
def db() -> Iterator[Server]:
    yield from open_server("mysql")


def placeholders() -> Any:
    registry.load()  # every built-in node first: the registry loads them only while it holds none
    from flowbox.nodes.mysql import placeholders

    return placeholders


@pytest.mark.parametrize(("query", "expected", "order"), [
    ("SELECT $1, $2, $1", "SELECT %s, %s, %s", [1, 2, 1]),
    ("SELECT %s, %s", "SELECT %s, %s", [1, 2]),
    ("SELECT '$1 %s', \"a''$2\", `c$1`, x$1 -- $3 %\n, $2 # $9\n/* $4 % */ LIKE 'a%'",
     "SELECT '$1 %%s', \"a''$2\", `c$1`, x$1 -- $3 %%\n, %s # $9\n/* $4 %% */ LIKE 'a%%'", [2]),
    ("SELECT 'it\\'s $1', $1", "SELECT 'it\\'s $1', %s", [1]),
])
def test_placeholders_outside_literals(query, expected, order):
    assert placeholders()(query) == (expected, order)


def test_placeholders_refuse_mixed_styles():
    with pytest.raises(ValueError, match="mixes"):
        placeholders()("SELECT $1, %s")


def test_parameters_bound_per_item_and_a_list_for_in(run_node, db):
    result = run_node(db.node(operation="executeQuery", query="SELECT $1 + $2 AS total, $3 AS label, 5 IN $4 AS found",
                              queryParams=["{{ $json.a }}", "{{ $json.b }}", "{{ $json.label }}", "{{ $json.set }}"]),
                      [{"a": 1, "b": 2, "label": "x", "set": [1, 5]},
                       {"a": 10, "b": 5, "label": "it's 100%", "set": [2]}], services=db.services())
    assert rows(result) == [{"total": 3, "label": "x", "found": 1}, {"total": 15, "label": "it's 100%", "found": 0}]
    short = run_node(db.node(operation="executeQuery", query="SELECT $2"), [{}], services=db.services())
    assert "uses parameter 2 but 0 query parameters" in short.error["message"]


def test_insert_round_trips_types_and_reads_rows_back(run_node, db):
    table = db.table
    db.sql(f"CREATE TABLE `{table}` (id INT AUTO_INCREMENT PRIMARY KEY, email VARCHAR(100) UNIQUE, name TEXT, "
           f"age INT, score DECIMAL(8,2), meta JSON, seen DATETIME, active BOOLEAN, at TIME, raw BLOB)")
    item = {"email": "ada@x", "name": "Ada", "age": 36, "score": 12.5, "meta": {"k": [1, None]},
            "seen": "2024-05-06 07:08:09", "active": True, "at": "10:30:00"}
    result = run_node(db.node(operation="insert", table=table), [item, {"EMAIL": "bob@x"}], services=db.services())
    first, second = rows(result)
    assert json.loads(first.pop("meta")) == {"k": [1, None]}
    assert first == {"id": first["id"], "email": "ada@x", "name": "Ada", "age": 36, "score": 12.5,
                     "seen": "2024-05-06T07:08:09", "active": 1, "at": "10:30:00", "raw": None}
    assert second["id"] == first["id"] + 1 and second["email"] == "bob@x"
    values = run_node(db.node(operation="executeQuery",
                              query="SELECT CAST('12345678901234567890.123456789' AS DECIMAL(30,9)) AS big, "
                                    "CAST(3 AS DECIMAL(5,2)) AS whole, X'00FF' AS raw, DATE '2024-02-29' AS day"),
                      services=db.services())
    assert rows(values) == [{"big": "12345678901234567890.123456789", "whole": 3, "raw": "AP8=",
                             "day": "2024-02-29"}]


def test_insert_without_primary_key_outputs_what_it_wrote(run_node, db):
    db.sql(f"CREATE TABLE `{db.table}` (a INT, b TEXT)")
    assert rows(run_node(db.node(operation="insert", table=db.table), [{"a": 1, "b": "x"}],
                         services=db.services())) == [{"a": 1, "b": "x"}]


def test_quoted_identifiers(run_node, db):
    odd = f"{db.table} `odd` %s"
    db.sql(f"CREATE TABLE {db.q(odd)} (`we``ird %col` TEXT)")
    try:
        written = run_node(db.node(operation="insert", table=odd), [{"we`ird %col": "v"}], services=db.services())
        assert rows(written) == [{"we`ird %col": "v"}]
        read = run_node(db.node(operation="select", table=odd, where=[{"column": "we`ird %col", "value": "v"}]),
                        services=db.services())
        assert rows(read) == [{"we`ird %col": "v"}]
    finally:
        db.sql(f"DROP TABLE {db.q(odd)}")
    missing = run_node(db.node(operation="insert", table=db.table), [{"a": 1}], services=db.services())
    assert f"table {db.table} does not exist" in missing.error["message"]


def test_a_refused_login_names_the_server_not_the_password(run_node, db):
    denied = run_node(db.node(operation="executeQuery", query="SELECT 1"),
                      services=db.services(user="no_such_user", password="hunter2-secret"))
    assert f"could not connect to MySQL at {MYSQL_HOST}:{MYSQL_PORT}: " in denied.error["message"]
    assert "hunter2" not in denied.error["message"]
