"""Storage: the `Store` protocol, its records, and `open_store(url)` to pick an implementation.

    store = open_store("sqlite:////var/lib/flowbox/flowbox.db")   # or a plain path
    store = open_store("postgresql://user@host:5432/flowbox")     # needs psycopg (a dependency of flowbox)
    await store.open()
"""

from __future__ import annotations

import re

from flowbox.errors import ConfigError
from flowbox.store.base import (
    EXECUTION_STATUSES,
    ExecutionRecord,
    NodeRun,
    Page,
    Store,
    WorkflowRecord,
    WorkflowVersion,
    new_id,
)

__all__ = [
    "EXECUTION_STATUSES",
    "ExecutionRecord",
    "NodeRun",
    "Page",
    "Store",
    "WorkflowRecord",
    "WorkflowVersion",
    "new_id",
    "open_store",
    "sqlite_path",
]


def open_store(url: str, *, server: bool = False) -> Store:
    """The Store for a database URL, not yet opened (call `await store.open()`).

    `server=True` tunes a long-lived process (SQLite: WAL checkpoints on their own thread, the WAL
    emptied when writes pause, an old database switched to incremental vacuum at open).

    `sqlite:///abs/path.db` or a plain file path gives a SqliteStore;
    `postgresql://...` (or `postgres://...`) a PostgresStore, whose driver is imported
    only then (ConfigError if psycopg is not installed).
    """
    if url.startswith(("postgresql://", "postgres://")):
        try:
            import psycopg  # noqa: F401
        except ImportError as exc:
            raise ConfigError("a postgresql:// database needs psycopg: pip install flowbox",
                              url=url.split("@")[-1]) from exc
        from flowbox.store.postgres import PostgresStore

        return PostgresStore(url)
    path = sqlite_path(url)
    from flowbox.store.sqlite import SqliteStore

    # a checkpoint every 0.25 s (not 1 s) keeps the WAL close enough behind that the writer seldom copies the rest
    # itself while the file shrinks: p99 at c=10 while shrinking 19-24 -> 17-21 ms (bench/disk.py --part shrink)
    return SqliteStore(path, checkpoint_interval=0.25 if server else None, incremental_vacuum=server)


def sqlite_path(url: str) -> str:
    """The file of a `sqlite:///...` URL or plain path; ConfigError for any other scheme or no file."""
    if url.startswith("sqlite:"):
        path = url.removeprefix("sqlite:").removeprefix("//")
        if re.match(r"/[A-Za-z]:[/\\]", path):  # sqlite:///C:/data/flowbox.db
            path = path[1:]
    elif re.match(r"[A-Za-z][A-Za-z0-9+.-]+://", url):
        raise ConfigError(f"unsupported database URL scheme {url.split('://')[0]!r}: use sqlite:/// or postgresql://")
    else:
        path = url
    if path in ("", ":memory:", "/:memory:"):
        raise ConfigError(f"database URL {url!r} names no file")
    return path
