"""One server per data dir: an OS file lock on `<data-dir>/flowbox.lock`, held for the process's life.

Two servers on one data dir would each keep their own copy of the workflows (stale
versions and deleted workflows still served) and both fire every schedule. So
`flowbox serve` and the desktop mode (`flowbox` with no arguments) take an exclusive
`flock` on the lock file before they open anything, and a second one refuses to start
(exit code 2) naming the data dir and the pid of the process that holds it. The kernel
drops the lock when that process ends, however it ends (kill -9, a crash): a lock file
left behind is never stale. The file holds the holder's pid, command and URL (JSON), for
that message and for the desktop mode, which opens the running server's editor instead.

`flowbox rotate-key` takes the lock too (it re-encrypts the credentials a running server
reads). Every other command is a separate process by design and runs beside a server:
`run`, `import`, `export`, `executions`, `execution`, `nodes`, `backup`, `user`,
`apikey`, and `flowbox worker` (scale-out, or one machine sharing the data dir).
`flowbox restore` relies on SQLite's own lock, which any open connection holds.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from flowbox.errors import DataDirInUse

LOCK_FILE = "flowbox.lock"
_WINDOWS_LOCK_OFFSET = 1 << 20  # Windows locks are mandatory: lock a byte past the JSON, which stays readable


@dataclass(frozen=True)
class Holder:
    """Who holds a data dir's lock, as its lock file says."""

    pid: int | None
    command: str
    url: str | None = None


class DataDirLock:
    """The lock of one data dir; `acquire()` once, held until `release()` or the process ends."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = Path(data_dir)
        self.path = self.data_dir / LOCK_FILE
        self._fd: int | None = None

    def acquire(self, command: str, url: str | None = None, hint: str = "") -> DataDirLock:
        """Take the lock without waiting and write who holds it; DataDirInUse (its message ending in
        `hint`) when another process has it."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        if not _try_lock(fd):
            os.close(fd)
            holder = self.holder()
            who = f"{holder.command}, pid {holder.pid}" if holder and holder.pid else "pid unknown"
            where = f" at {holder.url}" if holder and holder.url else ""
            raise DataDirInUse(f"another flowbox ({who}{where}) is using the data dir {self.data_dir}: stop it "
                               f"first{hint}", holder=holder)
        os.ftruncate(fd, 0)
        os.write(fd, json.dumps({"pid": os.getpid(), "command": command, "url": url}).encode() + b"\n")
        self._fd = fd
        return self

    def holder(self) -> Holder | None:
        """What the lock file says (None when it is missing or unreadable)."""
        try:
            data = json.loads(self.path.read_text() or "{}")
        except (OSError, ValueError):
            return None
        if not isinstance(data, dict):
            return None
        pid = data.get("pid")
        return Holder(pid=pid if isinstance(pid, int) else None, command=str(data.get("command") or "flowbox"),
                      url=data.get("url") or None)

    def release(self) -> None:
        """Drop the lock (closing the file drops it; the file stays, harmless)."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


@contextlib.contextmanager
def holding(data_dir: Path, command: str) -> Iterator[DataDirLock]:
    """The data dir's lock for the length of a command (DataDirInUse while a server holds it)."""
    lock = DataDirLock(data_dir).acquire(command)
    try:
        yield lock
    finally:
        lock.release()


def _try_lock(fd: int) -> bool:
    """An exclusive lock on the open file `fd` without waiting: flock, or msvcrt on Windows."""
    if sys.platform == "win32":
        import msvcrt

        os.lseek(fd, _WINDOWS_LOCK_OFFSET, os.SEEK_SET)
        try:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)  # type: ignore[attr-defined]
        except OSError:
            return False
        finally:
            os.lseek(fd, 0, os.SEEK_SET)
        return True
    import fcntl

    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True
