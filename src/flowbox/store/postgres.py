"""PostgresStore: the Store on PostgreSQL, for scale-out (`flowbox worker`).

Same logic as SqliteStore (`SqlStore`), over one psycopg 3 `AsyncConnection` in
autocommit mode, guarded by an `asyncio.Lock` so a transaction never interleaves with
another coroutine's statements. JSON columns are JSONB (read and written with orjson);
a node run is the same orjson blob as in SQLite, in a BYTEA column. Times are
TIMESTAMPTZ, read back in UTC.

PostgreSQL's text and jsonb cannot hold U+0000, which SQLite (and a webhook body) can: here every
string written, a text parameter or a string (or key) inside JSON, has NUL escaped as `ESC "0"` and
ESC itself as `ESC ESC`, and is unescaped when read (`escape_nul`; ESC is U+10FFFD, a private-use
character). Both stores so keep what they are given. Strings without either character pass unchanged.

The schema is `flowbox.store.schema` (the same numbered migrations SQLite gets, in PostgreSQL's
types), recorded in `flowbox_migrations` (the shape of sqlite-utils' `_sqlite_migrations`) and applied
in one transaction under an advisory lock, so workers starting together do not race. The
tables live in the connection's current schema (set `options=-csearch_path=...` in the
URL to pick another).
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

import orjson
import psycopg
from psycopg.abc import Buffer
from psycopg.rows import dict_row, tuple_row
from psycopg.types.json import Jsonb, set_json_dumps, set_json_loads
from psycopg.types.string import StrDumperUnknown, TextLoader

from flowbox.errors import Conflict, StoreError
from flowbox.store import schema
from flowbox.store.sql import SqlStore
from flowbox.store.sqlbase import Db, Row, dumps, utc

ESC = "\U0010fffd"
_ESC_UTF8 = ESC.encode()
_ESCAPED = re.compile(f"{ESC}[{ESC}0]")

MIGRATION_SET = "flowbox"
_LOCK_KEY = 0x666C6F77626F78  # "flowbox": the advisory lock held while migrating



def escape_nul(text: str) -> str:
    """`text` without U+0000, reversibly (`unescape_nul`)."""
    if "\0" not in text and ESC not in text:
        return text
    return text.replace(ESC, ESC + ESC).replace("\0", ESC + "0")


def unescape_nul(text: str) -> str:
    if ESC not in text:
        return text
    return _ESCAPED.sub(lambda m: ESC if m.group()[1] == ESC else "\0", text)


def _map_strings(value: Any, convert: Any) -> Any:
    """`value` (JSON: dicts, lists, scalars) with `convert` applied to every string, keys included."""
    if isinstance(value, str):
        return convert(value)
    if isinstance(value, dict):
        return {convert(k): _map_strings(v, convert) for k, v in value.items()}
    if isinstance(value, list):
        return [_map_strings(v, convert) for v in value]
    return value


def _dumps_jsonb(obj: Any) -> bytes:
    data = dumps(obj)
    if b"\\u0000" in data or _ESC_UTF8 in data:  # rare: go through the strings
        data = dumps(_map_strings(orjson.loads(data), escape_nul))
    return data


def _loads_jsonb(data: bytes) -> Any:
    value = orjson.loads(data)
    return _map_strings(value, unescape_nul) if _ESC_UTF8 in data else value


class _NulSafeStrDumper(StrDumperUnknown):
    """psycopg's default `str` dumper, with NUL escaped."""

    def dump(self, obj: str) -> Buffer | None:
        return super().dump(escape_nul(obj))


class _NulSafeTextLoader(TextLoader):
    def load(self, data: Buffer) -> bytes | str:
        text = super().load(data)
        return unescape_nul(text) if isinstance(text, str) else text


