"""SqliteStore: the default Store, one SQLite file in WAL mode.

`SqlStore` holds the Store logic in portable SQL (`?` placeholders); `SqliteStore` and
`flowbox.store.postgres.PostgresStore` only supply connections, transactions and the
encoding of JSON and timestamps, so both behave the same by construction.

SQLite has one writer, as in datasette: a dedicated aiosqlite connection (its own
thread) runs every write as `BEGIN IMMEDIATE ... COMMIT` under an `asyncio.Lock`,
since all coroutines share it; a second connection serves reads, which WAL lets run
beside a write. Every write is committed before its call returns.
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import sqlite3
import threading
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol, TypeVar

import aiosqlite
import orjson

from flowbox.errors import Conflict, NotFound, StoreError
from flowbox.store.base import (
    EXECUTION_STATUSES,
    ApiKeyRecord,
    AuditEntry,
    CredentialRecord,
    ExecutionRecord,
    NodeRun,
    Page,
    SessionRecord,
    UserRecord,
    WorkflowRecord,
    WorkflowVersion,
    new_id,
)
from flowbox.store.migrations import apply_migrations

Row = dict[str, Any]
T = TypeVar("T")
FINISHED = ("success", "error", "canceled", "crashed")
_IN_FINISHED = "(" + ", ".join(f"'{s}'" for s in FINISHED) + ")"


def utc(dt: datetime | None) -> datetime | None:
    """`dt` as an aware UTC datetime (a naive one is taken to be UTC already)."""
    if dt is None or dt.tzinfo is UTC:
        return dt
    return dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt.astimezone(UTC)


def iso(dt: datetime | None) -> str | None:
    """ISO-8601 UTC text with microseconds, so stored times sort as text."""
    value = utc(dt)
    return value.isoformat(timespec="microseconds") if value else None


def from_iso(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


def dumps(obj: Any) -> bytes:
    return orjson.dumps(obj, option=orjson.OPT_NON_STR_KEYS)


def encode_run(run: NodeRun) -> bytes:
    """A NodeRun's payload (all but node and run_index, which have columns) as one orjson blob."""
    return dumps({"outputs": run.outputs, "binary": run.binary, "paired": run.paired, "error": run.error,
                  "started_at": utc(run.started_at), "finished_at": utc(run.finished_at), "source": run.source})


def decode_run(node: str, run_index: int, blob: bytes) -> NodeRun:
    d = orjson.loads(blob)
    return NodeRun(node=node, run_index=run_index, outputs=d["outputs"], error=d.get("error"),
                   started_at=from_iso(d.get("started_at")), finished_at=from_iso(d.get("finished_at")),
                   binary=d.get("binary"), paired=d.get("paired"), source=d.get("source"))


def _check_status(status: str) -> None:
    if status not in EXECUTION_STATUSES:
        raise ValueError(f"unknown execution status {status!r}")


def _page(items: list[Any], limit: int) -> Page[Any]:
    """`items` was fetched with `limit + 1` rows: the extra one says there is a next page."""
    if len(items) > limit:
        return Page(items[:limit], items[limit - 1].id)
    return Page(items)


class Db(Protocol):
    """A connection as SqlStore sees it: SQL with `?` placeholders, rows as dicts."""

    async def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        """Run a statement; returns the row count."""

    async def fetch(self, sql: str, params: Sequence[Any] = ()) -> list[Row]: ...


