"""Backends for the Store contract (`tests/store/contract.py`): how to open each Store implementation on a
fresh database.

PostgreSQL is tried at FLOWBOX_TEST_POSTGRES_URL (default postgresql://postgres@127.0.0.1:5432/test);
each test gets a fresh schema, dropped afterwards (`support.postgres_schema`). Without a server the postgres cases skip,
unless FLOWBOX_REQUIRE_SERVICES=1, which makes them fail instead.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Awaitable, Callable, Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from support import postgres_schema

from flowbox.store import Store


@dataclass
class Backend:
    """One Store implementation on one fresh database."""

    name: str
    make: Callable[[], Store]  # a new, unopened store on this database
    query: Callable[[str], list[tuple[Any, ...]]]  # raw SQL through the plain driver (commits)
    migrations_table: str

    def run(self, body: Callable[[Store], Awaitable[None]]) -> None:
        """Open a new store, `await body(store)`, close it, all in one `asyncio.run`."""

        async def main() -> None:
            store = self.make()
            await store.open()
            try:
                await body(store)
            finally:
                await store.close()

        asyncio.run(main())

    def count(self, table: str) -> int:
        return self.query(f"SELECT count(*) FROM {table}")[0][0]



def sqlite_backend(path: Path) -> Backend:
    from flowbox.store.sqlite import SqliteStore

    def query(sql: str) -> list[tuple[Any, ...]]:
        with closing(sqlite3.connect(path)) as conn, conn:
            return conn.execute(sql).fetchall()

    return Backend("sqlite", lambda: SqliteStore(path), query, "_sqlite_migrations")


@pytest.fixture
def sqlite_db(tmp_path: Path) -> Backend:
    return sqlite_backend(tmp_path / "data" / "flowbox.db")


@contextmanager
def sqlite_at(tmp_path: Path) -> Iterator[Backend]:
    """A Backend on a fresh SQLite file under `tmp_path`."""
    yield sqlite_backend(tmp_path / "data" / "flowbox.db")


@contextmanager
def postgres_at(tmp_path: Path) -> Iterator[Backend]:
    """A Backend on a fresh schema of the test PostgreSQL, dropped afterwards."""
    with postgres_schema() as url:
        import psycopg

        from flowbox.store.postgres import PostgresStore

        def query(sql: str) -> list[tuple[Any, ...]]:
            with psycopg.connect(url, autocommit=True) as conn:
                cursor = conn.execute(sql)
                return cursor.fetchall() if cursor.description else []

        yield Backend("postgres", lambda: PostgresStore(url), query, "flowbox_migrations")
