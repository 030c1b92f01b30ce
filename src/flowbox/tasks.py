"""The queue: Huey carrying execution ids (never payloads) to consumer threads.

Embedded (default): `SqliteHuey` on `<data-dir>/queue.db`, consumed by `settings.workers`
threads inside the server process. Scale-out: `RedisHuey` (`FLOWBOX_REDIS_URL`),
consumed by `flowbox worker` processes (see `flowbox.worker`); a server in scale-out
mode takes webhooks and schedules and enqueues, but runs no queued execution itself
(`Queue.start()` called by the server starts no consumer when the queue is Redis,
unless `settings.server_consumes` is true).

Either way the Store is the truth: an execution is recorded as "queued" before its
id is enqueued, running it first claims it (so a duplicate id is harmless), and on
start the server re-enqueues every execution still "queued".

A consumer thread does not run the workflow itself: it hands the execution to the
event loop (`Runs.run_queued`) and waits for it, so the number of
consumer threads is the global limit on executions running at once.

Latency: Huey's SQLite storage is polled. Each consumer thread polls with a backoff
(20 ms up to 1 s), and an enqueue in this process wakes one idle consumer at once,
so a webhook's execution starts within a millisecond or so, while an idle server
polls at most `workers` times a second. Redis is not polled (BRPOP).

Stop (`Queue.stop`): no consumer takes new work; executions already handed over get
the shutdown timeout to finish, then are cancelled (the engine records them as
"crashed"); an id taken off the queue while stopping is put back, so it stays
queued for the next start or for another worker.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import logging
import os
import sqlite3
import threading
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from flowbox.errors import ConfigError, DiskFull, FlowboxError, Unavailable

if TYPE_CHECKING:
    from huey import Huey

logger = logging.getLogger("flowbox.queue")

# consumer polling of the SQLite queue: first delay, growth per empty poll, longest delay
POLL_FIRST = 0.02
POLL_BACKOFF = 1.5
POLL_MAX = 1.0
REDIS_READ_TIMEOUT = 1.0  # BRPOP timeout: how long an idle Redis consumer takes to notice a stop
SQLITE_FULL = 13


def queue_name(settings: Any) -> str:
    """The Huey name (Redis key prefix): `settings.queue_name`, else FLOWBOX_QUEUE_NAME, else "flowbox".

    Several flowbox deployments (or test runs) can share one Redis with different names.
    """
    return str(getattr(settings, "queue_name", None) or os.environ.get("FLOWBOX_QUEUE_NAME") or "flowbox")


def make_huey(settings: Any, name: str | None = None) -> Huey:
    """SqliteHuey on the data dir, or RedisHuey when `settings.redis_url` is set."""
    from huey import RedisHuey, SqliteHuey
    from huey.storage import SqliteStorage

    name = name or queue_name(settings)
    if settings.redis_url:
        try:
            import redis  # noqa: F401 - RedisHuey needs it
        except ImportError:
            raise ConfigError("FLOWBOX_REDIS_URL is set but the redis package is missing: "
                              "pip install flowbox") from None
        return RedisHuey(name, url=settings.redis_url, results=False, utc=True, blocking=True,
                         read_timeout=REDIS_READ_TIMEOUT)

    class Storage(SqliteStorage):
        """Huey's SQLite storage with synchronous=NORMAL (WAL): ~15x the enqueue rate of FULL;
        the Store, not this file, is the record of what must run."""

        def _create_connection(self) -> sqlite3.Connection:
            conn = super()._create_connection()
            conn.execute("pragma synchronous=1")
            return conn

        @contextlib.contextmanager
        def db(self, commit: bool = False, close: bool = False) -> Iterator[sqlite3.Cursor]:
            """Huey's `db()` (one shared connection behind a lock), except that a COMMIT that fails
            (SQLITE_BUSY) is rolled back instead of leaving the connection inside a transaction, where
            every later call failed with "cannot start a transaction within a transaction"."""
            with self.lock:
                conn = self.conn
                if conn.in_transaction:  # left over by a failure we did not see: never build on it
                    logger.warning("queue connection was left inside a transaction; rolling it back")
                    conn.rollback()
                cursor = conn.cursor()
                try:
                    if commit:
                        cursor.execute(self.begin_sql)
                    yield cursor
                    if commit:
                        conn.commit()
                except BaseException:
                    if conn.in_transaction:
                        conn.rollback()
                    raise
                finally:
                    cursor.close()
                    if close:
                        conn.close()
                        self._conn = None

    settings.ensure_dirs()
    return SqliteHuey(name, filename=str(settings.queue_path), results=False, utc=True, storage_class=Storage)


class Deferred(Exception):  # noqa: N818 - a signal, not an error
    """Raised by `Runs.run_queued` when an execution cannot start yet (its workflow is at its
    `maxConcurrency`): the consumer puts the id back at the end of the queue after `delay`
    seconds instead of holding a consumer slot while it waits, so other workflows' executions
    are not stuck behind a throttled backlog."""

    def __init__(self, delay: float = 0.1) -> None:
        super().__init__(f"deferred for {delay} s")
        self.delay = delay


class _Wakeup:
    """Wakes idle consumer threads when this process enqueues (tokens, so a wake-up is never lost)."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._tokens = 0
        self._closed = False

    def notify(self, cap: int) -> None:
        with self._cond:
            if self._tokens < cap:
                self._tokens += 1
                self._cond.notify()

    def wait(self, timeout: float) -> None:
        with self._cond:
            if not self._tokens and not self._closed:
                self._cond.wait(timeout)
            if self._tokens:
                self._tokens -= 1

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()