class SqlStore:
    """The Store logic shared by SqliteStore and PostgresStore.

    Subclasses provide `_tx()` (a write transaction), `_read()` (a connection for
    reads), the JSON and timestamp codecs and `_search_sql`.
    """

    _search_sql = "instr(lower(name), ?) > 0"

    def _tx(self) -> Any:
        """An async context manager yielding a `Db` inside one committed transaction."""
        raise NotImplementedError

    def _read(self) -> Any:
        """An async context manager yielding a `Db` for reads."""
        raise NotImplementedError

    def _statement(self) -> Any:
        """Like `_tx()` for a single statement; backends may send it without BEGIN/COMMIT round trips."""
        return self._tx()

    def _json(self, obj: Any) -> Any:
        return None if obj is None else dumps(obj).decode()

    def _from_json(self, value: Any) -> Any:
        return None if value is None else orjson.loads(value)

    def _time(self, dt: datetime | None) -> Any:
        return iso(dt)

    def _from_time(self, value: Any) -> datetime | None:
        return from_iso(value)

    async def _one(self, table: str, kind: str, column: str, value: Any, convert: Callable[[Row], T]) -> T:
        """The one row of `table` whose `column` is `value`, converted; NotFound(kind, value) otherwise."""
        async with self._read() as db:
            rows = await db.fetch(f"SELECT * FROM {table} WHERE {column} = ?", [value])
        if not rows:
            raise NotFound(kind, value)
        return convert(rows[0])

    async def _newest_first(self, select: str, where: list[str], params: list[Any], limit: int,
                            cursor: str | None, convert: Callable[[Row], T], id_column: str = "id") -> Page[T]:
        """One page of `select ... WHERE <where>` newest first; `cursor` is the last id of the previous page."""
        if cursor:
            where = [*where, f"{id_column} < ?"]
            params = [*params, cursor]
        condition = " AND ".join(where) or "1 = 1"
        async with self._read() as db:
            rows = await db.fetch(f"{select} WHERE {condition} ORDER BY {id_column} DESC LIMIT ?",
                                  [*params, max(limit, 1) + 1])
        return _page([convert(row) for row in rows], max(limit, 1))

    # workflows

    def _workflow(self, row: Row) -> WorkflowRecord:
        return WorkflowRecord(id=row["id"], name=row["name"], data=self._from_json(row["data"]),
                              active=bool(row["active"]), version=row["version"],
                              created_at=self._from_time(row["created_at"]),
                              updated_at=self._from_time(row["updated_at"]), owner_id=row["owner_id"])

    async def create_workflow(self, name: str, data: dict[str, Any], active: bool = False,
                              id: str | None = None, owner_id: str | None = None) -> WorkflowRecord:
        """A new workflow at version 1; `data["name"]` is set to `name`. A taken `id` raises Conflict."""
        record = WorkflowRecord(id=id or new_id(), name=name, data={**data, "name": name}, active=active,
                                version=1, created_at=datetime.now(UTC), owner_id=owner_id)
        record.updated_at = record.created_at
        try:
            async with self._tx() as db:
                await db.execute(
                    "INSERT INTO workflows (id, name, data, active, version, created_at, updated_at, owner_id)"
                    " VALUES (?, ?, ?, ?, 1, ?, ?, ?)",
                    [record.id, name, self._json(record.data), active, self._time(record.created_at),
                     self._time(record.created_at), owner_id])
        except Conflict:
            raise Conflict(f"workflow {record.id!r} already exists", id=record.id) from None
        return record

    async def update_workflow(self, id: str, *, name: str | None = None, data: dict[str, Any] | None = None,
                              active: bool | None = None) -> WorkflowRecord:
        """Change name, data and/or active. `data["name"]` always follows the name.

        When the stored data changes (new data or a rename), `version` goes up by one and
        the previous data is kept in `workflow_versions`.
        """
        now = datetime.now(UTC)
        async with self._tx() as db:
            rows = await db.fetch("SELECT * FROM workflows WHERE id = ?", [id])
            if not rows:
                raise NotFound("workflow", id)
            old = self._workflow(rows[0])
            new_name = old.name if name is None else name
            new_data = {**(old.data if data is None else data), "name": new_name}
            new = WorkflowRecord(id=id, name=new_name, data=new_data, active=old.active if active is None else active,
                                 version=old.version, created_at=old.created_at, updated_at=now,
                                 owner_id=old.owner_id)
            if new.data != old.data:
                await db.execute("INSERT INTO workflow_versions (workflow_id, version, data, created_at)"
                                 " VALUES (?, ?, ?, ?)", [id, old.version, self._json(old.data), self._time(now)])
                new.version += 1
            await db.execute("UPDATE workflows SET name = ?, data = ?, active = ?, version = ?, updated_at = ?"
                             " WHERE id = ?", [new.name, self._json(new.data), new.active, new.version,
                                               self._time(now), id])
        return new

    async def get_workflow(self, id: str) -> WorkflowRecord:
        return await self._one("workflows", "workflow", "id", id, self._workflow)

    async def list_workflows(self, *, search: str | None = None, active: bool | None = None,
                             limit: int = 50, cursor: str | None = None,
                             visible_to: str | None = None) -> Page[WorkflowRecord]:
        """Newest first; `search` matches part of the name, ignoring case; `visible_to` keeps what that
        user owns or was shared."""
        where, params = self._visible("workflow", "id", visible_to)
        if search:
            where.append(self._search_sql)
            params.append(search.lower())
        if active is not None:
            where.append("active = ?")
            params.append(active)
        return await self._newest_first("SELECT * FROM workflows", where, params, limit, cursor, self._workflow)

    async def delete_workflow(self, id: str) -> None:
        """Delete the workflow, its versions and shares (its executions stay)."""
        async with self._tx() as db:
            if not await db.execute("DELETE FROM workflows WHERE id = ?", [id]):
                raise NotFound("workflow", id)
            await db.execute("DELETE FROM workflow_versions WHERE workflow_id = ?", [id])
            await db.execute("DELETE FROM shares WHERE kind = 'workflow' AND resource_id = ?", [id])
            await db.execute("DELETE FROM static_data WHERE workflow_id = ?", [id])

    @staticmethod
    def _visible(kind: str, column: str, user_id: str | None) -> tuple[list[str], list[Any]]:
        """The WHERE part (as `_newest_first` takes it) for rows of `kind` the user owns or was shared."""
        if user_id is None:
            return [], []
        owned = "workflows" if kind == "workflow" else "credentials"
        return ([f"({column} IN (SELECT id FROM {owned} WHERE owner_id = ?)"
                 f" OR {column} IN (SELECT resource_id FROM shares WHERE kind = ? AND user_id = ?))"],
                [user_id, kind, user_id])

    async def list_versions(self, workflow_id: str) -> list[WorkflowVersion]:
        """Previous versions, newest first (the current one is the workflow itself)."""
        async with self._read() as db:
            if not await db.fetch("SELECT id FROM workflows WHERE id = ?", [workflow_id]):
                raise NotFound("workflow", workflow_id)
            rows = await db.fetch("SELECT * FROM workflow_versions WHERE workflow_id = ? ORDER BY version DESC",
                                  [workflow_id])
        return [WorkflowVersion(workflow_id=workflow_id, version=row["version"], data=self._from_json(row["data"]),
                                created_at=self._from_time(row["created_at"]) or datetime.now(UTC))
                for row in rows]

    # executions

    def _execution(self, row: Row) -> ExecutionRecord:
        return ExecutionRecord(
            id=row["id"], workflow_id=row["workflow_id"], status=row["status"], mode=row["mode"],
            started_at=self._from_time(row["started_at"]), finished_at=self._from_time(row["finished_at"]),
            error=self._from_json(row["error"]), last_node=row["last_node"],
            workflow_data=self._from_json(row["workflow_data"]), input=self._from_json(row["input"]),
            retry_of=row["retry_of"], wait_till=self._from_time(row["wait_till"]), start_node=row["start_node"])

    async def create_execution(self, *, workflow_id: str | None, mode: str, status: str = "running",
                               workflow_data: dict[str, Any] | None = None,
                               input: list[dict[str, Any]] | None = None,
                               retry_of: str | None = None, start_node: str | None = None,
                               id: str | None = None) -> ExecutionRecord:
        """A new execution; `started_at` is now when it starts as "running", else set when it goes running."""
        _check_status(status)
        record = ExecutionRecord(id=id or new_id(), workflow_id=workflow_id, status=status, mode=mode,
                                 started_at=datetime.now(UTC) if status == "running" else None,
                                 workflow_data=workflow_data, input=input, retry_of=retry_of,
                                 start_node=start_node)
        async with self._statement() as db:
            await db.execute(
                "INSERT INTO executions (id, workflow_id, status, mode, started_at, workflow_data, input, retry_of,"
                " start_node) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [record.id, workflow_id, status, mode, self._time(record.started_at), self._json(workflow_data),
                 self._json(input), retry_of, start_node])
        return record

    async def set_execution_status(self, id: str, status: str, *, wait_till: datetime | None = None) -> None:
        """Set status and `wait_till`; "running" stamps `started_at`, a final status `finished_at` (once)."""
        _check_status(status)
        now = self._time(datetime.now(UTC))
        sql, params = "UPDATE executions SET status = ?, wait_till = ?", [status, self._time(wait_till)]
        if status == "running":
            sql, params = sql + ", started_at = coalesce(started_at, ?)", [*params, now]
        if status in FINISHED:
            sql, params = sql + ", finished_at = coalesce(finished_at, ?)", [*params, now]
        async with self._statement() as db:
            if not await db.execute(sql + " WHERE id = ?", [*params, id]):
                raise NotFound("execution", id)

    async def claim_execution(self, id: str, from_statuses: tuple[str, ...] = ("queued",)) -> bool:
        marks = ", ".join("?" * len(from_statuses))
        async with self._statement() as db:
            return bool(await db.execute(
                f"UPDATE executions SET status = 'running', started_at = coalesce(started_at, ?), wait_till = NULL"
                f" WHERE id = ? AND status IN ({marks})",
                [self._time(datetime.now(UTC)), id, *from_statuses]))

    _APPEND_RUN = ("INSERT INTO execution_nodes (execution_id, seq, node, run_index, data)"
                   " SELECT ?, coalesce((SELECT max(seq) + 1 FROM execution_nodes WHERE execution_id = ?), 0),"
                   " ?, ?, ? WHERE EXISTS (SELECT 1 FROM executions WHERE id = ?)")

    def _append_params(self, execution_id: str, run: NodeRun) -> list[Any]:
        return [execution_id, execution_id, run.node, run.run_index, encode_run(run), execution_id]

    async def _execute_many(self, statements: list[tuple[str, list[Any]]]) -> list[int]:
        """Several statements as one atomic write; returns their row counts."""
        async with self._tx() as db:
            return [await db.execute(sql, params) for sql, params in statements]

    async def append_node_run(self, execution_id: str, run: NodeRun) -> None:
        """Store one node run after the previous ones: one statement, so one round trip.

        The engine computes the next node while this write runs on the store's thread.
        """
        async with self._statement() as db:
            if not await db.execute(self._APPEND_RUN, self._append_params(execution_id, run)):
                raise NotFound("execution", execution_id)

    async def finish_execution(self, id: str, status: str, *, error: dict[str, Any] | None = None,
                               last_node: str | None = None, runs: Sequence[NodeRun] = ()) -> None:
        """Set the final status, error and `finished_at` (clears `wait_till`), after storing `runs`;
        all in one write."""
        _check_status(status)
        statements = [(self._APPEND_RUN, self._append_params(id, run)) for run in runs]
        statements.append(("UPDATE executions SET status = ?, finished_at = ?, error = ?,"
                           " last_node = coalesce(?, last_node), wait_till = NULL WHERE id = ?",
                           [status, self._time(datetime.now(UTC)), self._json(error), last_node, id]))
        if not (await self._execute_many(statements))[-1]:
            raise NotFound("execution", id)

    async def save_snapshot(self, id: str, data: bytes | None) -> None:
        async with self._tx() as db:
            if data is None:
                await db.execute("DELETE FROM execution_snapshots WHERE execution_id = ?", [id])
            else:
                await db.execute("DELETE FROM execution_snapshots WHERE execution_id = ?", [id])
                await db.execute("INSERT INTO execution_snapshots (execution_id, data) VALUES (?, ?)", [id, data])

    async def get_snapshot(self, id: str) -> bytes | None:
        async with self._read() as db:
            rows = await db.fetch("SELECT data FROM execution_snapshots WHERE execution_id = ?", [id])
        return bytes(rows[0]["data"]) if rows else None

    async def list_due(self, until: datetime, limit: int = 100) -> list[ExecutionRecord]:
        async with self._read() as db:
            rows = await db.fetch("SELECT * FROM executions WHERE status = 'waiting' AND wait_till IS NOT NULL"
                                  " AND wait_till <= ? ORDER BY wait_till LIMIT ?", [self._time(until), limit])
        return [self._execution(row) for row in rows]

    async def get_execution(self, id: str) -> ExecutionRecord:
        async with self._read() as db:
            rows = await db.fetch("SELECT * FROM executions WHERE id = ?", [id])
            if not rows:
                raise NotFound("execution", id)
            runs = await db.fetch("SELECT node, run_index, data FROM execution_nodes WHERE execution_id = ?"
                                  " ORDER BY seq", [id])
        record = self._execution(rows[0])
        for row in runs:
            record.nodes.setdefault(row["node"], []).append(
                decode_run(row["node"], row["run_index"], bytes(row["data"])))
        if record.last_node is None and runs:  # still running: the newest node run so far
            record.last_node = runs[-1]["node"]
        return record

    async def list_executions(self, *, workflow_id: str | None = None, status: str | None = None,
                              limit: int = 50, cursor: str | None = None,
                              visible_to: str | None = None) -> Page[ExecutionRecord]:
        """Newest first; without `nodes`; `visible_to` keeps executions of workflows that user may see."""
        where, params = self._visible("workflow", "e.workflow_id", visible_to)
        if workflow_id is not None:
            where.append("workflow_id = ?")
            params.append(workflow_id)
        if status is not None:
            where.append("status = ?")
            params.append(status)
        select = ("SELECT e.*, coalesce(e.last_node, (SELECT n.node FROM execution_nodes n"
                  " WHERE n.execution_id = e.id ORDER BY n.seq DESC LIMIT 1)) AS live_node FROM executions e")
        return await self._newest_first(select, where, params, limit, cursor, self._listed_execution,
                                        id_column="e.id")

    def _listed_execution(self, row: Row) -> ExecutionRecord:
        """A listed execution: `last_node` is live (the newest node run) while it is still running."""
        return self._execution({**row, "last_node": row["live_node"]})

    async def delete_execution(self, id: str) -> None:
        async with self._tx() as db:
            if not await db.execute("DELETE FROM executions WHERE id = ?", [id]):
                raise NotFound("execution", id)
            await db.execute("DELETE FROM execution_nodes WHERE execution_id = ?", [id])
            await db.execute("DELETE FROM execution_snapshots WHERE execution_id = ?", [id])

    PRUNE_BATCH = 1000  # executions deleted per transaction: other writes (webhooks) interleave

    async def prune_executions(self, *, older_than: datetime | None = None, keep: int | None = None) -> int:
        """Delete finished executions (success, error, canceled, crashed) that finished before
        `older_than` or are not among the newest `keep` executions (of any status); returns the count.
        Deletes in batches of `PRUNE_BATCH`, one transaction each, so a big prune (a restart after heavy
        use) never holds the writer for long."""
        conditions: list[str] = []
        params: list[Any] = []
        if older_than is not None:
            conditions.append("finished_at < ?")
            params.append(self._time(older_than))
        if keep is not None:
            async with self._read() as db:
                first_gone = await db.fetch("SELECT id FROM executions ORDER BY id DESC LIMIT 1 OFFSET ?",
                                            [max(keep, 0)])
            if first_gone:
                conditions.append("id <= ?")
                params.append(first_gone[0]["id"])
        if not conditions:
            return 0
        total = 0
        while True:
            async with self._tx() as db:
                rows = await db.fetch(f"SELECT id FROM executions WHERE status IN {_IN_FINISHED}"
                                      f" AND ({' OR '.join(conditions)}) ORDER BY id LIMIT ?",
                                      [*params, self.PRUNE_BATCH])
                ids = [row["id"] for row in rows]
                for start in range(0, len(ids), 500):
                    chunk = ids[start:start + 500]
                    marks = ", ".join("?" * len(chunk))
                    await db.execute(f"DELETE FROM executions WHERE id IN ({marks})", chunk)
                    await db.execute(f"DELETE FROM execution_nodes WHERE execution_id IN ({marks})", chunk)
            total += len(ids)
            if len(ids) < self.PRUNE_BATCH:
                return total

    # variables

    async def get_variables(self) -> dict[str, str]:
        async with self._read() as db:
            rows = await db.fetch("SELECT key, value FROM variables ORDER BY key")
        return {row["key"]: row["value"] for row in rows}

    async def set_variable(self, key: str, value: str) -> None:
        async with self._tx() as db:
            await db.execute("INSERT INTO variables (key, value) VALUES (?, ?)"
                             " ON CONFLICT (key) DO UPDATE SET value = excluded.value", [key, value])

    async def delete_variable(self, key: str) -> None:
        async with self._tx() as db:
            if not await db.execute("DELETE FROM variables WHERE key = ?", [key]):
                raise NotFound("variable", key)

    # credentials (`data` is the encrypted blob; this class never sees clear text)

    def _credential(self, row: Row) -> CredentialRecord:
        return CredentialRecord(id=row["id"], name=row["name"], type=row["type"], data=bytes(row["data"]),
                                created_at=self._from_time(row["created_at"]),
                                updated_at=self._from_time(row["updated_at"]), owner_id=row["owner_id"])

    async def create_credential(self, name: str, type: str, data: bytes, id: str | None = None,
                                owner_id: str | None = None) -> CredentialRecord:
        """A new credential; a taken `id` raises Conflict."""
        now = datetime.now(UTC)
        record = CredentialRecord(id=id or new_id(), name=name, type=type, data=bytes(data), created_at=now,
                                  updated_at=now, owner_id=owner_id)
        try:
            async with self._statement() as db:
                await db.execute("INSERT INTO credentials (id, name, type, data, created_at, updated_at, owner_id)"
                                 " VALUES (?, ?, ?, ?, ?, ?, ?)",
                                 [record.id, name, type, record.data, self._time(now), self._time(now), owner_id])
        except Conflict:
            raise Conflict(f"credential {record.id!r} already exists", id=record.id) from None
        return record

    async def get_credential(self, id: str) -> CredentialRecord:
        return await self._one("credentials", "credential", "id", id, self._credential)

    async def list_credentials(self, *, type: str | None = None, limit: int = 50,
                               cursor: str | None = None, visible_to: str | None = None) -> Page[CredentialRecord]:
        """Newest first, optionally of one type; `visible_to` as for workflows."""
        where, params = self._visible("credential", "id", visible_to)
        if type:
            where.append("type = ?")
            params.append(type)
        return await self._newest_first("SELECT * FROM credentials", where, params, limit, cursor, self._credential)

    async def update_credential(self, id: str, *, name: str | None = None, data: bytes | None = None
                                ) -> CredentialRecord:
        now = datetime.now(UTC)
        async with self._tx() as db:
            rows = await db.fetch("SELECT * FROM credentials WHERE id = ?", [id])
            if not rows:
                raise NotFound("credential", id)
            old = self._credential(rows[0])
            new = CredentialRecord(id=id, name=old.name if name is None else name, type=old.type,
                                   data=old.data if data is None else bytes(data), created_at=old.created_at,
                                   updated_at=now, owner_id=old.owner_id)
            await db.execute("UPDATE credentials SET name = ?, data = ?, updated_at = ? WHERE id = ?",
                             [new.name, new.data, self._time(now), id])
        return new

    async def delete_credential(self, id: str) -> None:
        async with self._tx() as db:
            if not await db.execute("DELETE FROM credentials WHERE id = ?", [id]):
                raise NotFound("credential", id)
            await db.execute("DELETE FROM shares WHERE kind = 'credential' AND resource_id = ?", [id])

    async def all_credentials(self) -> list[CredentialRecord]:
        async with self._read() as db:
            rows = await db.fetch("SELECT * FROM credentials ORDER BY id")
        return [self._credential(row) for row in rows]

    async def reencrypt_credentials(self, transform: Callable[[str, bytes], bytes]) -> int:
        """Every blob replaced by `transform(id, blob)` in one transaction (all or nothing)."""
        async with self._tx() as db:
            rows = await db.fetch("SELECT id, data FROM credentials ORDER BY id")
            for row in rows:
                await db.execute("UPDATE credentials SET data = ? WHERE id = ?",
                                 [transform(row["id"], bytes(row["data"])), row["id"]])
        return len(rows)

    # users and API keys (`flowbox.auth`: only hashes are stored)

    def _user(self, row: Row, prefix: str = "") -> UserRecord:
        return UserRecord(id=row[prefix + "id"], email=row[prefix + "email"], role=row[prefix + "role"],
                          password_hash=row[prefix + "password_hash"],
                          created_at=self._from_time(row[prefix + "created_at"]))

    def _api_key(self, row: Row) -> ApiKeyRecord:
        return ApiKeyRecord(id=row["id"], user_id=row["user_id"], prefix=row["prefix"], key_hash=row["key_hash"],
                            name=row["name"], created_at=self._from_time(row["created_at"]))

    async def create_user(self, email: str, role: str, password_hash: str, id: str | None = None) -> UserRecord:
        """A new user; an email already taken (case-insensitively) raises Conflict."""
        now = datetime.now(UTC)
        record = UserRecord(id=id or new_id(), email=email.strip().lower(), role=role, password_hash=password_hash,
                            created_at=now)
        try:
            async with self._statement() as db:
                await db.execute("INSERT INTO users (id, email, role, password_hash, created_at)"
                                 " VALUES (?, ?, ?, ?, ?)",
                                 [record.id, record.email, role, password_hash, self._time(now)])
        except Conflict:
            raise Conflict(f"user {record.email!r} already exists", email=record.email) from None
        return record

    async def get_user(self, id: str) -> UserRecord:
        return await self._one("users", "user", "id", id, self._user)

    async def get_user_by_email(self, email: str) -> UserRecord:
        return await self._one("users", "user", "email", email.strip().lower(), self._user)

    async def list_users(self) -> list[UserRecord]:
        async with self._read() as db:
            rows = await db.fetch("SELECT * FROM users ORDER BY id")
        return [self._user(row) for row in rows]

    async def count_users(self) -> int:
        async with self._read() as db:
            rows = await db.fetch("SELECT count(*) AS n FROM users")
        return int(rows[0]["n"])

    async def update_user(self, id: str, *, role: str | None = None, password_hash: str | None = None
                          ) -> UserRecord:
        async with self._tx() as db:
            rows = await db.fetch("SELECT * FROM users WHERE id = ?", [id])
            if not rows:
                raise NotFound("user", id)
            old = self._user(rows[0])
            new = UserRecord(id=id, email=old.email, role=old.role if role is None else role,
                             password_hash=old.password_hash if password_hash is None else password_hash,
                             created_at=old.created_at)
            await db.execute("UPDATE users SET role = ?, password_hash = ? WHERE id = ?",
                             [new.role, new.password_hash, id])
        return new

    async def create_api_key(self, user_id: str, prefix: str, key_hash: str, name: str = "",
                             id: str | None = None) -> ApiKeyRecord:
        """A new key of an existing user (NotFound otherwise)."""
        now = datetime.now(UTC)
        record = ApiKeyRecord(id=id or new_id(), user_id=user_id, prefix=prefix, key_hash=key_hash, name=name,
                              created_at=now)
        async with self._tx() as db:
            if not await db.fetch("SELECT id FROM users WHERE id = ?", [user_id]):
                raise NotFound("user", user_id)
            await db.execute("INSERT INTO api_keys (id, user_id, prefix, key_hash, name, created_at)"
                             " VALUES (?, ?, ?, ?, ?, ?)",
                             [record.id, user_id, prefix, key_hash, name, self._time(now)])
        return record

    async def find_api_key(self, key_hash: str) -> tuple[ApiKeyRecord, UserRecord] | None:
        async with self._read() as db:
            rows = await db.fetch(
                "SELECT k.*, u.id AS u_id, u.email AS u_email, u.role AS u_role,"
                " u.password_hash AS u_password_hash, u.created_at AS u_created_at"
                " FROM api_keys k JOIN users u ON u.id = k.user_id WHERE k.key_hash = ?", [key_hash])
        if not rows:
            return None
        return self._api_key(rows[0]), self._user(rows[0], "u_")

    async def list_api_keys(self, user_id: str | None = None) -> list[ApiKeyRecord]:
        async with self._read() as db:
            if user_id is None:
                rows = await db.fetch("SELECT * FROM api_keys ORDER BY id")
            else:
                rows = await db.fetch("SELECT * FROM api_keys WHERE user_id = ? ORDER BY id", [user_id])
        return [self._api_key(row) for row in rows]

    async def delete_api_key(self, id: str) -> None:
        async with self._statement() as db:
            if not await db.execute("DELETE FROM api_keys WHERE id = ?", [id]):
                raise NotFound("api key", id)

    # sharing

    async def get_shares(self, kind: str, resource_id: str) -> list[str]:
        async with self._read() as db:
            rows = await db.fetch("SELECT user_id FROM shares WHERE kind = ? AND resource_id = ? ORDER BY user_id",
                                  [kind, resource_id])
        return [row["user_id"] for row in rows]

    async def set_shares(self, kind: str, resource_id: str, user_ids: Sequence[str]) -> None:
        wanted = sorted(set(user_ids))
        async with self._tx() as db:
            for user_id in wanted:
                if not await db.fetch("SELECT id FROM users WHERE id = ?", [user_id]):
                    raise NotFound("user", user_id)
            await db.execute("DELETE FROM shares WHERE kind = ? AND resource_id = ?", [kind, resource_id])
            for user_id in wanted:
                await db.execute("INSERT INTO shares (kind, resource_id, user_id) VALUES (?, ?, ?)",
                                 [kind, resource_id, user_id])

    # editor sessions (`flowbox.sessions`: only the sha256 of the cookie's token is stored)

    def _session_record(self, row: Row) -> SessionRecord:
        return SessionRecord(id=row["id"], user_id=row["user_id"], csrf=row["csrf"],
                             expires_at=self._from_time(row["expires_at"]) or datetime.now(UTC),
                             created_at=self._from_time(row["created_at"]), ip=row["ip"],
                             user_agent=row["user_agent"])

    async def create_session(self, session: SessionRecord) -> None:
        async with self._statement() as db:
            await db.execute("INSERT INTO sessions (id, user_id, csrf, created_at, expires_at, ip, user_agent)"
                             " VALUES (?, ?, ?, ?, ?, ?, ?)",
                             [session.id, session.user_id, session.csrf,
                              self._time(session.created_at or datetime.now(UTC)), self._time(session.expires_at),
                              session.ip, session.user_agent])

    async def find_session(self, id: str, now: datetime) -> tuple[SessionRecord, UserRecord] | None:
        async with self._read() as db:
            rows = await db.fetch(
                "SELECT s.*, u.id AS u_id, u.email AS u_email, u.role AS u_role,"
                " u.password_hash AS u_password_hash, u.created_at AS u_created_at"
                " FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.id = ? AND s.expires_at > ?",
                [id, self._time(now)])
        if not rows:
            return None
        return self._session_record(rows[0]), self._user(rows[0], "u_")

    async def delete_session(self, id: str) -> None:
        async with self._statement() as db:
            await db.execute("DELETE FROM sessions WHERE id = ?", [id])

    async def delete_sessions(self, *, user_id: str | None = None, expired_before: datetime | None = None) -> int:
        where, params = [], []
        if user_id is not None:
            where.append("user_id = ?")
            params.append(user_id)
        if expired_before is not None:
            where.append("expires_at <= ?")
            params.append(self._time(expired_before))
        if not where:
            raise ValueError("delete_sessions needs user_id and/or expired_before")
        async with self._statement() as db:
            return await db.execute(f"DELETE FROM sessions WHERE {' OR '.join(where)}", params)

    # static data of trigger nodes (`flowbox.listeners`)

    async def get_static_data(self, workflow_id: str, node: str) -> dict[str, Any]:
        async with self._read() as db:
            rows = await db.fetch("SELECT data FROM static_data WHERE workflow_id = ? AND node = ?",
                                  [workflow_id, node])
        return (self._from_json(rows[0]["data"]) or {}) if rows else {}

    async def set_static_data(self, workflow_id: str, node: str, data: dict[str, Any] | None) -> None:
        """One statement through `_statement()` (on SQLite it joins the group commit)."""
        async with self._statement() as db:
            if data is None:
                await db.execute("DELETE FROM static_data WHERE workflow_id = ? AND node = ?", [workflow_id, node])
                return
            await db.execute("INSERT INTO static_data (workflow_id, node, data, updated_at) VALUES (?, ?, ?, ?)"
                             " ON CONFLICT (workflow_id, node) DO UPDATE SET data = excluded.data,"
                             " updated_at = excluded.updated_at",
                             [workflow_id, node, self._json(data), self._time(datetime.now(UTC))])

    # audit log (`flowbox.audit`): append-only

    def _audit(self, row: Row) -> AuditEntry:
        return AuditEntry(id=row["id"], at=self._from_time(row["at"]), actor=row["actor"], action=row["action"],
                          target_kind=row["target_kind"], target_id=row["target_id"], ip=row["ip"],
                          details=self._from_json(row["details"]) or {})

    async def append_audit(self, entry: AuditEntry) -> AuditEntry:
        """One INSERT through `_statement()`, so under load it joins the group commit."""
        entry.id = entry.id or new_id()
        entry.at = entry.at or datetime.now(UTC)
        async with self._statement() as db:
            await db.execute("INSERT INTO audit (id, at, actor, action, target_kind, target_id, ip, details)"
                             " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                             [entry.id, self._time(entry.at), entry.actor, entry.action, entry.target_kind,
                              entry.target_id, entry.ip, self._json(entry.details or {})])
        return entry

    async def list_audit(self, *, action: str | None = None, actor: str | None = None, limit: int = 50,
                         cursor: str | None = None) -> Page[AuditEntry]:
        """Newest first; `action` exact, or a prefix when it ends with "*"."""
        where: list[str] = []
        params: list[Any] = []
        if action and action.endswith("*"):
            prefix = action[:-1]
            where.append("substr(action, 1, ?) = ?")
            params.extend([len(prefix), prefix])
        elif action:
            where.append("action = ?")
            params.append(action)
        if actor:
            where.append("actor = ?")
            params.append(actor)
        return await self._newest_first("SELECT * FROM audit", where, params, limit, cursor, self._audit)

    async def __aenter__(self) -> SqlStore:
        await self.open()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def open(self) -> None:
        raise NotImplementedError

    async def close(self) -> None:
        raise NotImplementedError


