"""The SQLite store's one writing connection, on a thread of its own, committing in groups.

Statements from any number of coroutines are committed together (each under a SAVEPOINT, so one
failing statement fails only its caller); a multi-statement transaction runs as a session on the same
thread. Nobody is answered before the COMMIT that holds their write. A disk that refuses writes (full,
I/O error) is noted in `Writer.failure`.
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import sqlite3
import threading
from collections.abc import Callable, Sequence
from typing import Any

Row = dict[str, Any]

SQLITE_IOERR, SQLITE_FULL = 10, 13  # primary result codes: the write needed room or I/O the disk refused


def disk_error(exc: BaseException) -> bool:
    """Whether `exc` says the disk refused a write (full, or an I/O error), not that a statement was wrong."""
    code = getattr(exc, "sqlite_errorcode", None)
    return isinstance(exc, sqlite3.Error) and code is not None and code & 0xFF in (SQLITE_IOERR, SQLITE_FULL)


class _Alone:
    """A writer job run between two groups, outside any transaction (`Writer.submit(alone=True)`)."""

    def __init__(self, op: Callable[[sqlite3.Connection], Any], future: asyncio.Future[Any] | None) -> None:
        self.op = op
        self.future = future


class _TransactionLost(Exception):
    """SQLite rolled the whole group's transaction back itself (it may after SQLITE_FULL or an I/O error)."""

    def __init__(self, error: BaseException) -> None:
        super().__init__(str(error))
        self.error = error


