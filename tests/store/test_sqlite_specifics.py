"""What only the SQLite store does (WAL, the start-up fast path, durability), and `open_store`. The contract
every store keeps is `tests/store/contract.py`."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import subprocess
import sys
from contextlib import closing
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from flowbox.errors import ConfigError, StoreError
from flowbox.store import NodeRun, Store, open_store
from flowbox.store.migrations import migration_names

from .conftest import Backend

T0 = datetime(2024, 5, 1, 12, 0, 0, 123456, tzinfo=UTC)


async def tick() -> None:
    """Let the millisecond clock in ids move on, so creation order is id order."""
    await asyncio.sleep(0.002)


def assert_recent(dt: datetime | None) -> None:
    assert dt is not None and dt.tzinfo is not None and dt.utcoffset() == timedelta(0)
    assert abs(datetime.now(UTC) - dt) < timedelta(minutes=1)


# workflows


# executions


# variables


# credentials


# migrations


# SQLite only


def test_fresh_sqlite_db_uses_wal(sqlite_db: Backend) -> None:
    async def nothing(store: Store) -> None:
        pass

    sqlite_db.run(nothing)
    assert sqlite_db.query("PRAGMA journal_mode") == [("wal",)]


def test_startup_skips_sqlite_utils_when_nothing_is_pending(tmp_path: Path) -> None:
    script = ("import sys; from flowbox.store.migrations import apply_migrations as a; "
              "print(a(sys.argv[1]), 'sqlite_utils' in sys.modules)")
    db = str(tmp_path / "f.db")

    def start() -> str:
        return subprocess.run([sys.executable, "-c", script, db], check=True, capture_output=True,
                              text=True).stdout.strip()

    assert start() == f"{migration_names()} True"
    assert start() == "[] False"


def test_existing_tables_are_never_reset(tmp_path: Path) -> None:
    from flowbox.store.migrations import apply_migrations

    db = tmp_path / "foreign.db"
    with closing(sqlite3.connect(db)) as conn, conn:
        conn.execute("CREATE TABLE workflows (x)")
        conn.execute("INSERT INTO workflows VALUES ('precious')")
    with pytest.raises(StoreError, match="already exists"):
        apply_migrations(db)
    with closing(sqlite3.connect(db)) as conn:
        assert conn.execute("SELECT x FROM workflows").fetchall() == [("precious",)]
        assert conn.execute("SELECT count(*) FROM _sqlite_migrations").fetchone() == (0,)


def test_sqlite_writes_are_visible_to_a_new_store_at_once(sqlite_db: Backend) -> None:
    async def body(writer: Store) -> None:
        ex = await writer.create_execution(workflow_id="w", mode="manual", workflow_data={"nodes": []})
        await writer.append_node_run(ex.id, NodeRun("A", 0, [[{"a": 1}]], paired=[[0]]))
        await writer.finish_execution(ex.id, "success")
        reader = sqlite_db.make()  # the writer stays open: nothing may wait for close()
        await reader.open()
        try:
            got = await reader.get_execution(ex.id)
        finally:
            await reader.close()
        assert got.status == "success" and got.nodes["A"][0].outputs == [[{"a": 1}]]

    sqlite_db.run(body)


def test_sqlite_execution_survives_the_process_dying(tmp_path: Path) -> None:
    db = tmp_path / "crash.db"
    script = """
import asyncio, os, sys
from flowbox.store import NodeRun
from flowbox.store.sqlite import SqliteStore

async def main():
    store = SqliteStore(sys.argv[1])
    await store.open()
    ex = await store.create_execution(workflow_id="w", mode="trigger")
    await store.append_node_run(ex.id, NodeRun("A", 0, [[{"a": 1}]]))
    print(ex.id, flush=True)
    os._exit(0)  # no close, no commit at exit: only what the calls committed

asyncio.run(main())
"""
    done = subprocess.run([sys.executable, "-c", script, str(db)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    execution_id = done.stdout.strip()

    async def body(store: Store) -> None:
        got = await store.get_execution(execution_id)
        assert got.status == "running" and got.last_node == "A" and got.nodes["A"][0].outputs == [[{"a": 1}]]

    from .conftest import sqlite_backend

    sqlite_backend(db).run(body)


# open_store


def test_open_store_picks_the_implementation(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from flowbox.store.sqlite import SqliteStore

    by_url = open_store(f"sqlite://{tmp_path}/a.db")
    assert isinstance(by_url, SqliteStore) and by_url.path == tmp_path / "a.db"
    by_path = open_store(str(tmp_path / "b.db"))
    assert isinstance(by_path, SqliteStore) and by_path.path == tmp_path / "b.db"
    assert type(open_store("postgresql://u@localhost:1/x")).__name__ == "PostgresStore"
    for bad in ("mysql://u@h/db", "sqlite://", "sqlite:///:memory:"):
        with pytest.raises(ConfigError):
            open_store(bad)
    monkeypatch.setitem(sys.modules, "psycopg", None)
    monkeypatch.delitem(sys.modules, "flowbox.store.postgres")  # imported again, without its driver
    with pytest.raises(ConfigError, match="psycopg"):
        open_store("postgresql://u@localhost/x")


def test_postgres_store_reports_an_unreachable_server() -> None:
    pytest.importorskip("psycopg")

    async def body() -> None:
        store = open_store("postgresql://nobody@127.0.0.1:1/none")
        with pytest.raises(StoreError, match="cannot connect"):
            await store.open()

    asyncio.run(body())


def test_using_a_closed_store_is_a_store_error(tmp_path: Path) -> None:
    async def body() -> None:
        store = open_store(str(tmp_path / "c.db"))
        with pytest.raises(StoreError, match="not open"):
            await store.get_variables()

    asyncio.run(body())
    assert not os.path.exists(tmp_path / "c.db")


# NUL characters (issue 12 item 7): PostgreSQL's text and jsonb refuse U+0000; both stores keep it


ODD = ["nul\0inside", "\0", "\U0010fffd", "\U0010fffd0", "\U0010fffd\U0010fffd", "\\u0000 as text", "plain"]


