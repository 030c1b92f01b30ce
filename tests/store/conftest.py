"""Backends for the Store contract (`tests/store/contract.py`): how to open each Store implementation on a
fresh database.

PostgreSQL is tried at FLOWBOX_TEST_POSTGRES_URL (default postgresql://postgres@127.0.0.1:5432/test);
each test gets a fresh schema, dropped afterwards (`support.postgres_schema`). Without a server the postgres cases skip,
unless FLOWBOX_REQUIRE_SERVICES=1, which makes them fail instead.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from support import postgres_schema

from flowbox.store import Store, open_store


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



def backend_at(url: str) -> Backend:
    """A Backend on the database at `url` (any scheme `open_store` knows). Raw SQL runs through another
    store on the same database, on a thread of its own, so a test body may count rows while its store is open."""

    def query(sql: str) -> list[tuple[Any, ...]]:
        async def run() -> list[tuple[Any, ...]]:
            store: Any = open_store(url)
            await store.open()
            try:
                if sql.lstrip().upper().startswith(("SELECT", "PRAGMA")):
                    async with store._read() as db:
                        return [tuple(row.values()) for row in await db.fetch(sql)]
                async with store._tx() as db:
                    await db.execute(sql)
                return []
            finally:
                await store.close()

        with ThreadPoolExecutor(1) as pool:
            return pool.submit(asyncio.run, run()).result()

    return Backend(url.split(":")[0], lambda: open_store(url), query, type(open_store(url)).migrations_table)


def sqlite_backend(path: Path) -> Backend:
    return backend_at(str(path))


@pytest.fixture
def sqlite_db(tmp_path: Path) -> Backend:
    return sqlite_backend(tmp_path / "data" / "flowbox.db")


@contextmanager
def sqlite_url(tmp_path: Path) -> Iterator[str]:
    """A fresh SQLite file under `tmp_path`."""
    yield f"sqlite:///{tmp_path}/data/flowbox.db"


@contextmanager
def postgres_url(tmp_path: Path) -> Iterator[str]:
    """A fresh schema of the test PostgreSQL, dropped afterwards."""
    with postgres_schema() as url:
        yield url
