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


# URL scheme -> the module whose `STORE` class serves it (its `from_url(url, server=)`); a plain
# path is SQLite. A new backend is one module and one line here.
BACKENDS = {"sqlite": "flowbox.store.sqlite", "postgresql": "flowbox.store.postgres",
            "postgres": "flowbox.store.postgres"}


def open_store(url: str, *, server: bool = False) -> Store:
    """The Store for a database URL, not yet opened (call `await store.open()`).

    `server=True` tunes a long-lived process (SQLite: WAL checkpoints on their own thread, the WAL
    emptied when writes pause, an old database switched to incremental vacuum at open).

    `sqlite:///abs/path.db` or a plain file path gives a SqliteStore; `postgresql://...` (or
    `postgres://...`) a PostgresStore. A backend's module is imported only then: a missing driver
    is a ConfigError naming it.
    """
    import importlib

    match = re.match(r"([A-Za-z][A-Za-z0-9+.-]+):", url)
    scheme = match.group(1).lower() if match and not re.match(r"[A-Za-z]:[/\\]", url) else "sqlite"
    module = BACKENDS.get(scheme)
    if module is None:
        known = ", ".join(f"{name}://" for name in BACKENDS)
        raise ConfigError(f"unsupported database URL scheme {scheme!r}: use {known} or a file path")
    try:
        backend = importlib.import_module(module)
    except ImportError as exc:
        raise ConfigError(f"a {scheme}:// database needs {exc.name}: pip install flowbox",
                          url=url.split("@")[-1]) from exc
    return backend.STORE.from_url(url, server=server)


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
