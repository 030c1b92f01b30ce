"""Postgres: run SQL, or insert, update, upsert and select rows, on a PostgreSQL server (psycopg 3, async).

The query goes to the server as written, with PostgreSQL's own placeholders $1, $2, …
bound separately (psycopg's raw cursor, server-side binding), so the server — not a
client-side parser — decides what is a parameter. Text parameters are sent untyped and
take the type the query gives them; where PostgreSQL cannot infer one (`SELECT $1`),
write a cast (`$1::text`). A query without parameters may hold several statements.
Writes look at the table's column types: an object or list goes to a json/jsonb column
as JSON (text is sent as is, so it must be JSON text), a list to an array column as an
array, and to any other column as JSON text.
One connection per node run, closed after it. The credential type has no test request
(credential tests are HTTP requests); a failed connection names host:port in the node error.
"""

from __future__ import annotations

from typing import Any

from flowbox.node import Context, Item, N8n, N8nNotes, Param, node
from flowbox.nodes._db import (
    CONNECT_TIMEOUT,
    Column,
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

SSL_MODES = ("disable", "allow", "prefer", "require", "verify-ca", "verify-full")

database_credential("postgres", "PostgreSQL", 5432, "postgres", Param(
    "ssl", "options", label="SSL mode", default="prefer", options=SSL_MODES,
    description="libpq sslmode: verify-full checks the server's certificate and name"),
    "A PostgreSQL server for the postgres node")


class PostgresDatabase(SqlDatabase):
    """A psycopg AsyncConnection; statements on a raw cursor ($n placeholders, server-side binding)."""

    engine = "PostgreSQL"
    max_identifier = 63
    schemas = True

    def __init__(self, conn: Any) -> None:
        self.conn = conn

    def quote(self, name: str) -> str:
        from psycopg import sql

        return sql.Identifier(name).as_string(self.conn)

    def placeholder(self, n: int) -> str:
        return f"${n}"

    async def _run(self, query: str, params: list[Any]) -> tuple[list[dict[str, Any]], int, bool]:
        """(rows of every result set, rows affected, whether any statement had a result set)."""
        import psycopg
        from psycopg.rows import dict_row

        cur = psycopg.AsyncRawCursor(self.conn, row_factory=dict_row)
        async with cur:
            await cur.execute(query, params or None)  # no parameters: several statements may run
            rows: list[dict[str, Any]] = []
            affected, had_result = 0, False
            while True:
                if cur.description is not None:
                    had_result = True
                    rows.extend(await cur.fetchall())
                elif cur.rowcount > 0:
                    affected += cur.rowcount
                if not cur.nextset():
                    return rows, affected, had_result

    async def query(self, sql: str, params: list[Any]) -> list[dict[str, Any]]:
        rows, affected, had_result = await self._run(sql, params)
        return rows if had_result else [{"success": True, "rowCount": affected}]

    async def execute(self, sql: str, params: list[Any]) -> list[dict[str, Any]]:
        return (await self._run(sql, params))[0]

    async def columns(self, table: Table) -> dict[str, Column]:
        rows = await self.execute(
            "SELECT column_name, data_type FROM information_schema.columns "
            "WHERE table_schema = $1 AND table_name = $2 ORDER BY ordinal_position", list(table))
        return {r["column_name"]: Column(r["column_name"], r["data_type"]) for r in rows}

    async def commit(self) -> None:
        await self.conn.commit()

    async def rollback(self) -> None:
        await self.conn.rollback()

    def describe(self, exc: BaseException) -> str:
        diag = getattr(exc, "diag", None)
        primary = getattr(diag, "message_primary", None)
        if not primary:
            return super().describe(exc)
        extra = " ".join(x for x in (diag.message_detail, diag.message_hint) if x)
        return f"{primary} ({extra})" if extra else primary

    def param(self, value: Any, column: Column | None = None) -> Any:
        """JSON for json/jsonb columns, arrays for lists (not holding objects), else `SqlDatabase.param`."""
        kind = column.type if column is not None else ""
        if kind in ("json", "jsonb") and value is not None and not isinstance(value, str):
            from psycopg.types.json import Json, Jsonb

            return (Jsonb if kind == "jsonb" else Json)(value)
        if isinstance(value, list) and kind in ("", "ARRAY") and not _holds_objects(value):
            return value
        return super().param(value, column)


def _holds_objects(values: list[Any]) -> bool:
    return any(isinstance(v, dict) or (isinstance(v, list) and _holds_objects(v)) for v in values)


def from_n8n(params: dict[str, Any], version: float) -> tuple[dict[str, Any], N8nNotes]:
    """n8n's Postgres v1 and v2.0-2.6 (see nodes/_sql_n8n.py)."""
    return sql_from_n8n(params, version, schema=True)


@node(
    type="postgres", display_name="Postgres", group="integration", icon="database",
    description="Run SQL, or insert, update, upsert and select rows, in a PostgreSQL database",
    credentials=["postgres"], params=sql_params(schema=True),
    n8n=N8n(types=("n8n-nodes-base.postgres",), versions=(1, 2, 2.1, 2.2, 2.3, 2.4, 2.5, 2.6), convert=from_n8n),
)
async def postgres(ctx: Context, items: list[Item]) -> list[list[Item]]:
    """Connect with the node's postgres credential, run the operation for every item, close."""
    import psycopg

    cred = await need_credential(ctx, "postgres")
    host = str(cred.get("host") or "localhost")
    port = port_of(ctx, cred.get("port"), 5432)
    try:
        conn = await psycopg.AsyncConnection.connect(
            host=host, port=port, dbname=str(cred.get("database") or ""), user=str(cred.get("user") or ""),
            password=str(cred.get("password") or "") or None, sslmode=str(cred.get("ssl") or "prefer"),
            connect_timeout=CONNECT_TIMEOUT, application_name="flowbox")
    except psycopg.Error as exc:
        raise connect_failed(ctx, "PostgreSQL", host, port, exc, [cred.get("password")]) from None
    try:
        return await run_sql(ctx, items, PostgresDatabase(conn))
    finally:
        await conn.close()
