"""The SQL servers the mysql and postgres node tests run against (support.MYSQL_HOST/PORT, support.PG_URL), and how
each one's node is called: `test_sql_nodes.py` runs its suite on every server, `test_mysql.py` and
`test_postgres.py` on theirs."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import pytest
from support import MYSQL_HOST, MYSQL_PORT, PG_URL, credential_services, unavailable

from flowbox.engine.runner import EngineServices

_PG = urlsplit(PG_URL)


@dataclass
class Server:
    """One SQL server and how its node is called: `type` is also the credential type."""

    type: str
    label: str  # as the node names the server in its errors
    cred: dict[str, Any]
    quote: str  # identifier quote
    people: str  # CREATE TABLE body of the people table
    duplicate: str  # how the server's error for a unique violation starts
    connect: Callable[[], Any]
    table: str = ""
    conn: Any = None

    def node(self, on_error: str = "stop", **params: Any) -> dict[str, Any]:
        return {"name": "Db", "type": self.type, "parameters": params, "credentials": {self.type: "db1"},
                "onError": on_error}

    def services(self, **cred: Any) -> EngineServices:
        return credential_services({**self.cred, **cred}, self.type, "db1")

    def q(self, name: str) -> str:
        return f"{self.quote}{name.replace(self.quote, self.quote * 2)}{self.quote}"

    def sql(self, statement: str) -> list[tuple[Any, ...]]:
        cursor = self.conn.cursor()
        try:
            cursor.execute(statement)
            return list(cursor.fetchall()) if cursor.description else []
        finally:
            cursor.close()

    def make_people(self) -> str:
        self.sql(f"CREATE TABLE {self.q(self.table)} ({self.people})")
        return self.table

    def table_rows(self) -> list[tuple[Any, ...]]:
        return [tuple(row) for row in self.sql(f"SELECT email, name FROM {self.q(self.table)} ORDER BY id")]


def rows(result: Any, output: int = 0) -> list[dict[str, Any]]:
    assert result.status == "success", result.error
    return [item.json for item in result.runs["Db"][-1].outputs[output]]


def _mysql() -> Any:
    import pymysql

    try:
        return pymysql.connect(host=MYSQL_HOST, port=MYSQL_PORT, user="root", password="", database="test",
                               autocommit=True, connect_timeout=3)
    except pymysql.MySQLError as exc:
        unavailable(f"MySQL does not answer at {MYSQL_HOST}:{MYSQL_PORT}: {exc}")


def _postgres() -> Any:
    psycopg = pytest.importorskip("psycopg")
    try:
        return psycopg.connect(PG_URL, autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as exc:
        unavailable(f"PostgreSQL does not answer at {PG_URL}: {exc}".strip())


SERVERS = {
    "mysql": lambda: Server(
        "mysql", "MySQL", {"host": MYSQL_HOST, "port": str(MYSQL_PORT), "database": "test", "user": "root",
                           "password": ""}, "`",
        "id INT AUTO_INCREMENT PRIMARY KEY, email VARCHAR(100) UNIQUE, name TEXT, age INT",
        "Duplicate entry", _mysql),
    "postgres": lambda: Server(
        "postgres", "PostgreSQL", {"host": _PG.hostname or "127.0.0.1", "port": str(_PG.port or 5432),
                                   "database": _PG.path.lstrip("/"), "user": _PG.username or "postgres",
                                   "password": _PG.password or "", "ssl": "disable"}, '"',
        "id serial PRIMARY KEY, email text UNIQUE, name text, age int",
        "duplicate key value violates unique constraint", _postgres),
}


def open_server(kind: str) -> Iterator[Server]:
    """Server `kind` with an autocommit connection and a fresh table name (the table is dropped afterwards)."""
    server = SERVERS[kind]()
    server.conn = server.connect()
    server.table = f"fb_node_{uuid.uuid4().hex[:12]}"
    yield server
    server.sql(f"DROP TABLE IF EXISTS {server.q(server.table)}")
    server.conn.close()
