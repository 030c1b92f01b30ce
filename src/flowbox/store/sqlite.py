"""SqliteStore: the default Store, one SQLite file in WAL mode.

The logic is `flowbox.store.sql.SqlStore`'s; this module supplies the connections. Writes go
through one connection on its own thread that commits in groups (`flowbox.store.sqlite_writer`);
reads use a second, aiosqlite connection, which WAL lets run beside a write. Every write is
committed before its call returns.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import threading
import time
from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiosqlite

from flowbox.errors import Conflict, DiskFull, StoreError
from flowbox.store.migrations import INCREMENTAL, MIGRATIONS_TABLE, apply_migrations, use_incremental_vacuum
from flowbox.store.sql import SqlStore
from flowbox.store.sqlbase import Db, Row
from flowbox.store.sqlite_writer import SQLITE_FULL, SessionAborted, SessionDb, WriteDb, Writer


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


def _pragma(conn: sqlite3.Connection, name: str) -> int:
    """An integer PRAGMA's value on a connection with the dict row factory."""
    return int(next(iter(conn.execute(f"PRAGMA {name}").fetchone().values())))


def _lower(value: str | None) -> str | None:
    return value.lower() if isinstance(value, str) else value


@contextlib.contextmanager
def _sqlite_errors() -> Iterator[None]:
    """SQLite errors as flowbox errors: a constraint violation -> Conflict, anything else -> StoreError."""
    try:
        yield
    except sqlite3.IntegrityError as exc:
        raise Conflict(str(exc)) from exc
    except sqlite3.Error as exc:
        if getattr(exc, "sqlite_errorcode", 0) & 0xFF == SQLITE_FULL:
            raise DiskFull(f"the disk holding the database is full ({exc}); free some space") from exc
        raise StoreError(str(exc)) from exc


