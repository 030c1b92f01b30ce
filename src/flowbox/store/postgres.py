"""PostgresStore: the Store on PostgreSQL, for scale-out (`flowbox worker`).

Same logic as SqliteStore (`SqlStore`), over one psycopg 3 `AsyncConnection` in
autocommit mode, guarded by an `asyncio.Lock` so a transaction never interleaves with
another coroutine's statements. JSON columns are JSONB (read and written with orjson);
a node run is the same orjson blob as in SQLite, in a BYTEA column. Times are
TIMESTAMPTZ, read back in UTC.

The schema is a list of numbered SQL migrations, recorded in `flowbox_migrations`
(the shape of sqlite-utils' `_sqlite_migrations`) and applied in one transaction under
an advisory lock, so workers starting together do not race. To change the schema,
append `("0002_what", "SQL ...")` to `MIGRATIONS`; never edit an applied one. The
tables live in the connection's current schema (set `options=-csearch_path=...` in the
URL to pick another).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

import orjson
import psycopg
from psycopg.rows import dict_row, tuple_row
from psycopg.types.json import Jsonb, set_json_dumps, set_json_loads

from flowbox.errors import Conflict, StoreError
from flowbox.store.sqlite import Db, Row, SqlStore, dumps, utc

MIGRATION_SET = "flowbox"
_LOCK_KEY = 0x666C6F77626F78  # "flowbox": the advisory lock held while migrating

MIGRATIONS: tuple[tuple[str, str], ...] = (
    ("0001_init", """
CREATE TABLE workflows (
    id TEXT COLLATE "C" PRIMARY KEY,
    name TEXT NOT NULL,
    data JSONB NOT NULL,
    active BOOLEAN NOT NULL DEFAULT false,
    version INTEGER NOT NULL DEFAULT 1,
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL);
CREATE INDEX idx_workflows_active ON workflows (active, id);
CREATE TABLE workflow_versions (
    workflow_id TEXT NOT NULL,
    version INTEGER NOT NULL,
    data JSONB NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (workflow_id, version));
CREATE TABLE executions (
    id TEXT COLLATE "C" PRIMARY KEY,
    workflow_id TEXT,
    status TEXT NOT NULL,
    mode TEXT NOT NULL,
    started_at TIMESTAMPTZ,
    finished_at TIMESTAMPTZ,
    error JSONB,
    last_node TEXT,
    workflow_data JSONB,
    input JSONB,
    retry_of TEXT,
    wait_till TIMESTAMPTZ);
CREATE INDEX idx_executions_workflow ON executions (workflow_id, id);
CREATE INDEX idx_executions_status ON executions (status, id);
CREATE TABLE execution_nodes (
    execution_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    node TEXT NOT NULL,
    run_index INTEGER NOT NULL,
    data BYTEA NOT NULL,
    PRIMARY KEY (execution_id, seq));
CREATE TABLE variables (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""),
    ("0002_start_and_snapshots", """
ALTER TABLE executions ADD COLUMN start_node TEXT;
CREATE INDEX idx_executions_wait ON executions (status, wait_till);
CREATE TABLE execution_snapshots (execution_id TEXT COLLATE "C" PRIMARY KEY, data BYTEA NOT NULL);
"""),
    ("0003_credentials", """
CREATE TABLE credentials (
    id TEXT COLLATE "C" PRIMARY KEY,
    name TEXT NOT NULL,
    type TEXT NOT NULL,
    data BYTEA NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL);
CREATE INDEX idx_credentials_type ON credentials (type, id);
"""),
    ("0004_users_and_api_keys", """
CREATE TABLE users (
    id TEXT COLLATE "C" PRIMARY KEY,
    email TEXT NOT NULL UNIQUE,
    role TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL);
CREATE TABLE api_keys (
    id TEXT COLLATE "C" PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    prefix TEXT NOT NULL,
    key_hash TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL DEFAULT '',
    created_at TIMESTAMPTZ NOT NULL);
CREATE INDEX idx_api_keys_user ON api_keys (user_id, id);
"""),
    ("0005_audit", """
CREATE TABLE audit (
    id TEXT COLLATE "C" PRIMARY KEY,
    at TIMESTAMPTZ NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    target_kind TEXT,
    target_id TEXT,
    ip TEXT,
    details JSONB);
CREATE INDEX idx_audit_action ON audit (action, id);
CREATE INDEX idx_audit_actor ON audit (actor, id);
"""),
    ("0006_sessions_and_sharing", """
CREATE TABLE sessions (
    id TEXT COLLATE "C" PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    csrf TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    expires_at TIMESTAMPTZ NOT NULL,
    ip TEXT,
    user_agent TEXT);
CREATE INDEX idx_sessions_user ON sessions (user_id);
ALTER TABLE workflows ADD COLUMN owner_id TEXT;
ALTER TABLE credentials ADD COLUMN owner_id TEXT;
CREATE TABLE shares (
    kind TEXT NOT NULL,
    resource_id TEXT NOT NULL,
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    PRIMARY KEY (kind, resource_id, user_id));
CREATE INDEX idx_shares_user ON shares (user_id, kind);
"""),
    ("0007_static_data", """
CREATE TABLE static_data (
    workflow_id TEXT COLLATE "C" NOT NULL,
    node TEXT NOT NULL,
    data JSONB NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (workflow_id, node));
"""),
)


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
        unknown = sorted(applied - {name for name, _ in MIGRATIONS})
        if unknown:
            raise StoreError(f"database has migrations this flowbox does not know ({', '.join(unknown)});"
                             " it was written by a newer version")
        pending = [(name, sql) for name, sql in MIGRATIONS if name not in applied]
        for name, sql in pending:
            await conn.execute(sql)
            await conn.execute("INSERT INTO flowbox_migrations (migration_set, name, applied_at)"
                               " VALUES (%s, %s, %s)", [MIGRATION_SET, name, str(datetime.now(UTC))])
    return [name for name, _ in pending]


class PostgresStore(SqlStore):
    """The Store in a PostgreSQL database given by a libpq URL (`postgresql://user@host/db`)."""

    _search_sql = "strpos(lower(name), ?) > 0"

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
            set_json_dumps(dumps, context=conn)
            set_json_loads(orjson.loads, context=conn)
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
