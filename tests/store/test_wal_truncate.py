"""Server mode: a WAL that grew past the limit is emptied by the checkpoint thread once writes pause,
so the next writer's request does not pay for cutting it (the p99 after a pause, BENCHMARKS.md)."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from flowbox.store.base import NodeRun
from flowbox.store.sqlite import SqliteStore


def test_a_grown_wal_is_emptied_when_writes_pause(tmp_path: Path) -> None:
    path = tmp_path / "flowbox.db"
    wal = Path(f"{path}-wal")

    async def main() -> None:
        store = SqliteStore(path, checkpoint_interval=0.05)
        store.wal_truncate_bytes = 64 * 1024
        await store.open()
        try:
            for _ in range(60):
                record = await store.create_execution(workflow_id="w", mode="manual")
                await store.finish_execution(record.id, "success",
                                             runs=[NodeRun(node="A", run_index=0, outputs=[[{"pad": "x" * 4000}]])])
            assert wal.stat().st_size > store.wal_truncate_bytes
            deadline = time.monotonic() + 5
            while wal.stat().st_size > 0:
                assert time.monotonic() < deadline, f"WAL still {wal.stat().st_size} bytes"
                await asyncio.sleep(0.05)
            assert len((await store.list_executions(limit=100)).data) == 60  # nothing lost
        finally:
            await store.close()

    asyncio.run(main())
