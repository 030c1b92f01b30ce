"""What only the mysql node does (placeholders, several statements, its types), through the real engine against the
real MariaDB/MySQL server; what it shares with the postgres node is test_sql_nodes.py."""

from __future__ import annotations

import json
import socket
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from support import MYSQL_HOST, MYSQL_PORT, credential_services, unavailable

from flowbox import registry
from flowbox.engine.runner import EngineServices

pytestmark = pytest.mark.services

CRED = {"host": MYSQL_HOST, "port": str(MYSQL_PORT), "database": "test", "user": "root", "password": ""}


def services(cred: dict[str, Any] | None = None) -> EngineServices:
    return credential_services(cred or CRED, "mysql", "my1")


def my(on_error: str = "stop", **params: Any) -> dict[str, Any]:
    return {"name": "My", "type": "mysql", "parameters": params, "credentials": {"mysql": "my1"},
            "onError": on_error}


def rows(result: Any, output: int = 0) -> list[dict[str, Any]]:
    assert result.status == "success", result.error
    return [item.json for item in result.runs["My"][-1].outputs[output]]


def placeholders() -> Any:
    registry.load()  # every built-in node first: the registry loads them only while it holds none
    from flowbox.nodes.mysql import placeholders

    return placeholders


@pytest.fixture
def db() -> Iterator[tuple[Any, str]]:
    """(autocommit connection, a fresh table name); the table is dropped after the test."""
    import pymysql

    try:
        conn = pymysql.connect(host=MYSQL_HOST, port=MYSQL_PORT, user="root", password="", database="test",
                               autocommit=True, connect_timeout=3)
    except pymysql.MySQLError as exc:
        unavailable(f"MySQL does not answer at {MYSQL_HOST}:{MYSQL_PORT}: {exc}")
    table = f"fb_node_{uuid.uuid4().hex[:12]}"
    yield conn, table
    with conn.cursor() as cur:
        cur.execute(f"DROP TABLE IF EXISTS `{table}`")
    conn.close()


def sql(db: tuple[Any, str], statement: str) -> list[tuple[Any, ...]]:
    with db[0].cursor() as cur:
        cur.execute(statement)
        return list(cur.fetchall())


def make_people(db: tuple[Any, str]) -> str:
    table = db[1]
    sql(db, f"CREATE TABLE `{table}` (id INT AUTO_INCREMENT PRIMARY KEY, email VARCHAR(100) UNIQUE, name TEXT, "
            f"age INT, score DECIMAL(8,2), meta JSON, seen DATETIME, active BOOLEAN, at TIME, raw BLOB)")
    return table


def table_rows(db: tuple[Any, str]) -> list[tuple[Any, ...]]:
    return sql(db, f"SELECT email, name FROM `{db[1]}` ORDER BY id")


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


def test_execute_query_binds_parameters_per_item(run_node, db):
    result = run_node(my(operation="executeQuery", query="SELECT $1 + $2 AS total, $3 AS label, 5 IN $4 AS found",
                         queryParams=["{{ $json.a }}", "{{ $json.b }}", "{{ $json.label }}", "{{ $json.set }}"]),
                      [{"a": 1, "b": 2, "label": "x", "set": [1, 5]},
                       {"a": 10, "b": 5, "label": "it's 100%", "set": [2]}], services=services())
    assert rows(result) == [{"total": 3, "label": "x", "found": 1}, {"total": 15, "label": "it's 100%", "found": 0}]


def test_several_statements_and_row_counts(run_node, db):
    table = make_people(db)
    several = run_node(my(operation="executeQuery",
                          query=f"INSERT INTO `{table}` (email) VALUES ('a@x'), ('b%x'); "
                                f"SELECT email FROM `{table}` WHERE email LIKE '%x' ORDER BY email; SELECT 1 AS one"),
                       services=services())
    assert rows(several) == [{"email": "a@x"}, {"email": "b%x"}, {"one": 1}]
    write = run_node(my(operation="executeQuery", query=f"UPDATE `{table}` SET age = 3"), services=services())
    assert rows(write) == [{"success": True, "rowCount": 2}]
    short = run_node(my(operation="executeQuery", query="SELECT $2"), [{}], services=services())
    assert "uses parameter 2 but 0 query parameters" in short.error["message"]


def test_insert_round_trips_types_and_reads_rows_back(run_node, db):
    table = make_people(db)
    item = {"email": "ada@x", "name": "Ada", "age": 36, "score": 12.5, "meta": {"k": [1, None]},
            "seen": "2024-05-06 07:08:09", "active": True, "at": "10:30:00"}
    result = run_node(my(operation="insert", table=table), [item, {"EMAIL": "bob@x"}], services=services())
    first, second = rows(result)
    assert json.loads(first.pop("meta")) == {"k": [1, None]}
    assert first == {"id": first["id"], "email": "ada@x", "name": "Ada", "age": 36, "score": 12.5,
                     "seen": "2024-05-06T07:08:09", "active": 1, "at": "10:30:00", "raw": None}
    assert second["id"] == first["id"] + 1 and second["email"] == "bob@x"
    values = run_node(my(operation="executeQuery",
                         query="SELECT CAST('12345678901234567890.123456789' AS DECIMAL(30,9)) AS big, "
                               "CAST(3 AS DECIMAL(5,2)) AS whole, X'00FF' AS raw, DATE '2024-02-29' AS day"),
                      services=services())
    assert rows(values) == [{"big": "12345678901234567890.123456789", "whole": 3, "raw": "AP8=",
                             "day": "2024-02-29"}]


def test_insert_without_primary_key_outputs_what_it_wrote(run_node, db):
    table = db[1]
    sql(db, f"CREATE TABLE `{table}` (a INT, b TEXT)")
    assert rows(run_node(my(operation="insert", table=table), [{"a": 1, "b": "x"}], services=services())) == [
        {"a": 1, "b": "x"}]


def test_quoted_identifiers(run_node, db):
    table = db[1]
    odd = f"{table} `odd` %s"
    sql(db, f"CREATE TABLE `{odd.replace('`', '``')}` (`we``ird %col` TEXT)")
    try:
        written = run_node(my(operation="insert", table=odd), [{"we`ird %col": "v"}], services=services())
        assert rows(written) == [{"we`ird %col": "v"}]
        read = run_node(my(operation="select", table=odd, where=[{"column": "we`ird %col", "value": "v"}]),
                        services=services())
        assert rows(read) == [{"we`ird %col": "v"}]
    finally:
        sql(db, f"DROP TABLE `{odd.replace('`', '``')}`")
    missing = run_node(my(operation="insert", table=table), [{"a": 1}], services=services())
    assert f"table {table} does not exist" in missing.error["message"]


def test_connection_failure_names_the_server(run_node):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    result = run_node(my(operation="executeQuery", query="SELECT 1"),
                      services=services({**CRED, "port": str(port), "password": "hunter2-secret"}))
    assert result.status == "error"
    assert f"could not connect to MySQL at 127.0.0.1:{port}" in result.error["message"]
    denied = run_node(my(operation="executeQuery", query="SELECT 1"),
                      services=services({**CRED, "user": "no_such_user", "password": "hunter2-secret"}))
    assert f"could not connect to MySQL at {MYSQL_HOST}:{MYSQL_PORT}: " in denied.error["message"]
    assert "hunter2" not in denied.error["message"]