class Queue:
    """Enqueue execution ids; run consumer threads that hand them to the service."""

    def __init__(self, settings: Any, runs: Any, store: Any, huey: Huey | None = None) -> None:
        self.settings = settings
        self.runs = runs  # `runs.run_queued(id)` runs one on `runs.loop` (flowbox.runs.Runs)
        self.store = store
        self.huey = huey if huey is not None else make_huey(settings)
        self.consumer: Any = None
        self.handled = 0  # queued executions this process ran (or skipped as already claimed/finished)
        self._lock = threading.Lock()
        self._stopping = False
        self._inflight: dict[concurrent.futures.Future[None], str] = {}
        self._wakeup = _Wakeup()
        self._workers = 0

        @self.huey.task(name="run_execution", retries=0)
        def run_execution(execution_id: str) -> None:
            self._run(execution_id)

        self._task = run_execution

    @property
    def scale_out(self) -> bool:
        return bool(self.settings.redis_url)

    @property
    def consuming(self) -> bool:
        return self.consumer is not None

    def enqueue(self, execution_id: str) -> None:
        """Put an execution id on the queue (blocking I/O: call from a thread in async code).

        The SQLite queue's errors leave as DiskFull (its disk is full) or Unavailable (503 either way)."""
        try:
            self._task(execution_id)
        except sqlite3.Error as exc:
            if getattr(exc, "sqlite_errorcode", 0) & 0xFF == SQLITE_FULL:
                raise DiskFull(f"the disk holding the queue is full ({exc}); free some space") from exc
            raise Unavailable(f"the queue failed: {exc}") from exc
        if self._workers:
            self._wakeup.notify(self._workers)

    # ------------------------------------------------------------ consumer side
    def _run(self, execution_id: str) -> None:
        """In a consumer thread: run one queued execution on the service's loop and wait for it."""
        with self._lock:
            loop = self.runs.loop
            if self._stopping or loop is None or loop.is_closed():
                future = None
            else:
                future = asyncio.run_coroutine_threadsafe(self.runs.run_queued(execution_id), loop)
                self._inflight[future] = execution_id
        if future is None:  # taken off the queue while stopping: put it back for later / another worker
            self._requeue(execution_id)
            return
        deferred = None
        try:
            future.result()
        except Deferred as exc:
            deferred = exc
        except concurrent.futures.CancelledError:
            logger.warning("execution %s was cancelled at shutdown", execution_id)
        except FlowboxError as exc:  # a full disk, a store that went away: the message says it all
            logger.error("execution %s could not run: %s", execution_id, exc.message)
        except Exception:
            logger.exception("execution %s could not run", execution_id)
        finally:
            with self._lock:
                self._inflight.pop(future, None)
                self.handled += deferred is None
        if deferred is not None:
            consumer = self.consumer
            if consumer is not None:
                consumer.stop_flag.wait(deferred.delay)
            self._requeue(execution_id)
            return
        if self._stopping:
            self._requeue_if_queued(execution_id)

    def _requeue(self, execution_id: str) -> None:
        try:
            self._task(execution_id)
        except Exception:  # the queue is down: the store still says "queued"; the next start re-enqueues it
            logger.exception("could not put execution %s back on the queue", execution_id)

    def _requeue_if_queued(self, execution_id: str) -> None:
        """After a run that ended during shutdown: if it never started (still queued), put it back."""
        loop = self.runs.loop
        if loop is None or loop.is_closed():
            return
        try:
            record = asyncio.run_coroutine_threadsafe(self.store.get_execution(execution_id),
                                                      loop).result(5)
        except Exception:
            return
        if record.status == "queued":
            self._requeue(execution_id)

    def start(self, workers: int | None = None, *, worker: bool = False) -> bool:
        """Start consumer threads (no signal handlers: the server or worker owns SIGTERM/SIGINT).

        `worker`: called by `flowbox worker`. A server on a Redis queue starts none unless
        `settings.server_consumes`. Returns whether consumers run in this process.
        """
        from huey.consumer import Consumer, Worker

        settings = self.settings
        if self.scale_out and not worker and not getattr(settings, "server_consumes", False):
            logger.info("scale-out mode: queued executions run in `flowbox worker` processes, not here")
            return False
        if logging.getLogger("huey").level == logging.NOTSET:
            logging.getLogger("huey").setLevel(logging.WARNING)  # one INFO line per task otherwise
        queue = self

        class WakeableWorker(Worker):  # type: ignore[misc]
            def sleep(self) -> None:
                self.delay = min(self.delay, self.max_delay)
                queue._wakeup.wait(self.delay)
                self.delay *= self.backoff

        class QuietConsumer(Consumer):  # type: ignore[misc]
            worker_class = WakeableWorker

            def _set_signal_handlers(self) -> None:
                pass

        with self._lock:
            if self.consumer is not None:
                return True
            count = workers or settings.workers
            self._stopping = False
            self._wakeup = _Wakeup()
            self.consumer = QuietConsumer(
                self.huey, workers=count, periodic=False, worker_type="thread", initial_delay=POLL_FIRST,
                backoff=POLL_BACKOFF, max_delay=POLL_MAX, check_worker_health=False)
            self._workers = count
            self.consumer.start()
        logger.info("running queued executions with %d consumer thread(s) (%s queue %r)", count,
                    "Redis" if self.scale_out else "SQLite", self.huey.name)
        return True

    def stop(self, timeout: float | None = None) -> None:
        """Stop taking queued work; executions already handed over get `timeout` seconds
        (default: the shutdown timeout), then are cancelled (the engine records them "crashed")."""
        timeout = self.settings.shutdown_timeout if timeout is None else timeout
        with self._lock:
            consumer, self.consumer = self.consumer, None
            if consumer is None:
                return
            self._stopping = True
            self._workers = 0
            inflight = dict(self._inflight)
        consumer.stop_flag.set()
        self._wakeup.close()
        if inflight:
            logger.info("waiting up to %.0f s for %d running execution(s)", timeout, len(inflight))
            _, pending = concurrent.futures.wait(inflight, timeout=max(0.0, timeout))
            for future in pending:
                logger.warning("execution %s did not finish within the shutdown timeout: cancelling it",
                               inflight[future])
                future.cancel()  # cancels its task on the loop; `Runtime.stop` waits for the crash record
        # idle consumers notice the stop flag within a poll (Redis: the BRPOP timeout)
        deadline = time.monotonic() + REDIS_READ_TIMEOUT + 1
        for _, thread in consumer.worker_threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        consumer.scheduler.join(max(0.0, deadline - time.monotonic()))

    def cancel_running(self) -> None:
        """Cancel every execution this process's consumers are running (a second SIGTERM)."""
        with self._lock:
            futures = list(self._inflight)
        for future in futures:
            future.cancel()

    def depth(self) -> int:
        try:
            return int(self.huey.pending_count())
        except Exception:  # the queue backend is down: /metrics still answers
            return -1

    def ping(self) -> bool:
        self.huey.pending_count()
        return True