class SqliteStore(SqlStore):
    """The Store in one SQLite file (created with its folder if missing)."""

    _search_sql = "instr(flowbox_lower(name), ?) > 0"  # SQLite's lower() only folds ASCII
    wal_truncate_bytes = 64 * 1024 * 1024  # = journal_size_limit: under load, a WAL past 4x this is emptied
    truncate_wait_ms = 100  # how long emptying the WAL may hold new writes back while readers finish
    keep_free_bytes = 4 * 1024 * 1024  # free pages kept in the file for new writes (+ a quarter of the data)
    vacuum_step_seconds = 0.002  # the time one `release_space` step aims at (its page count adapts)

    migrations_table = MIGRATIONS_TABLE

    @classmethod
    def from_url(cls, url: str, *, server: bool = False) -> SqliteStore:
        """`open_store`'s door: a `sqlite:///...` URL or a plain path; a server checkpoints every 0.25 s (not
        1 s), which keeps the WAL close enough behind that the writer seldom copies the rest itself while the
        file shrinks (p99 at c=10 while shrinking 19-24 -> 17-21 ms, bench/disk.py --part shrink)."""
        from flowbox.store import sqlite_path

        return cls(sqlite_path(url), checkpoint_interval=0.25 if server else None, incremental_vacuum=server)

    def __init__(self, path: str | Path, *, busy_timeout_ms: int = 5000, checkpoint_interval: float | None = None,
                 incremental_vacuum: bool = False) -> None:
        """`checkpoint_interval`: copy the WAL into the database from a thread of its own every so many
        seconds (PASSIVE, so commits never wait on it) instead of inside whichever commit crosses
        SQLite's threshold, and empty the WAL when writes pause; for servers, where that commit would
        stall its callers. `incremental_vacuum`: switch a database made before auto_vacuum=INCREMENTAL
        at open (`use_incremental_vacuum`: a backup and one VACUUM); servers do, at start."""
        if str(path) in ("", ":memory:"):
            raise StoreError("SqliteStore needs a file path (it opens the file more than once)")
        self.path = Path(path)
        self.busy_timeout_ms = busy_timeout_ms
        self.checkpoint_interval = checkpoint_interval
        self.incremental_vacuum = incremental_vacuum
        self._checkpoints: threading.Event | None = None
        self._writer: Writer | None = None
        self._reader: _SqliteDb | None = None
        self._vacuum_pages = 16  # pages per release_space step, adapted to `vacuum_step_seconds`
        self._auto_vacuum = 0

    async def open(self) -> None:
        """Create the folder, apply pending migrations (WAL on), start the writer thread, open the reader."""
        if self._writer is not None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        await asyncio.to_thread(apply_migrations, self.path)
        if self.incremental_vacuum:
            await asyncio.to_thread(use_incremental_vacuum, self.path)
        writer = Writer(self._connect_writer)
        writer.start()
        await asyncio.to_thread(writer.ready.wait)
        if writer.error is not None:
            raise StoreError(f"cannot open {str(self.path)!r}: {writer.error}") from writer.error
        self._writer = writer
        self._reader = _SqliteDb(await self._connect())
        async with self._read() as db:
            self._auto_vacuum = (await db.fetch("PRAGMA auto_vacuum"))[0]["auto_vacuum"]
        if self.checkpoint_interval:
            self._checkpoints = threading.Event()
            threading.Thread(target=self._checkpoint_loop, args=(self._checkpoints, self.checkpoint_interval),
                             name="flowbox-sqlite-checkpoint", daemon=True).start()

    def _checkpoint_loop(self, stop: threading.Event, interval: float) -> None:
        """Every `interval`: copy the WAL into the database (PASSIVE: never waits for, nor holds up, a
        writer); once everything is copied, empty the WAL file (TRUNCATE) when no frame was added since
        the last tick (writes paused), or at any time when it grew past 4x `wal_truncate_bytes`.

        Under sustained writes this thread never catches up (frames come in while it copies), so the
        WAL would only grow. Past `wal_truncate_bytes` it asks the writer thread to copy the rest
        between two groups (`Writer.request_checkpoint`): little is left by then, and the next
        write starts the WAL over, cut back to journal_size_limit (= `wal_truncate_bytes`).

        Emptying it here, not in the next writer's request, keeps that request fast (cutting a ~300 MB
        WAL there took ~70 ms) and gives the space back to the disk. TRUNCATE holds new writes back
        while it waits for readers, so it waits `truncate_wait_ms` at most, then tries again next tick.
        """
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        conn.execute(f"PRAGMA busy_timeout = {int(self.truncate_wait_ms)}")  # PASSIVE never waits anyway
        try:
            wal = Path(f"{self.path}-wal")
            last = -1
            while not stop.wait(interval):
                with contextlib.suppress(sqlite3.Error, OSError):
                    _, frames, copied = conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
                    size = wal.stat().st_size if frames > 0 else 0
                    if frames > 0 and copied == frames and (frames == last or size > 4 * self.wal_truncate_bytes):
                        busy, after, _ = conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
                        frames = frames if busy else after  # busy: readers held it; again next tick
                    elif size > self.wal_truncate_bytes and self._writer is not None:
                        self._writer.request_checkpoint()  # under load: the writer copies the rest
                    last = frames
        finally:
            conn.close()

    async def release_space(self, *, keep_free: int | None = None) -> int:
        """One step of incremental vacuum: move pages from the end of the file into free pages, so the next
        checkpoint cuts the file that much shorter; returns the bytes released.

        Free pages up to `keep_free` bytes (default: `keep_free_bytes` plus a quarter of the pages in
        use) stay, for the next writes to reuse. The step runs on the writer thread between two
        groups, as one statement in C (`executescript`: the sqlite3 module would step
        `PRAGMA incremental_vacuum(N)` once, one page), and its page count adapts so that a step
        takes about `vacuum_step_seconds`. While the WAL is past half of `wal_truncate_bytes` (the
        checkpoints are behind) it releases nothing: moved pages would only grow it further, up to where
        the writer has to copy the rest itself (~20 ms held, measured in bench/disk.py).
        0 when the database was made without auto_vacuum=INCREMENTAL (a server switches it at start).
        """
        if self._auto_vacuum != INCREMENTAL:
            return 0
        with contextlib.suppress(OSError):
            if Path(f"{self.path}-wal").stat().st_size > self.wal_truncate_bytes // 2:
                return 0

        def step(conn: sqlite3.Connection) -> int:
            page_size, pages, free = (_pragma(conn, name) for name in ("page_size", "page_count", "freelist_count"))
            kept = (self.keep_free_bytes // page_size + (pages - free) // 4) if keep_free is None \
                else keep_free // page_size
            count = min(self._vacuum_pages, free - kept)
            if count <= 0:
                return 0
            started = time.perf_counter()
            conn.executescript(f"PRAGMA incremental_vacuum({int(count)})")
            took = time.perf_counter() - started
            if took > self.vacuum_step_seconds:
                self._vacuum_pages = max(8, self._vacuum_pages // 2)
            elif took < self.vacuum_step_seconds / 3:
                self._vacuum_pages = min(4096, self._vacuum_pages * 2)
            return (free - _pragma(conn, "freelist_count")) * page_size

        writer = self._open_writer
        with _sqlite_errors():
            return int(await writer.submit(step, alone=True))

    async def writable(self) -> bool:
        """True unless the last write failed for lack of space (or an I/O error) and a one-page probe write
        still fails: a write that changes nothing visible (a row of the migrations table rewritten as
        it is), so /readyz and recovery can tell when space is back without waiting for real work."""
        writer = self._open_writer
        if writer.failure is None:
            return True

        def probe(conn: sqlite3.Connection) -> None:
            conn.execute("UPDATE _sqlite_migrations SET applied_at = applied_at"
                         " WHERE id = (SELECT min(id) FROM _sqlite_migrations)")

        with contextlib.suppress(sqlite3.Error):
            await writer.submit(probe)
        return writer.failure is None

    def _connect_writer(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        conn.row_factory = _dict_row
        conn.execute(f"PRAGMA busy_timeout = {int(self.busy_timeout_ms)}")
        conn.execute("PRAGMA synchronous = NORMAL")
        if self.checkpoint_interval:
            conn.execute("PRAGMA wal_autocheckpoint = 0")
            conn.execute(f"PRAGMA journal_size_limit = {int(self.wal_truncate_bytes)}")
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
    def _open_writer(self) -> Writer:
        if self._writer is None:
            raise StoreError("store is not open")
        return self._writer

    @asynccontextmanager
    async def _tx(self) -> AsyncIterator[Db]:
        """A multi-statement transaction, run as a session on the writer thread (committed with its group)."""
        session = SessionDb()
        done = self._open_writer.submit(session.serve)
        with _sqlite_errors():
            try:
                yield session
            except BaseException:
                session.requests.put((None, True))
                with contextlib.suppress(SessionAborted):
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
            yield WriteDb(writer)

    @asynccontextmanager
    async def _read(self) -> AsyncIterator[Db]:
        if self._reader is None:
            raise StoreError("store is not open")
        try:
            yield self._reader
        except sqlite3.Error as exc:
            raise StoreError(str(exc)) from exc


STORE = SqliteStore  # what `flowbox.store.open_store` opens for sqlite:// URLs and plain paths
