"""Fixtures for the Store contract suite: one `backend` per Store implementation.

PostgreSQL is tried at FLOWBOX_TEST_POSTGRES_URL (default postgresql://postgres@127.0.0.1:5432/test);
each test gets a fresh schema, dropped afterwards. Without a server the postgres cases skip,
unless FLOWBOX_REQUIRE_SERVICES=1, which makes them fail instead.
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
import uuid
from collections.abc import Awaitable, Callable, Iterator
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from support import unavailable

from flowbox.store import Store

PG_URL = os.environ.get("FLOWBOX_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")


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


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.services)])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    if request.param == "sqlite":
        yield sqlite_backend(tmp_path / "data" / "flowbox.db")
        return
    try:
        import psycopg
    except ImportError:
        unavailable("psycopg is not installed (pip install flowbox)")
    from flowbox.store.postgres import PostgresStore

    try:
        admin = psycopg.connect(PG_URL, autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as exc:
        unavailable(f"PostgreSQL does not answer at {PG_URL}: {exc}".strip())
    schema = f"flowbox_test_{uuid.uuid4().hex[:12]}"
    admin.execute(f'CREATE SCHEMA "{schema}"')
    url = f"{PG_URL}{'&' if '?' in PG_URL else '?'}options=-csearch_path%3D{schema}"

    def query(sql: str) -> list[tuple[Any, ...]]:
        with psycopg.connect(url, autocommit=True) as conn:
            cursor = conn.execute(sql)
            return cursor.fetchall() if cursor.description else []

    try:
        yield Backend("postgres", lambda: PostgresStore(url), query, "flowbox_migrations")
    finally:
        admin.execute(f'DROP SCHEMA "{schema}" CASCADE')
        admin.close()
