"""The queue: Huey carrying execution ids (never payloads) to consumer threads.

Embedded (default): `SqliteHuey` on `<data-dir>/queue.db`, consumed by `settings.workers`
threads inside the server process. Scale-out: `RedisHuey` (`FLOWBOX_REDIS_URL`),
consumed by `flowbox worker` processes. Either way the Store is the truth: an
execution is recorded as "queued" before its id is enqueued, running it first
claims it (so a duplicate id is harmless), and on start the server re-enqueues
every execution still "queued".

A consumer thread does not run the workflow itself: it hands the execution to the
service's event loop (`Services.run_queued_threadsafe`) and waits for it, so the
number of consumer threads is the global limit on executions running at once.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from typing import TYPE_CHECKING, Any

from flowbox.errors import ConfigError

if TYPE_CHECKING:
    from huey import Huey

    from flowbox.services import Services

logger = logging.getLogger("flowbox.queue")


def make_huey(settings: Any, name: str = "flowbox") -> Huey:
    """SqliteHuey on the data dir, or RedisHuey when `settings.redis_url` is set."""
    from huey import RedisHuey, SqliteHuey
    from huey.storage import SqliteStorage

    if settings.redis_url:
        try:
            import redis  # noqa: F401 - RedisHuey needs it
        except ImportError:
            raise ConfigError("FLOWBOX_REDIS_URL is set but the redis package is missing: "
                              "pip install 'flowbox[redis]'") from None
        return RedisHuey(name, url=settings.redis_url, results=False, utc=True)

    class Storage(SqliteStorage):
        """Huey's SQLite storage with synchronous=NORMAL (WAL): ~15x the enqueue rate of FULL;
        the Store, not this file, is the record of what must run."""

        def _create_connection(self) -> sqlite3.Connection:
            conn = super()._create_connection()
            conn.execute("pragma synchronous=1")
            return conn

    settings.ensure_dirs()
    return SqliteHuey(name, filename=str(settings.queue_path), results=False, utc=True, storage_class=Storage)


class Queue:
    """Enqueue execution ids; run consumer threads that hand them to the service."""

    def __init__(self, services: Services, huey: Huey | None = None) -> None:
        self.services = services
        self.huey = huey if huey is not None else make_huey(services.settings)
        self.consumer: Any = None
        self._lock = threading.Lock()

        @self.huey.task(name="run_execution", retries=0)
        def run_execution(execution_id: str) -> None:
            services.run_queued_threadsafe(execution_id)

        self._task = run_execution

    def enqueue(self, execution_id: str) -> None:
        """Put an execution id on the queue (blocking I/O: call from a thread in async code)."""
        self._task(execution_id)

    def start(self, workers: int | None = None) -> None:
        """Start consumer threads (no signal handlers: the server owns SIGTERM/SIGINT)."""
        from huey.consumer import Consumer

        class QuietConsumer(Consumer):  # type: ignore[misc]
            def _set_signal_handlers(self) -> None:
                pass

        with self._lock:
            if self.consumer is not None:
                return
            self.consumer = QuietConsumer(
                self.huey, workers=workers or self.services.settings.workers, periodic=False,
                worker_type="thread", initial_delay=0.02, backoff=1.5, max_delay=0.2,
                check_worker_health=False)
            self.consumer.start()

    def stop(self) -> None:
        """Stop taking queued work; tasks already handed over finish under `Services.stop`'s timeout."""
        with self._lock:
            consumer, self.consumer = self.consumer, None
        if consumer is not None:
            consumer.stop_flag.set()
            timeout = self.services.settings.shutdown_timeout + 5
            for _, thread in consumer.worker_threads:
                thread.join(timeout)
            consumer.scheduler.join(2)

    def depth(self) -> int:
        try:
            return int(self.huey.pending_count())
        except Exception:  # the queue backend is down: /metrics still answers
            return -1

    def ping(self) -> bool:
        self.huey.pending_count()
        return True
