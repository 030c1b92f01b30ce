"""SqlStore: the Store in portable SQL, one implementation for every SQL backend.

`flowbox.store.sqlite.SqliteStore` and `flowbox.store.postgres.PostgresStore` only supply
connections, transactions and the encoding of JSON and timestamps (`SqlBase`'s hooks), so both
behave the same by construction; the tables are `flowbox.store.schema`. Workflows, executions,
variables and trigger static data are here, people and secrets in `flowbox.store.sql_accounts`.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from flowbox.errors import Conflict, NotFound
from flowbox.store.base import (
    ExecutionRecord,
    NodeRun,
    Page,
    WorkflowRecord,
    WorkflowVersion,
    new_id,
)
from flowbox.store.sql_accounts import AccountsSql
from flowbox.store.sqlbase import (
    FINISHED,
    IN_FINISHED,
    Row,
    check_status,
    decode_run,
    encode_run,
)


class SqlStore(AccountsSql):
    """The Store logic shared by SqliteStore and PostgresStore."""

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
            retry_of=row["retry_of"], wait_till=self._from_time(row["wait_till"]), start_node=row["start_node"],
            custom_data=self._from_json(row["custom_data"]))

    async def create_execution(self, *, workflow_id: str | None, mode: str, status: str = "running",
                               workflow_data: dict[str, Any] | None = None,
                               input: list[dict[str, Any]] | None = None,
                               retry_of: str | None = None, start_node: str | None = None,
                               id: str | None = None) -> ExecutionRecord:
        """A new execution; `started_at` is now when it starts as "running", else set when it goes running."""
        check_status(status)
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
        check_status(status)
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
                               last_node: str | None = None, runs: Sequence[NodeRun] = (),
                               custom_data: dict[str, str] | None = None) -> None:
        """Set the final status, error and `finished_at` (clears `wait_till`), after storing `runs`;
        all in one write."""
        check_status(status)
        statements = [(self._APPEND_RUN, self._append_params(id, run)) for run in runs]
        statements.append(("UPDATE executions SET status = ?, finished_at = ?, error = ?,"
                           " last_node = coalesce(?, last_node), wait_till = NULL,"
                           " custom_data = coalesce(?, custom_data) WHERE id = ?",
                           [status, self._time(datetime.now(UTC)), self._json(error), last_node,
                            self._json(custom_data) if custom_data else None, id]))
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
                              limit: int = 50, cursor: str | None = None, visible_to: str | None = None,
                              custom_data: dict[str, str] | None = None) -> Page[ExecutionRecord]:
        """Newest first; without `nodes`; `visible_to` keeps executions of workflows that user may see;
        `custom_data` keeps those whose saved custom data has these values."""
        where, params = self._visible("workflow", "e.workflow_id", visible_to)
        for key, value in (custom_data or {}).items():
            field, param = self._json_text("e.custom_data", key)
            where.append(f"{field} = ?")
            params.extend([param, str(value)])
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

    PRUNE_BATCH = 1000  # most executions deleted per write
    PRUNE_WRITE_BYTES = 256 * 1024  # node-run data deleted per write (at least one execution): ~1-2 ms
    PRUNE_PATIENCE = 10.0  # seconds a prune call stays gentle
    PRUNE_MAX_WRITE = 32 * 1024 * 1024  # the most data one write deletes once patience ran out

    async def prune_executions(self, *, older_than: datetime | None = None, keep: int | None = None,
                               gap: float = 0.0) -> int:
        """Delete finished executions (success, error, canceled, crashed) that finished before
        `older_than` or are not among the newest `keep` executions (of any status), with their node
        runs and snapshots; returns the count.

        Oldest first, in short writes, so that pruning a big backlog never holds the writer for
        long: the ids (and the size of their node-run data) are read first (a read never holds up
        a write), then as many as hold about `PRUNE_WRITE_BYTES` (one execution with a 100 KB body,
        or ~100 small ones; at most `PRUNE_BATCH`) are deleted in one transaction, `gap` seconds
        after the previous one. A call still running after `PRUNE_PATIENCE` seconds has a backlog
        that gentle writes do not clear (executions come in faster): from then on there is no gap
        and each write is twice the size of the one before, up to `PRUNE_MAX_WRITE`; pruning then
        takes its share of the writer from the new executions, which slows their intake. Sized by bytes, not by time: timings taken while the server is busy
        measure the busy server. A finished
        execution never changes status again, so deleting by id is safe; one deleted meanwhile
        counts for nothing.
        """
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
        total, ask, budget = 0, 8, self.PRUNE_WRITE_BYTES
        started = time.monotonic()
        while True:
            async with self._read() as db:
                rows = await db.fetch(
                    "SELECT e.id, (SELECT coalesce(sum(length(n.data)), 0) FROM execution_nodes n"
                    f" WHERE n.execution_id = e.id) AS size FROM executions e WHERE e.status IN {IN_FINISHED}"
                    f" AND ({' OR '.join(conditions)}) ORDER BY e.id LIMIT ?", [*params, ask])
            ids, held = [], 0
            for row in rows:
                if ids and held + int(row["size"]) > budget:
                    break
                ids.append(row["id"])
                held += int(row["size"])
            if ids:
                marks = ", ".join("?" * len(ids))
                gone = "NOT EXISTS (SELECT 1 FROM executions e WHERE e.id = {table}.execution_id)"
                counts = await self._execute_many([
                    (f"DELETE FROM executions WHERE id IN ({marks}) AND status IN {IN_FINISHED}", ids),
                    (f"DELETE FROM execution_nodes WHERE execution_id IN ({marks})"
                     f" AND {gone.format(table='execution_nodes')}", ids),
                    (f"DELETE FROM execution_snapshots WHERE execution_id IN ({marks})"
                     f" AND {gone.format(table='execution_snapshots')}", ids)])
                total += counts[0]
            if len(rows) < ask and len(ids) == len(rows):  # nothing due is left
                return total
            ask = max(1, min(self.PRUNE_BATCH, 2 * len(ids)))  # read a little more than the last write took
            if time.monotonic() - started > self.PRUNE_PATIENCE:
                gap, budget = 0.0, min(self.PRUNE_MAX_WRITE, 2 * budget)
            await asyncio.sleep(gap)

    async def release_space(self, *, keep_free: int | None = None) -> int:
        """Give some of the space deletes freed back to the file system, in one short step; returns the
        bytes released (0: nothing (more) to release). The database's own business here (PostgreSQL:
        autovacuum); SqliteStore overrides it."""
        return 0

    async def writable(self) -> bool:
        """Whether a write would succeed now (SqliteStore: probes after a write failed for lack of space)."""
        return True

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
