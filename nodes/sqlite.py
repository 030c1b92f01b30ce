"""SQLite: run SQL, or insert, update, upsert and select rows, in a database file (stdlib sqlite3).

The file lies in the files folder (`ctx.files_dir`: FLOWBOX_FILES_DIR, default
`<data dir>/files`), the one folder file nodes may use: `path` is relative to it, and a
path leaving it (`..`, absolute elsewhere, a symlink out) is refused, as are ATTACH and
VACUUM INTO, which would reach other files. A missing file (and its folders) is created.
Queries use $1, $2, … (also :1, @1, ?1; plain ? works in a single statement) with the
item's values bound by SQLite; a query may hold several statements. The connection (one
per node run) is used from `asyncio.to_thread`.
"""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path
from typing import Any

from flowbox.node import Context, Item, Param, node
from flowbox.nodes._db import CONNECT_TIMEOUT, Column, SqlDatabase, Table, run_sql, sql_params
from flowbox.nodes._files import inside


def statements(query: str) -> list[str]:
    """`query` split into its statements (sqlite3.complete_statement decides where one ends)."""
    out, start = [], 0
    for end, ch in enumerate(query):
        if ch == ";" and sqlite3.complete_statement(query[start:end + 1]):
            out.append(query[start:end + 1])
            start = end + 1
    tail = query[start:]
    if tail.strip():
        out.append(tail)
    return [s for s in out if s.strip(" \t\r\n;")]


def _deny_other_files(action: int, *_: Any) -> int:
    """sqlite3 authorizer: no ATTACH (nor VACUUM INTO, which attaches) or DETACH."""
    return sqlite3.SQLITE_DENY if action in (sqlite3.SQLITE_ATTACH, sqlite3.SQLITE_DETACH) else sqlite3.SQLITE_OK


class SqliteDatabase(SqlDatabase):
    """A sqlite3 connection used from worker threads (one at a time)."""

    engine = "SQLite"
    fold_case = True

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def quote(self, name: str) -> str:
        return '"' + name.replace('"', '""') + '"'

    def placeholder(self, n: int) -> str:
        return f"?{n}"

    def _run(self, sql: str, params: list[Any], split: bool) -> tuple[list[dict[str, Any]], int, bool]:
        """(rows of every result set, rows affected, whether any statement had a result set)."""
        parts = statements(sql) if split else [sql]
        named = {str(k): v for k, v in enumerate(params, 1)}
        rows: list[dict[str, Any]] = []
        affected, had_result = 0, False
        for part in parts:
            try:
                cur = self.conn.execute(part, named)
            except sqlite3.ProgrammingError as exc:
                if "has no name" not in str(exc) or len(parts) > 1:
                    raise
                cur = self.conn.execute(part, params)  # plain ? placeholders
            if cur.description is not None:
                had_result = True
                names = [d[0] for d in cur.description]
                rows.extend(dict(zip(names, row, strict=True)) for row in cur.fetchall())
            elif cur.rowcount > 0:
                affected += cur.rowcount
        return rows, affected, had_result

    async def query(self, sql: str, params: list[Any]) -> list[dict[str, Any]]:
        rows, affected, had_result = await asyncio.to_thread(self._run, sql, params, True)
        return rows if had_result else [{"success": True, "rowCount": affected}]

    async def execute(self, sql: str, params: list[Any]) -> list[dict[str, Any]]:
        return (await asyncio.to_thread(self._run, sql, params, False))[0]

    async def columns(self, table: Table) -> dict[str, Column]:
        rows = await self.execute("SELECT name, type, pk FROM pragma_table_info(?1)", [table[1]])
        return {r["name"]: Column(r["name"], r["type"], bool(r["pk"])) for r in rows}

    def describe(self, exc: BaseException) -> str:
        if not isinstance(exc, sqlite3.Error):
            return super().describe(exc)
        text = str(exc) or type(exc).__name__
        if "authoriz" in text:
            text += " (ATTACH and VACUUM INTO are refused: the node uses only its own file)"
        return text

    async def commit(self) -> None:
        await asyncio.to_thread(self.conn.commit)

    async def rollback(self) -> None:
        await asyncio.to_thread(self.conn.rollback)


def _open(path: Path) -> sqlite3.Connection:
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(path, timeout=CONNECT_TIMEOUT, check_same_thread=False)
    conn.set_authorizer(_deny_other_files)
    return conn


@node(
    type="sqlite", display_name="SQLite", group="integration", icon="database",
    description="Run SQL, or insert, update, upsert and select rows, in a SQLite file in the files folder",
    params=sql_params([Param("path", "string", default="", required=True, placeholder="data/app.db",
                             description="The database file, relative to the files folder (FLOWBOX_FILES_DIR); "
                                         "created when missing")]),
)
async def sqlite(ctx: Context, items: list[Item]) -> list[list[Item]]:
    """Open the database file, run the operation for every item, close."""
    try:
        path = inside(ctx.files_dir, ctx.param("path"), "path")
        conn = await asyncio.to_thread(_open, path)
    except (OSError, ValueError, sqlite3.Error) as exc:
        raise ctx.error(f"cannot open the SQLite database: {exc}") from None
    try:
        return await run_sql(ctx, items, SqliteDatabase(conn))
    finally:
        await asyncio.to_thread(conn.close)
