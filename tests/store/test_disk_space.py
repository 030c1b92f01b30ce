"""The SQLite file gives pruned space back (incremental vacuum), an old file is switched to it once (after a
backup), the WAL is emptied when writes pause, and the writer survives a transaction SQLite rolled back."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from contextlib import closing
from pathlib import Path

import pytest

from flowbox.errors import StoreError
from flowbox.store.base import NodeRun
from flowbox.store.migrations import apply_migrations
from flowbox.store.sqlite import SqliteStore

PAD = "x" * 100_000


def pragma(path: Path, name: str) -> int:
    with closing(sqlite3.connect(path)) as conn:
        return int(conn.execute(f"PRAGMA {name}").fetchone()[0])


def on_disk(path: Path) -> int:
    """The database file and its WAL, in bytes."""
    wal = Path(f"{path}-wal")
    return path.stat().st_size + (wal.stat().st_size if wal.exists() else 0)


async def record_big(store: SqliteStore, count: int) -> list[str]:
    """`count` finished executions of ~300 KB each (a 100 KB input and two node runs holding it)."""
    ids = []
    for _ in range(count):
        record = await store.create_execution(workflow_id="w", mode="webhook", input=[{"pad": PAD}])
        await store.finish_execution(record.id, "success", runs=[NodeRun("A", 0, [[{"pad": PAD}]]),
                                                                NodeRun("B", 0, [[{"pad": PAD}]])])
        ids.append(record.id)
    return ids


def test_a_new_database_is_made_with_incremental_vacuum(tmp_path: Path) -> None:
    path = tmp_path / "flowbox.db"
    apply_migrations(path)
    assert pragma(path, "auto_vacuum") == 2  # set before WAL: afterwards it would no longer take


def test_pruned_space_goes_back_to_the_file_system(tmp_path: Path) -> None:
    path = tmp_path / "flowbox.db"

    async def main() -> tuple[int, int, int]:
        store = SqliteStore(path, checkpoint_interval=0.05)
        await store.open()
        try:
            await record_big(store, 80)
            await asyncio.sleep(0.3)  # the checkpoint thread copies the WAL into the file
            before = path.stat().st_size
            assert await store.prune_executions(keep=2) == 78
            released = steps = 0
            deadline = time.monotonic() + 5
            while True:  # nothing is released while the checkpoints are behind (a loaded machine): wait for them
                step = await store.release_space()
                if step:
                    released += step
                    steps += 1
                elif released or time.monotonic() > deadline:
                    break
                else:
                    await asyncio.sleep(0.05)
            deadline = time.monotonic() + 5
            while on_disk(path) > before // 4 and time.monotonic() < deadline:
                await asyncio.sleep(0.05)  # the next checkpoint cuts the file; a pause empties the WAL
            assert len((await store.list_executions(limit=10)).data) == 2
            return before, released, steps
        finally:
            await store.close()

    before, released, steps = asyncio.run(main())
    assert before > 20_000_000
    assert released > before * 0.7  # all but the slack kept for new writes (4 MB here)
    assert steps > 1, "in several short steps, not one long one"
    assert on_disk(path) < before // 4, f"{on_disk(path)} bytes of {before} are still on disk"


def test_free_pages_up_to_the_slack_stay_for_new_writes(tmp_path: Path) -> None:
    path = tmp_path / "flowbox.db"

    async def main() -> tuple[int, int]:
        store = SqliteStore(path)
        await store.open()
        try:
            await record_big(store, 10)
            await store.prune_executions(keep=0)
            while await store.release_space(keep_free=2_000_000):
                pass
            kept = pragma(path, "freelist_count") * pragma(path, "page_size")
            while await store.release_space(keep_free=0):
                pass
            return kept, pragma(path, "freelist_count")
        finally:
            await store.close()

    kept, left = asyncio.run(main())
    assert 1_500_000 < kept <= 2_000_000
    assert left == 0


def test_an_old_database_is_switched_to_incremental_vacuum_once_after_a_backup(tmp_path: Path) -> None:
    path = tmp_path / "flowbox.db"
    apply_migrations(path)
    with closing(sqlite3.connect(path, isolation_level=None)) as conn:  # as flowbox made it before
        conn.execute("PRAGMA auto_vacuum = NONE")
        conn.execute("VACUUM")
        conn.execute("INSERT INTO variables (key, value) VALUES ('kept', 'yes')")
    assert pragma(path, "auto_vacuum") == 0

    async def open_close(**options: object) -> None:
        store = SqliteStore(path, **options)  # type: ignore[arg-type]
        await store.open()
        assert await store.get_variables() == {"kept": "yes"}
        await store.close()

    asyncio.run(open_close())  # `flowbox run` and the other commands leave it alone
    assert pragma(path, "auto_vacuum") == 0
    asyncio.run(open_close(incremental_vacuum=True))  # a server switches it at start
    assert pragma(path, "auto_vacuum") == 2
    backup = tmp_path / "flowbox.db.pre-auto-vacuum.bak"
    assert pragma(backup, "auto_vacuum") == 0
    with closing(sqlite3.connect(backup)) as conn:
        assert conn.execute("SELECT value FROM variables").fetchall() == [("yes",)]
    made = backup.stat().st_mtime_ns
    asyncio.run(open_close(incremental_vacuum=True))
    assert backup.stat().st_mtime_ns == made, "once"


def test_a_small_wal_is_emptied_when_writes_pause(tmp_path: Path) -> None:
    path = tmp_path / "flowbox.db"
    wal = Path(f"{path}-wal")

    async def main() -> None:
        store = SqliteStore(path, checkpoint_interval=0.05)
        await store.open()
        try:
            for _ in range(20):
                await store.set_variable("k", "v" * 1000)
            assert 0 < wal.stat().st_size < store.wal_truncate_bytes
            deadline = time.monotonic() + 5
            while wal.stat().st_size > 0:
                assert time.monotonic() < deadline, f"WAL still {wal.stat().st_size} bytes"
                await asyncio.sleep(0.05)
            assert await store.get_variables() == {"k": "v" * 1000}
        finally:
            await store.close()

    asyncio.run(main())


def test_a_transaction_sqlite_rolled_back_fails_its_whole_group_and_the_writer_goes_on(tmp_path: Path) -> None:
    """After SQLITE_FULL or an I/O error SQLite may roll the whole transaction back: every write of that group
    is gone, so every caller gets the error (none a false success), and the writer thread lives on."""
    path = tmp_path / "flowbox.db"

    async def main() -> None:
        store = SqliteStore(path)
        await store.open()
        try:
            writer = store._open_writer
            release = asyncio.Event()

            def hold(conn: sqlite3.Connection) -> None:  # keeps the writer busy while the next two queue up
                asyncio.run_coroutine_threadsafe(release.wait(), loop).result(5)

            def lose_transaction(conn: sqlite3.Connection) -> None:
                conn.execute("ROLLBACK")  # what SQLite does itself after some disk errors
                raise sqlite3.OperationalError("database or disk is full")

            loop = asyncio.get_running_loop()
            first = writer.submit(hold)
            await asyncio.sleep(0.05)
            write = asyncio.ensure_future(store.set_variable("a", "1"))
            await asyncio.sleep(0.05)
            lost = writer.submit(lose_transaction)
            release.set()
            await first
            results = await asyncio.wait_for(asyncio.gather(write, lost, return_exceptions=True), 5)
            assert all(isinstance(r, (StoreError, sqlite3.Error)) for r in results), results
            assert await store.get_variables() == {}, "nothing of the lost group was committed"
            await asyncio.wait_for(store.set_variable("b", "2"), 5)
            assert await store.get_variables() == {"b": "2"}
        finally:
            await store.close()

    asyncio.run(main())


@pytest.mark.parametrize("failing", [True, False])
def test_writable_probes_only_after_a_write_failed_for_lack_of_space(tmp_path: Path, failing: bool) -> None:
    path = tmp_path / "flowbox.db"

    async def main() -> tuple[bool, str | None]:
        store = SqliteStore(path)
        await store.open()
        try:
            if failing:
                store._open_writer.failure = "database or disk is full"
            return await store.writable(), store._open_writer.failure
        finally:
            await store.close()

    assert asyncio.run(main()) == (True, None)  # here the probe write succeeds: writes work again


def test_the_writer_copies_the_wal_into_the_database_when_asked(tmp_path: Path) -> None:
    """Under writes that never pause the checkpoint thread can fall behind for good; past the limit it asks
    the writer thread to copy the rest between two groups, where no write comes in meanwhile."""
    path = tmp_path / "flowbox.db"

    async def main() -> tuple[int, int]:
        store = SqliteStore(path, checkpoint_interval=3600)  # the thread stays out of it: only the writer copies
        await store.open()
        try:
            for _ in range(50):
                await store.create_execution(workflow_id="w", mode="webhook", input=[{"pad": "v" * 3000}])
            before = path.stat().st_size
            store._open_writer.request_checkpoint()
            store._open_writer.request_checkpoint()  # one request waits at a time
            await store.set_variable("after", "1")  # a group behind the request: the copy ran first
            return before, path.stat().st_size
        finally:
            await store.close()

    before, after = asyncio.run(main())
    assert after > before + 100_000, (before, after)
