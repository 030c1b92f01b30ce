"""Disk space: the free-space reserve, and executions whose last write the disk refused.

A full disk must not stop flowbox for good. So:

- A reserve (FLOWBOX_MIN_FREE_MB, default 100): while the disk holding the SQLite
  database or the queue has less free space than that, new work (webhook calls, runs,
  retries, schedule fires) is refused with 503 `disk_full` and a Retry-After header, and
  /readyz says not ready. What is already running goes on: it writes into the reserve.
  Work is taken again as soon as space is back (pruning and incremental vacuum give some
  back too), without a restart.
- A run whose final write failed (the disk filled up under it) would stay "running" in
  the store. `Disk.unsaved()` notes it, and `watch()` records it "crashed" (naming the
  failed write) once a write succeeds again; if flowbox stops first, the next start's
  crash recovery does it.
"""

from __future__ import annotations

import asyncio
import logging
import shutil
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING

from flowbox.errors import DiskFull, NotFound, StoreError

if TYPE_CHECKING:
    from flowbox.settings import Settings
    from flowbox.store import Store

logger = logging.getLogger("flowbox.disk")
UNFINISHED = ("new", "queued", "running")
Crashed = Callable[[str, "str | None", str], Awaitable[None]]  # (execution id, last node, why)
FLOOR = 1_000_000  # bytes: with less free nothing could be recorded, so work is refused even without a reserve


class Disk:
    """The free-space reserve of the folders flowbox writes to, and the runs it could not record."""

    ttl = 0.5  # seconds a free-space reading is reused (statvfs is cheap, but webhooks are many)

    def __init__(self, paths: list[Path], min_free_bytes: int) -> None:
        self.paths = paths
        self.min_free_bytes = min_free_bytes
        self._free: tuple[float, int | None, Path | None] = (-1.0, None, None)
        self._unsaved: dict[str, tuple[str | None, str]] = {}

    @classmethod
    def from_settings(cls, settings: Settings) -> Disk:
        """The folders of a SQLite database and of the SQLite queue (a PostgreSQL store and a Redis queue
        keep their data elsewhere: nothing to watch for them)."""
        from flowbox.store import sqlite_path

        paths: list[Path] = []
        if not settings.database_url.startswith(("postgresql:", "postgres:")):
            paths.append(Path(sqlite_path(settings.database_url)).resolve().parent)
        if not settings.redis_url:
            paths.append(settings.data_dir.resolve())
        return cls(paths, int(settings.min_free_mb * 1_000_000))

    def free(self) -> tuple[int | None, Path | None]:
        """The least free space (bytes) among the folders, and that folder; (None, None) when none exists yet."""
        now = time.monotonic()
        if now - self._free[0] < self.ttl:
            return self._free[1], self._free[2]
        least: tuple[int | None, Path | None] = (None, None)
        for path in self.paths:
            try:
                room = shutil.disk_usage(path).free
            except OSError:
                continue
            if least[0] is None or room < least[0]:
                least = (room, path)
        self._free = (now, *least)
        return least

    def low(self) -> bool:
        """Whether some folder has less free space than the reserve (at least FLOOR)."""
        room, _ = self.free()
        return room is not None and room < max(self.min_free_bytes, FLOOR)

    def check(self) -> None:
        """Raise DiskFull (503, Retry-After) while the free space is below the reserve."""
        if self.low():
            room, path = self.free()
            raise DiskFull(f"only {self.describe()}, less than the {max(self.min_free_bytes, FLOOR) / 1e6:.0f} MB "
                           "flowbox keeps in reserve (FLOWBOX_MIN_FREE_MB): new work is refused until space is freed",
                           free=room, path=str(path))

    def describe(self) -> str:
        """The free space, for messages: "0.2 MB free on the disk of /data"."""
        room, path = self.free()
        return f"{(room or 0) / 1e6:.1f} MB free on the disk of {path}"

    # ------------------------------------------------------------ runs the store could not record
    def unsaved(self, execution_id: str, last_node: str | None, error: BaseException) -> None:
        """Note a run whose final write failed; `watch()` records it "crashed" once writes work again."""
        logger.error("execution %s ended but could not be recorded: %s", execution_id, error)
        self._unsaved[execution_id] = (last_node, str(getattr(error, "message", error)))

    @property
    def pending(self) -> int:
        return len(self._unsaved)

    async def record_unsaved(self, store: Store, crashed: Crashed) -> int:
        """Record every noted run that is still unfinished in the store as crashed (`crashed(id, node, message)`,
        the recorder's); returns how many. Stops at the first write that fails (they stay noted for the next
        try)."""
        done = 0
        for execution_id, (last_node, error) in list(self._unsaved.items()):
            try:
                record = await store.get_execution(execution_id)
                if record.status in UNFINISHED:
                    await crashed(execution_id, last_node, f"the execution's end could not be recorded: {error}")
                    done += 1
            except NotFound:
                pass
            except StoreError:
                return done
            self._unsaved.pop(execution_id, None)
        if done:
            logger.info("recorded %d execution(s) that could not be recorded before as crashed", done)
        return done

    async def watch(self, store: Store, crashed: Crashed, interval: float = 1.0) -> None:
        """Until cancelled: once writes work again (`store.writable()`), record the unsaved runs."""
        while True:
            await asyncio.sleep(interval)
            try:
                if self._unsaved and await store.writable():
                    await self.record_unsaved(store, crashed)
            except asyncio.CancelledError:
                raise
            except Exception:  # the watch must outlive one failure
                logger.exception("recording unsaved executions failed")