class _SqliteDb:
    """An aiosqlite connection as a `Db`."""

    def __init__(self, conn: aiosqlite.Connection) -> None:
        self.conn = conn

    async def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        cursor = await self.conn.execute(sql, params)
        return cursor.rowcount

    async def fetch(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        return list(await self.conn.execute_fetchall(sql, params))


def _dict_row(cursor: sqlite3.Cursor, row: tuple[Any, ...]) -> Row:
    return {col[0]: value for col, value in zip(cursor.description, row, strict=True)}


def _lower(value: str | None) -> str | None:
    return value.lower() if isinstance(value, str) else value


class _Writer(threading.Thread):
    """The one connection that writes, on its own thread (datasette's `_execute_writes` shape).

    Single statements queued by any number of coroutines are committed together: the
    thread takes everything waiting, runs each under a SAVEPOINT (so one failing
    statement fails only its caller) inside ONE transaction, commits, then answers
    every caller. A multi-statement transaction runs as a session: the thread executes
    the session's statements one by one as its coroutine sends them, inside the same
    group. Nobody is answered before the COMMIT that holds their write.
    """

    MAX_GROUP = 1000

    def __init__(self, connect: Callable[[], sqlite3.Connection]) -> None:
        super().__init__(name="flowbox-sqlite-writer", daemon=True)
        self._connect = connect
        self.jobs: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self.ready = threading.Event()
        self.error: BaseException | None = None

    def submit(self, op: Callable[[sqlite3.Connection], Any]) -> asyncio.Future[Any]:
        future = asyncio.get_running_loop().create_future()
        self.jobs.put((op, future))
        return future

    def run(self) -> None:
        try:
            conn = self._connect()
        except BaseException as exc:  # reported by open()
            self.error = exc
            self.ready.set()
            return
        self.ready.set()
        try:
            while True:
                job = self.jobs.get()
                if job is None:
                    return
                group = [job]
                while len(group) < self.MAX_GROUP:
                    try:
                        nxt = self.jobs.get_nowait()
                    except queue.Empty:
                        break
                    if nxt is None:
                        self.jobs.put(None)  # stop after this group
                        break
                    group.append(nxt)
                self._commit_group(conn, group)
        finally:
            conn.close()

    def _commit_group(self, conn: sqlite3.Connection, group: list[Any]) -> None:
        outcomes: list[tuple[asyncio.Future[Any], Any, BaseException | None]] = []
        try:
            conn.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            for _, future in group:
                _settle(future, None, exc)
            return
        for op, future in group:
            conn.execute("SAVEPOINT op")
            try:
                result = op(conn)
            except BaseException as exc:  # this caller's statement failed; the others go on
                conn.execute("ROLLBACK TO op")
                conn.execute("RELEASE op")
                outcomes.append((future, None, exc))
            else:
                conn.execute("RELEASE op")
                outcomes.append((future, result, None))
        try:
            conn.execute("COMMIT")
        except sqlite3.Error as exc:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            outcomes = [(future, None, exc) for future, _, _ in outcomes]
        for future, result, error in outcomes:
            _settle(future, result, error)


def _settle(future: asyncio.Future[Any], result: Any, error: BaseException | None) -> None:
    def done() -> None:
        if future.done():
            return
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(result)

    with contextlib.suppress(RuntimeError):  # the caller's loop is gone (process exiting): nobody waits
        future.get_loop().call_soon_threadsafe(done)


class _WriteDb:
    """A `Db` whose statements run on the writer thread as one grouped operation each."""

    def __init__(self, writer: _Writer) -> None:
        self.writer = writer

    async def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        return await self.writer.submit(lambda conn: conn.execute(sql, params).rowcount)

    async def fetch(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        return await self.writer.submit(lambda conn: conn.execute(sql, params).fetchall())


class _SessionDb:
    """A `Db` for one multi-statement transaction: statements go to a session op on the writer thread."""

    def __init__(self) -> None:
        self.requests: queue.SimpleQueue[Any] = queue.SimpleQueue()

    async def _send(self, request: tuple[str, str, Sequence[Any]]) -> Any:
        future = asyncio.get_running_loop().create_future()
        self.requests.put((request, future))
        return await future

    async def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        return await self._send(("execute", sql, params))

    async def fetch(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        return await self._send(("fetch", sql, params))

    def serve(self, conn: sqlite3.Connection) -> None:
        """Runs on the writer thread: execute requests until the coroutine ends the session."""
        while True:
            request, future = self.requests.get()
            if request is None:
                if future is not None:  # the session body failed: roll its statements back
                    raise _SessionAborted
                return
            kind, sql, params = request
            try:
                cursor = conn.execute(sql, params)
                result = cursor.rowcount if kind == "execute" else cursor.fetchall()
            except BaseException as exc:
                _settle(future, None, exc)
            else:
                _settle(future, result, None)


class _SessionAborted(Exception):
    pass


@contextlib.contextmanager
def _sqlite_errors() -> Iterator[None]:
    """SQLite errors as flowbox errors: a constraint violation -> Conflict, anything else -> StoreError."""
    try:
        yield
    except sqlite3.IntegrityError as exc:
        raise Conflict(str(exc)) from exc
    except sqlite3.Error as exc:
        raise StoreError(str(exc)) from exc


class SqliteStore(SqlStore):
    """The Store in one SQLite file (created with its folder if missing)."""

    _search_sql = "instr(flowbox_lower(name), ?) > 0"  # SQLite's lower() only folds ASCII
    wal_truncate_bytes = 64 * 1024 * 1024  # = journal_size_limit: a WAL past it is emptied in a pause

    def __init__(self, path: str | Path, *, busy_timeout_ms: int = 5000, checkpoint_interval: float | None = None
                 ) -> None:
        """`checkpoint_interval`: copy the WAL into the database from a thread of its own every so many
        seconds (PASSIVE, so commits never wait on it) instead of inside whichever commit crosses
        SQLite's threshold; for servers, where that commit would stall its callers."""
        if str(path) in ("", ":memory:"):
            raise StoreError("SqliteStore needs a file path (it opens the file more than once)")
        self.path = Path(path)
        self.busy_timeout_ms = busy_timeout_ms
        self.checkpoint_interval = checkpoint_interval
        self._checkpoints: threading.Event | None = None
        self._writer: _Writer | None = None
        self._reader: _SqliteDb | None = None

    async def open(self) -> None:
        """Create the folder, apply pending migrations (WAL on), start the writer thread, open the reader."""
        if self._writer is not None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        await asyncio.to_thread(apply_migrations, self.path)
        writer = _Writer(self._connect_writer)
        writer.start()
        await asyncio.to_thread(writer.ready.wait)
        if writer.error is not None:
            raise StoreError(f"cannot open {str(self.path)!r}: {writer.error}") from writer.error
        self._writer = writer
        self._reader = _SqliteDb(await self._connect())
        if self.checkpoint_interval:
            self._checkpoints = threading.Event()
            threading.Thread(target=self._checkpoint_loop, args=(self._checkpoints, self.checkpoint_interval),
                             name="flowbox-sqlite-checkpoint", daemon=True).start()

    def _checkpoint_loop(self, stop: threading.Event, interval: float) -> None:
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        conn.execute(f"PRAGMA busy_timeout = {int(self.busy_timeout_ms)}")
        try:
            wal = Path(f"{self.path}-wal")
            last = -1
            while not stop.wait(interval):
                with contextlib.suppress(sqlite3.Error, OSError):
                    _, frames, copied = conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
                    # Everything copied and the file grew past the limit: empty it here when writes have
                    # paused (or it got huge), not in the next writer's request: cutting a ~300 MB WAL
                    # there took ~70 ms, the p99 after every pause in traffic.
                    size = wal.stat().st_size if frames > 0 and copied == frames else 0
                    if size > self.wal_truncate_bytes and (frames == last or size > 4 * self.wal_truncate_bytes):
                        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
                    last = frames
        finally:
            conn.close()

    def _connect_writer(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        conn.row_factory = _dict_row
        conn.execute(f"PRAGMA busy_timeout = {int(self.busy_timeout_ms)}")
        conn.execute("PRAGMA synchronous = NORMAL")
        if self.checkpoint_interval:
            conn.execute("PRAGMA wal_autocheckpoint = 0")
            conn.execute("PRAGMA journal_size_limit = 67108864")
        conn.create_function("flowbox_lower", 1, _lower, deterministic=True)
        return conn

    async def _connect(self) -> aiosqlite.Connection:
        try:
            conn = await aiosqlite.connect(self.path, isolation_level=None)
            conn.row_factory = _dict_row
            await conn.execute(f"PRAGMA busy_timeout = {int(self.busy_timeout_ms)}")
            await conn.execute("PRAGMA synchronous = NORMAL")
            await conn.create_function("flowbox_lower", 1, _lower, deterministic=True)
        except sqlite3.Error as exc:
            raise StoreError(f"cannot open {str(self.path)!r}: {exc}") from exc
        return conn

    async def close(self) -> None:
        """Finish every queued write, then stop the writer thread and close the reader."""
        if self._checkpoints is not None:
            self._checkpoints.set()
            self._checkpoints = None
        if self._writer is not None:
            self._writer.jobs.put(None)
            await asyncio.to_thread(self._writer.join)
        if self._reader is not None:
            await self._reader.conn.close()
        self._writer = self._reader = None

    @property
    def _open_writer(self) -> _Writer:
        if self._writer is None:
            raise StoreError("store is not open")
        return self._writer

    @asynccontextmanager
    async def _tx(self) -> AsyncIterator[Db]:
        """A multi-statement transaction, run as a session on the writer thread (committed with its group)."""
        session = _SessionDb()
        done = self._open_writer.submit(session.serve)
        with _sqlite_errors():
            try:
                yield session
            except BaseException:
                session.requests.put((None, True))
                with contextlib.suppress(_SessionAborted):
                    await done
                raise
            session.requests.put((None, None))
            await done

    async def _execute_many(self, statements: list[tuple[str, list[Any]]]) -> list[int]:
        """One operation on the writer thread (atomic: it runs under its own savepoint)."""
        writer = self._open_writer
        with _sqlite_errors():
            return await writer.submit(lambda conn: [conn.execute(sql, p).rowcount for sql, p in statements])

    @asynccontextmanager
    async def _statement(self) -> AsyncIterator[Db]:
        """Single statements: each one is grouped with other callers' into one commit."""
        writer = self._open_writer
        with _sqlite_errors():
            yield _WriteDb(writer)

    @asynccontextmanager
    async def _read(self) -> AsyncIterator[Db]:
        if self._reader is None:
            raise StoreError("store is not open")
        try:
            yield self._reader
        except sqlite3.Error as exc:
            raise StoreError(str(exc)) from exc
