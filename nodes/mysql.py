"""MySQL: run SQL, or insert, update, upsert and select rows, on a MySQL or MariaDB server (PyMySQL).

PyMySQL is synchronous: the connection (one per node run, closed after it) is used from
`asyncio.to_thread`. Queries use $1, $2, … like the postgres node (`%s` works too, not both
in one query): `placeholders()` turns them into PyMySQL's `%s` outside string literals,
quoted names and comments, and PyMySQL binds each value as an escaped literal. A list
parameter becomes a parenthesised list, for `IN $1`. Upsert is INSERT … ON DUPLICATE KEY
UPDATE, so any unique key of the table decides insert or update. MySQL has no RETURNING:
written rows are read back by their match columns, or by primary key (the auto-increment
id for an insert); a table without a primary key outputs the values written. TIME values
come out as text ("10:30:00"). The credential type has no test request (credential tests
are HTTP requests); a failed connection names host:port in the node error.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from flowbox.node import Context, Item, N8n, N8nNotes, Param, node
from flowbox.nodes._db import (
    CONNECT_TIMEOUT,
    Column,
    QueryFailed,
    SqlDatabase,
    Table,
    connect_failed,
    database_credential,
    need_credential,
    port_of,
    run_sql,
    sql_params,
)
from flowbox.nodes._sql_n8n import sql_from_n8n

SSL_MODES = ("disable", "require", "verify")

database_credential("mysql", "MySQL", 3306, "root", Param(
    "ssl", "options", label="SSL", default="disable", options=SSL_MODES,
    description="require: encrypt without checking the certificate; verify: check it and the host name against "
                "the system's CAs"), "A MySQL or MariaDB server for the mysql node")


def placeholders(query: str) -> tuple[str, list[int]]:
    """`query` for PyMySQL: $n and %s outside literals, quoted names and comments become %s, every
    other % is doubled. Returns it with the 1-based parameter number of each %s in order."""
    out: list[str] = []
    order: list[int] = []
    styles: set[str] = set()
    i, n = 0, len(query)
    while i < n:
        ch = query[i]
        end = i + 1
        if ch in "'\"`":
            end = _after_quote(query, i)
        elif ch == "#" or (query.startswith("--", i) and (i + 2 == n or query[i + 2].isspace())):
            found = query.find("\n", i)
            end = n if found < 0 else found
        elif query.startswith("/*", i):
            found = query.find("*/", i + 2)
            end = n if found < 0 else found + 2
        elif ch == "$" and query[i + 1:i + 2].isdigit() and not (i and (query[i - 1].isalnum() or query[i - 1] in "_$")):
            while end < n and query[end].isdigit():
                end += 1
            order.append(int(query[i + 1:end]))
            styles.add("$n")
            out.append("%s")
            i = end
            continue
        elif query.startswith("%s", i):
            order.append(len(order) + 1)
            styles.add("%s")
            out.append("%s")
            i += 2
            continue
        out.append(query[i:end].replace("%", "%%"))
        i = end
    if len(styles) > 1:
        raise QueryFailed("the query mixes $1-style and %s placeholders: use one kind")
    return "".join(out), order


def _after_quote(query: str, start: int) -> int:
    """The index after the string or name opened at `start` ('' and \\ escapes; the end when unclosed)."""
    quote, i, n = query[start], start + 1, len(query)
    while i < n:
        if query[i] == "\\" and quote != "`":
            i += 2
        elif query[i] == quote:
            if query[i + 1:i + 2] != quote:
                return i + 1
            i += 2
        else:
            i += 1
    return n


class MySqlDatabase(SqlDatabase):
    """A PyMySQL connection used from a worker thread."""

    engine = "MySQL"
    max_identifier = 64
    returning = False
    fold_case = True
    default_values = "() VALUES ()"

    def __init__(self, conn: Any) -> None:
        self.conn = conn

    def quote(self, name: str) -> str:
        return "`" + name.replace("`", "``").replace("%", "%%") + "`"  # every statement is %-formatted

    def placeholder(self, n: int) -> str:
        return "%s"

    def _run(self, sql: str, params: list[Any]) -> tuple[list[dict[str, Any]], int, bool, int]:
        """(rows of every result set, rows affected, whether any had a result set, last insert id)."""
        with self.conn.cursor() as cur:
            cur.execute(sql, tuple(params))
            rows: list[dict[str, Any]] = []
            affected, had_result = 0, False
            while True:
                if cur.description is not None:
                    had_result = True
                    rows.extend(cur.fetchall())
                elif cur.rowcount > 0:
                    affected += cur.rowcount
                if not cur.nextset():
                    return rows, affected, had_result, cur.lastrowid

    async def query(self, sql: str, params: list[Any]) -> list[dict[str, Any]]:
        text, order = placeholders(sql)
        if order and max(order) > len(params):
            raise QueryFailed(f"the query uses parameter {max(order)} but {len(params)} query parameters are given")
        rows, affected, had_result, _ = await asyncio.to_thread(self._run, text, [params[k - 1] for k in order])
        return rows if had_result else [{"success": True, "rowCount": affected}]

    async def execute(self, sql: str, params: list[Any]) -> list[dict[str, Any]]:
        return (await asyncio.to_thread(self._run, sql, params))[0]

    async def columns(self, table: Table) -> dict[str, Column]:
        rows = await self.execute(
            "SELECT COLUMN_NAME AS name, DATA_TYPE AS type, COLUMN_KEY AS `key`, EXTRA AS extra "
            "FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = %s "
            "ORDER BY ORDINAL_POSITION", [table[1]])
        return {r["name"]: Column(r["name"], r["type"], r["key"] == "PRI", "auto_increment" in r["extra"])
                for r in rows}

    async def write(self, sql: str, params: list[Any], table: Table, info: dict[str, Column],
                    keys: dict[str, Any] | None, row: dict[str, Any]) -> list[dict[str, Any]]:
        """Run the statement, then read the rows back (MySQL has no RETURNING)."""
        _, _, _, last_id = await asyncio.to_thread(self._run, sql, params)
        if keys is None:
            primary = [c.name for c in info.values() if c.key]
            keys = {c: row[c] for c in primary if c in row}
            if len(primary) == 1 and not keys and info[primary[0]].auto and last_id:
                keys = {primary[0]: last_id}
            if not primary or len(keys) < len(primary):
                return [row]
        read: list[Any] = []
        where = self.conditions([(k, "=", v) for k, v in keys.items()], read)
        return await self.execute(f"SELECT * FROM {self.table_sql(table)} WHERE {where}", read)

    def upsert_clause(self, keys: list[str], update: list[str]) -> str:
        sets = ", ".join(f"{self.quote(c)} = VALUES({self.quote(c)})" for c in update or keys)
        return f"ON DUPLICATE KEY UPDATE {sets}"

    def param(self, value: Any, column: Column | None = None) -> Any:
        """A non-empty list of plain values in a query parameter binds as `(a, b)` (for IN $1)."""
        if isinstance(value, list) and column is None and value and all(
                v is None or isinstance(v, (str, int, float)) for v in value):
            return value
        return super().param(value, column)

    async def commit(self) -> None:
        await asyncio.to_thread(self.conn.commit)

    async def rollback(self) -> None:
        await asyncio.to_thread(self.conn.rollback)

    def describe(self, exc: BaseException) -> str:
        import pymysql

        if isinstance(exc, pymysql.MySQLError) and len(exc.args) == 2:
            return f"{exc.args[1]} (MySQL error {exc.args[0]})"
        return super().describe(exc)


def _connect(cred: dict[str, Any], host: str, port: int) -> Any:
    import ssl

    import pymysql
    from pymysql.constants import CLIENT, FIELD_TYPE
    from pymysql.converters import conversions
    from pymysql.cursors import DictCursor

    mode = str(cred.get("ssl") or "disable")
    context = None
    if mode == "verify":
        context = ssl.create_default_context()
    elif mode == "require":
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    conv = {**conversions, FIELD_TYPE.TIME: str}
    return pymysql.connect(
        host=host, port=port, user=str(cred.get("user") or ""), password=str(cred.get("password") or ""),
        database=str(cred.get("database") or "") or None, charset="utf8mb4", cursorclass=DictCursor,
        client_flag=CLIENT.MULTI_STATEMENTS, autocommit=False, conv=conv, ssl=context,
        connect_timeout=CONNECT_TIMEOUT)


def from_n8n(params: dict[str, Any], version: float) -> tuple[dict[str, Any], N8nNotes]:
    """n8n's MySQL v1 and v2.0-2.5 (see nodes/_sql_n8n.py); n8n's `mySql` credential is flowbox's `mysql`."""
    return sql_from_n8n(params, version, schema=False)


@node(
    type="mysql", display_name="MySQL", group="integration", icon="database",
    description="Run SQL, or insert, update, upsert and select rows, in a MySQL or MariaDB database",
    credentials=["mysql"], params=sql_params(),
    n8n=N8n(types=("n8n-nodes-base.mySql",), versions=(1, 2, 2.1, 2.2, 2.3, 2.4, 2.5), convert=from_n8n,
            credentials={"mySql": "mysql"}),
)
async def mysql(ctx: Context, items: list[Item]) -> list[list[Item]]:
    """Connect with the node's mysql credential, run the operation for every item, close."""
    import pymysql

    cred = await need_credential(ctx, "mysql")
    host = str(cred.get("host") or "localhost")
    port = port_of(ctx, cred.get("port"), 3306)
    try:
        conn = await asyncio.to_thread(_connect, cred, host, port)
    except (pymysql.MySQLError, OSError) as exc:
        raise connect_failed(ctx, "MySQL", host, port, exc, [cred.get("password")]) from None
    try:
        return await run_sql(ctx, items, MySqlDatabase(conn))
    finally:
        with contextlib.suppress(Exception):
            await asyncio.to_thread(conn.close)