class Writer(threading.Thread):
    """The one connection that writes, on its own thread (datasette's `_execute_writes` shape).

    Single statements queued by any number of coroutines are committed together: the
    thread takes everything waiting, runs each under a SAVEPOINT (so one failing
    statement fails only its caller) inside ONE transaction, commits, then answers
    every caller. A multi-statement transaction runs as a session: the thread executes
    the session's statements one by one as its coroutine sends them, inside the same
    group. Nobody is answered before the COMMIT that holds their write.

    `failure` says why the last write failed when the disk refused it (full, I/O error),
    None once a commit changed something again: the store's `writable()` reads it.
    """

    MAX_GROUP = 1000

    def __init__(self, connect: Callable[[], sqlite3.Connection]) -> None:
        super().__init__(name="flowbox-sqlite-writer", daemon=True)
        self._connect = connect
        self.jobs: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self.ready = threading.Event()
        self.error: BaseException | None = None
        self.failure: str | None = None
        self._lock = threading.Lock()
        self._checkpoint_asked = False

    def submit(self, op: Callable[[sqlite3.Connection], Any], *, alone: bool = False) -> asyncio.Future[Any]:
        """Queue `op(conn)`; `alone`: between two groups, outside a transaction (for statements that
        manage their own, as executescript does)."""
        future = asyncio.get_running_loop().create_future()
        self.jobs.put(_Alone(op, future) if alone else (op, future))
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
            pending = None
            while True:
                job, pending = (pending or self.jobs.get()), None
                if job is None:
                    return
                if isinstance(job, _Alone):
                    self._run_alone(conn, job)
                    continue
                group = [job]
                while len(group) < self.MAX_GROUP:
                    try:
                        nxt = self.jobs.get_nowait()
                    except queue.Empty:
                        break
                    if nxt is None:
                        self.jobs.put(None)  # stop after this group
                        break
                    if isinstance(nxt, _Alone):  # after this group
                        pending = nxt
                        break
                    group.append(nxt)
                try:
                    self._commit_group(conn, group)
                except BaseException as exc:  # never leave callers waiting, nor the thread dead
                    with contextlib.suppress(sqlite3.Error):
                        if conn.in_transaction:
                            conn.execute("ROLLBACK")
                    for _, future in group:
                        settle(future, None, exc)
        finally:
            conn.close()

    def request_checkpoint(self) -> None:
        """From any thread: copy the rest of the WAL into the database between two groups (see
        SqliteStore._checkpoint_loop); at most one request waits at a time."""
        with self._lock:
            if self._checkpoint_asked:
                return
            self._checkpoint_asked = True
        self.jobs.put(_Alone(self._checkpoint, None))

    def _checkpoint(self, conn: sqlite3.Connection) -> None:
        """PASSIVE, here where no write can come in meanwhile: it copies every frame (readers permitting),
        so the next write starts the WAL over and cuts it back to journal_size_limit."""
        with self._lock:
            self._checkpoint_asked = False
        conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()

    def _run_alone(self, conn: sqlite3.Connection, job: _Alone) -> None:
        try:
            result = job.op(conn)
        except BaseException as exc:
            self._note(exc)
            with contextlib.suppress(sqlite3.Error):
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
            if job.future is not None:
                settle(job.future, None, exc)
        else:
            if job.future is not None:
                settle(job.future, result, None)

    def _note(self, exc: BaseException) -> None:
        if disk_error(exc):
            self.failure = str(exc)

    def _commit_group(self, conn: sqlite3.Connection, group: list[Any]) -> None:
        outcomes: list[tuple[asyncio.Future[Any], Any, BaseException | None]] = []
        try:
            conn.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            self._note(exc)
            for _, future in group:
                settle(future, None, exc)
            return
        changes = conn.total_changes
        lost: BaseException | None = None
        for op, future in group:
            if lost is None:
                try:
                    outcomes.append((future, *self._run_op(conn, op)))
                    continue
                except _TransactionLost as exc:
                    lost = exc.error
            outcomes.append((future, None, lost))
        if lost is not None:  # every write of the group is gone: its callers all get the error
            with contextlib.suppress(sqlite3.Error):
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
            outcomes = [(future, None, lost) for future, _, _ in outcomes]
        else:
            try:
                conn.execute("COMMIT")
            except sqlite3.Error as exc:
                self._note(exc)
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                outcomes = [(future, None, exc) for future, _, _ in outcomes]
            else:
                if conn.total_changes > changes:
                    self.failure = None
        for future, result, error in outcomes:
            settle(future, result, error)

    def _run_op(self, conn: sqlite3.Connection, op: Callable[[sqlite3.Connection], Any]
                ) -> tuple[Any, BaseException | None]:
        """One caller's operation under its own savepoint: (result, None) or (None, its error).
        Raises `_TransactionLost` when the error took the whole transaction with it."""
        try:
            conn.execute("SAVEPOINT op")
        except sqlite3.Error as exc:
            self._note(exc)
            raise _TransactionLost(exc) from exc
        try:
            result = op(conn)
        except BaseException as exc:  # this caller's statement failed; the others go on
            self._note(exc)
            try:
                conn.execute("ROLLBACK TO op")
                conn.execute("RELEASE op")
            except sqlite3.Error:
                raise _TransactionLost(exc) from exc
            return None, exc
        try:
            conn.execute("RELEASE op")
        except sqlite3.Error as exc:
            self._note(exc)
            raise _TransactionLost(exc) from exc
        return result, None


def settle(future: asyncio.Future[Any], result: Any, error: BaseException | None) -> None:
    def done() -> None:
        if future.done():
            return
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(result)

    with contextlib.suppress(RuntimeError):  # the caller's loop is gone (process exiting): nobody waits
        future.get_loop().call_soon_threadsafe(done)


class WriteDb:
    """A `Db` whose statements run on the writer thread as one grouped operation each."""

    def __init__(self, writer: Writer) -> None:
        self.writer = writer

    async def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        return await self.writer.submit(lambda conn: conn.execute(sql, params).rowcount)

    async def fetch(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        return await self.writer.submit(lambda conn: conn.execute(sql, params).fetchall())


class SessionDb:
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
                    raise SessionAborted
                return
            kind, sql, params = request
            try:
                cursor = conn.execute(sql, params)
                result = cursor.rowcount if kind == "execute" else cursor.fetchall()
            except BaseException as exc:
                settle(future, None, exc)
            else:
                settle(future, result, None)


class SessionAborted(Exception):
    pass