class _PgDb:
    """A psycopg connection as a `Db` (`?` placeholders become `%s`)."""

    def __init__(self, conn: psycopg.AsyncConnection[Row]) -> None:
        self.conn = conn

    async def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        cursor = await self.conn.execute(sql.replace("?", "%s"), params)
        return cursor.rowcount

    async def fetch(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        cursor = await self.conn.execute(sql.replace("?", "%s"), params)
        return await cursor.fetchall()


async def apply_migrations(conn: psycopg.AsyncConnection[Any]) -> list[str]:
    """Apply pending migrations in one transaction; returns the names applied.

    Raises StoreError when the database has migrations this flowbox does not know.
    """
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock(%s)", [_LOCK_KEY])
        await conn.execute("CREATE TABLE IF NOT EXISTS flowbox_migrations (id SERIAL PRIMARY KEY,"
                           " migration_set TEXT NOT NULL, name TEXT NOT NULL, applied_at TEXT NOT NULL,"
                           " UNIQUE (migration_set, name))")
        async with conn.cursor(row_factory=tuple_row) as cursor:
            await cursor.execute("SELECT name FROM flowbox_migrations WHERE migration_set = %s", [MIGRATION_SET])
            applied = {name for (name,) in await cursor.fetchall()}
        unknown = sorted(applied - set(schema.names()))
        if unknown:
            raise StoreError(f"database has migrations this flowbox does not know ({', '.join(unknown)});"
                             " it was written by a newer version")
        pending = [m for m in schema.MIGRATIONS if m.name not in applied]
        for migration in pending:
            for sql in schema.statements(migration, "postgres"):
                await conn.execute(sql)
            await conn.execute("INSERT INTO flowbox_migrations (migration_set, name, applied_at)"
                               " VALUES (%s, %s, %s)", [MIGRATION_SET, migration.name, str(datetime.now(UTC))])
    return [m.name for m in pending]


class PostgresStore(SqlStore):
    """The Store in a PostgreSQL database given by a libpq URL (`postgresql://user@host/db`)."""

    _search_sql = "strpos(lower(name), ?) > 0"
    _lock_rows = " FOR UPDATE"  # several processes may change users at once

    migrations_table = "flowbox_migrations"

    @classmethod
    def from_url(cls, url: str, *, server: bool = False) -> PostgresStore:
        """`open_store`'s door for postgresql:// and postgres:// URLs (the same in a server)."""
        return cls(url)

    def __init__(self, url: str, *, connect_timeout: int = 10) -> None:
        self.url = url
        self.connect_timeout = connect_timeout
        self._conn: psycopg.AsyncConnection[Row] | None = None
        self._opened = False
        self._lock = asyncio.Lock()

    async def open(self) -> None:
        """Connect and apply pending migrations."""
        async with self._lock:
            conn = await self._connect()
            try:
                await apply_migrations(conn)
            except psycopg.Error as exc:
                raise StoreError(f"migrating PostgreSQL failed: {exc}") from exc
            self._opened = True

    async def _connect(self) -> psycopg.AsyncConnection[Row]:
        """(Re)connect; called under the lock."""
        if self._conn is not None and not self._conn.closed and not self._conn.broken:
            return self._conn
        try:
            conn = await psycopg.AsyncConnection.connect(self.url, autocommit=True, row_factory=dict_row,
                                                         connect_timeout=self.connect_timeout)
            set_json_dumps(_dumps_jsonb, context=conn)
            set_json_loads(_loads_jsonb, context=conn)
            conn.adapters.register_dumper(str, _NulSafeStrDumper)
            conn.adapters.register_loader("text", _NulSafeTextLoader)
            await conn.execute("SET TIME ZONE 'UTC'")
        except psycopg.Error as exc:
            raise StoreError(f"cannot connect to PostgreSQL: {exc}") from exc
        self._conn = conn
        return conn

    async def close(self) -> None:
        async with self._lock:
            if self._conn is not None:
                await self._conn.close()
            self._conn = None
            self._opened = False

    def _json(self, obj: Any) -> Any:
        return None if obj is None else Jsonb(obj)

    def _json_text(self, column: str, key: str) -> tuple[str, Any]:
        return f"({column} ->> ?)", key

    def _from_json(self, value: Any) -> Any:
        return value

    def _time(self, dt: datetime | None) -> Any:
        return utc(dt)

    def _from_time(self, value: Any) -> datetime | None:
        return utc(value)

    @asynccontextmanager
    async def _session(self, transaction: bool) -> AsyncIterator[Db]:
        if not self._opened:
            raise StoreError("store is not open")
        try:
            async with self._lock:
                conn = await self._connect()
                if transaction:
                    async with conn.transaction():
                        yield _PgDb(conn)
                else:
                    yield _PgDb(conn)
        except psycopg.errors.UniqueViolation as exc:
            raise Conflict(str(exc)) from exc
        except psycopg.Error as exc:
            raise StoreError(str(exc)) from exc

    def _tx(self) -> Any:
        return self._session(True)

    def _read(self) -> Any:
        return self._session(False)


STORE = PostgresStore  # what `flowbox.store.open_store` opens for postgresql:// URLs
