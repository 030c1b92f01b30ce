"""The queue over real HTTP: a `flowbox serve` subprocess taking 1,000 webhook calls, per-workflow limits.

Workflows are put in the data dir with `flowbox import` (active) before the server starts;
executions are read from `<data_dir>/flowbox.db` with sqlite3 (WAL: safe while the server runs).
"""

from __future__ import annotations

import asyncio
import json
import signal
import sqlite3
import subprocess
import time
from contextlib import closing
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
from support import node, workflow

from .conftest import FLOWBOX, Server

CALLS = 1000
CLEAN_EXIT = (0, -signal.SIGTERM)  # uvicorn re-raises the SIGTERM it handled, after a clean shutdown
CONCURRENCY = 20


def import_workflow(srv: Server, data: dict[str, Any], active: bool = True) -> str:
    """Store a workflow in the server's data dir (before it starts); returns its id."""
    path = srv.data_dir.parent / f"wf-{data['name']}.json"
    path.write_text(json.dumps({**data, "active": active}))
    srv.data_dir.mkdir(parents=True, exist_ok=True)
    out = subprocess.run([FLOWBOX, "import", str(path)], env=srv.env, capture_output=True, text=True, check=True)
    return out.stdout.split("\t", 1)[0]


def query(srv: Server, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    with closing(sqlite3.connect(srv.data_dir / "flowbox.db", timeout=30)) as conn:
        return conn.execute(sql, params).fetchall()


def statuses(srv: Server, workflow_id: str | None = None) -> dict[str, int]:
    where, params = ("WHERE workflow_id = ?", (workflow_id,)) if workflow_id else ("", ())
    return dict(query(srv, f"SELECT status, count(*) FROM executions {where} GROUP BY status", params))


def wait_until(check: Any, timeout: float, interval: float = 0.1) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(interval)


async def hammer(url: str, calls: int, concurrency: int) -> list[httpx.Response]:
    """`calls` POSTs at `concurrency` in flight; every response (exceptions propagate)."""
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(timeout=60, limits=limits) as client:
        gate = asyncio.Semaphore(concurrency)

        async def one(i: int) -> httpx.Response:
            async with gate:
                return await client.post(url, json={"i": i})

        return await asyncio.gather(*(one(i) for i in range(calls)))


def hook_workflow(name: str, path: str, respond: str, settings: dict[str, Any] | None = None,
                  *after: dict[str, Any]) -> dict[str, Any]:
    nodes = after or (node("Set", "set", fields={"seen": "{{ $json.body.i }}"}),)
    return workflow(node("Hook", "webhook", path=path, method="POST", respond=respond), *nodes, name=name,
                    settings=settings)


def test_thousand_webhooks_queued_and_inline(make_server: Any) -> None:
    srv = make_server()
    queued = import_workflow(srv, hook_workflow("queued", "q", "immediately"))
    inline = import_workflow(srv, hook_workflow("inline", "inline", "lastNode"))
    srv.start()

    started = time.perf_counter()
    responses = asyncio.run(hammer(f"{srv.url}/webhook/q", CALLS, CONCURRENCY))
    answered = time.perf_counter() - started
    assert [r.status_code for r in responses] == [200] * CALLS, {r.status_code for r in responses}
    ids = [r.json()["executionId"] for r in responses]
    assert len(set(ids)) == CALLS
    done = wait_until(lambda: statuses(srv, queued).get("success") == CALLS, timeout=60)
    recorded = time.perf_counter() - started
    assert done, statuses(srv, queued)

    started = time.perf_counter()
    responses = asyncio.run(hammer(f"{srv.url}/webhook/inline", CALLS, CONCURRENCY))
    inline_time = time.perf_counter() - started
    assert [r.status_code for r in responses] == [200] * CALLS, {r.status_code for r in responses}
    assert sorted(r.json()["seen"] for r in responses) == list(range(CALLS))

    assert srv.stop() in CLEAN_EXIT
    assert statuses(srv, queued) == {"success": CALLS}
    assert statuses(srv, inline) == {"success": CALLS}
    stored = {row[0] for row in query(srv, "SELECT id FROM executions WHERE workflow_id = ?", (queued,))}
    assert stored == set(ids)
    print(f"\n{CALLS} queued webhook calls at concurrency {CONCURRENCY}: answered in {answered:.2f} s, all "
          f"recorded as success after {recorded:.2f} s; {CALLS} inline (lastNode) calls: {inline_time:.2f} s")


def test_workflow_concurrency_limit(make_server: Any) -> None:
    """settings.maxConcurrency 1: runs of that workflow never overlap, although 4 consumers are free."""
    srv = make_server({"FLOWBOX_WORKERS": "4"})
    slow = hook_workflow("limited", "limited", "immediately", {"maxConcurrency": 1},
                         node("Pause", "wait", seconds=0.3))
    free = hook_workflow("free", "free", "immediately", None, node("Pause", "wait", seconds=0.3))
    limited_id = import_workflow(srv, slow)
    free_id = import_workflow(srv, free)
    srv.start()
    with srv.client() as client:
        for _ in range(5):
            assert client.post("/webhook/limited", json={}).status_code == 200
            assert client.post("/webhook/free", json={}).status_code == 200
    assert wait_until(lambda: statuses(srv).get("success") == 10, timeout=20), statuses(srv)
    srv.stop()

    def spans(workflow_id: str) -> list[tuple[datetime, datetime]]:
        rows = query(srv, "SELECT started_at, finished_at FROM executions WHERE workflow_id = ? ORDER BY started_at",
                     (workflow_id,))
        return [(datetime.fromisoformat(a), datetime.fromisoformat(b)) for a, b in rows]

    limited = spans(limited_id)
    assert len(limited) == 5
    for (_, end), (start, _) in zip(limited, limited[1:], strict=False):
        assert start >= end, f"two runs of a maxConcurrency=1 workflow overlapped: {limited}"
    # the unlimited one did run side by side (so the check above means something)
    free_spans = spans(free_id)
    assert any(start < end for (_, end), (start, _) in zip(free_spans, free_spans[1:], strict=False)), free_spans


def test_queued_execution_shows_as_queued(make_server: Any) -> None:
    """One consumer busy with a slow run: the next execution is recorded 'queued' until it runs."""
    srv = make_server({"FLOWBOX_WORKERS": "1"})
    wid = import_workflow(srv, hook_workflow("slow", "slow", "immediately", None, node("Pause", "wait", seconds=1)))
    srv.start()
    with srv.client() as client:
        first = client.post("/webhook/slow", json={}).json()["executionId"]
        second = client.post("/webhook/slow", json={}).json()["executionId"]
    assert wait_until(lambda: query(srv, "SELECT status FROM executions WHERE id = ?", (first,)) == [("running",)], 5)
    assert query(srv, "SELECT status FROM executions WHERE id = ?", (second,)) == [("queued",)]
    assert wait_until(lambda: statuses(srv, wid) == {"success": 2}, timeout=10), statuses(srv, wid)


def test_consumer_stop_is_prompt_and_threads_end(tmp_path: Path) -> None:
    """Queue.start/stop in-process: idle consumers end at once, nothing installs signal handlers."""
    from support import Harness

    from flowbox.settings import Settings

    async def main() -> float:
        before = signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)
        data = tmp_path / "data"  # embedded queue whatever FLOWBOX_* the environment holds
        services = Harness(Settings(data_dir=data, database_url=f"sqlite:///{data / 'flowbox.db'}", workers=3))
        await services.start(schedule=False)
        assert services.queue.consuming
        assert (signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)) == before
        threads = [t for _, t in services.queue.consumer.worker_threads]
        assert len(threads) == 3 and all(t.is_alive() for t in threads)
        started = time.perf_counter()
        await services.stop()
        elapsed = time.perf_counter() - started
        assert not any(t.is_alive() for t in threads)
        return elapsed

    assert asyncio.run(main()) < 2.0


def test_throttled_backlog_does_not_block_other_workflows(make_server: Any) -> None:
    srv = make_server({"FLOWBOX_WORKERS": "2"})
    import_workflow(srv, hook_workflow("throttled", "throttled", "immediately", {"maxConcurrency": 1},
                                       node("Pause", "wait", seconds=1)))
    other = import_workflow(srv, hook_workflow("other", "other", "immediately"))
    srv.start()
    with srv.client() as client:
        for _ in range(4):
            assert client.post("/webhook/throttled", json={}).status_code == 200
        time.sleep(0.2)
        called = time.monotonic()
        assert client.post("/webhook/other", json={}).status_code == 200
    assert wait_until(lambda: statuses(srv, other) == {"success": 1}, 5), statuses(srv, other)
    waited = time.monotonic() - called
    assert waited < 1.0, f"a free workflow's execution waited {waited:.1f} s behind a throttled backlog"
