"""The ground the SQL store stands on (`flowbox.store.sql`): the `Db` a backend hands out, the codecs of
times, JSON and node runs, and `SqlBase`, the backend's hooks plus two table helpers (`_one`, a row by
a column; `_newest_first`, a page by id). SQL is portable, with `?` placeholders."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any, Protocol, TypeVar

import orjson

from flowbox.errors import NotFound
from flowbox.store.base import (
    EXECUTION_STATUSES,
    NodeRun,
    Page,
)

Row = dict[str, Any]
T = TypeVar("T")
FINISHED = ("success", "error", "canceled", "crashed")
IN_FINISHED = "(" + ", ".join(f"'{s}'" for s in FINISHED) + ")"


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


def check_status(status: str) -> None:
    if status not in EXECUTION_STATUSES:
        raise ValueError(f"unknown execution status {status!r}")


def page_of(items: list[Any], limit: int) -> Page[Any]:
    """`items` was fetched with `limit + 1` rows: the extra one says there is a next page."""
    if len(items) > limit:
        return Page(items[:limit], items[limit - 1].id)
    return Page(items)


class Db(Protocol):
    """A connection as SqlStore sees it: SQL with `?` placeholders, rows as dicts."""

    async def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        """Run a statement; returns the row count."""

    async def fetch(self, sql: str, params: Sequence[Any] = ()) -> list[Row]: ...


class SqlBase:
    """What every part of the SQL store stands on: the backend's hooks and two table helpers.

    Backends provide `_tx()` (a write transaction), `_read()` (a connection for
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

    def _json_text(self, column: str, key: str) -> tuple[str, Any]:
        """SQL for the text at top-level `key` of JSON `column`, and the parameter it takes."""
        return f"json_extract({column}, ?)", '$."' + key.replace('"', '\\"') + '"'

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
        return page_of([convert(row) for row in rows], max(limit, 1))

    @staticmethod
    def _visible(kind: str, column: str, user_id: str | None) -> tuple[list[str], list[Any]]:
        """The WHERE part (as `_newest_first` takes it) for rows of `kind` the user owns or was shared."""
        if user_id is None:
            return [], []
        owned = "workflows" if kind == "workflow" else "credentials"
        return ([f"({column} IN (SELECT id FROM {owned} WHERE owner_id = ?)"
                 f" OR {column} IN (SELECT resource_id FROM shares WHERE kind = ? AND user_id = ?))"],
                [user_id, kind, user_id])

    async def __aenter__(self) -> SqlBase:
        await self.open()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def open(self) -> None:
        raise NotImplementedError

    async def close(self) -> None:
        raise NotImplementedError
