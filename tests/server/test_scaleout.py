"""Scale-out: one `flowbox serve` taking webhooks and two `flowbox worker` processes running them,
on PostgreSQL (a fresh schema per test) and Redis (a fresh queue name per test).

Without PostgreSQL/Redis on 127.0.0.1 these tests skip, unless FLOWBOX_REQUIRE_SERVICES=1,
which makes them fail instead.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from support import node, unavailable, workflow

from .conftest import FLOWBOX
from .test_queue import CLEAN_EXIT, hammer

PG_URL = os.environ.get("FLOWBOX_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("FLOWBOX_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")



@dataclass
class Cluster:
    """Environment shared by the server and the workers, and the processes started on it."""

    env: dict[str, str]
    db_url: str
    tmp: Path
    workers: list[tuple[subprocess.Popen[bytes], Path]] = field(default_factory=list)

    def sql(self, statement: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        import psycopg

        with psycopg.connect(self.db_url, autocommit=True) as conn:
            cursor = conn.execute(statement, params)
            return cursor.fetchall() if cursor.description else []

    def statuses(self) -> dict[str, int]:
        return dict(self.sql("SELECT status, count(*) FROM executions GROUP BY status"))

    def flowbox(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([FLOWBOX, *args], env=self.env, capture_output=True, text=True, timeout=60)

    def start_worker(self, *args: str, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
        log = self.tmp / f"worker-{len(self.workers)}.log"
        out = open(log, "ab")  # noqa: SIM115 - kept open for the child's lifetime
        proc = subprocess.Popen([FLOWBOX, "worker", *args], env={**self.env, **(env or {})}, stdout=out,
                                stderr=subprocess.STDOUT)
        self.workers.append((proc, log))
        deadline = time.monotonic() + 30
        while "ready" not in log.read_text(errors="replace"):
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"worker did not start:\n{log.read_text(errors='replace')}")
            time.sleep(0.05)
        return proc

    def stop_worker(self, proc: subprocess.Popen[bytes], timeout: float = 20) -> tuple[int, str]:
        log = next(path for p, path in self.workers if p is proc)
        proc.send_signal(signal.SIGTERM)
        try:
            code = proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            raise AssertionError(f"worker ignored SIGTERM:\n{log.read_text(errors='replace')}") from None
        return code, log.read_text(errors="replace")


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[Cluster]:
    try:
        import psycopg
        import redis
    except ImportError as exc:
        unavailable(f"{exc.name} is not installed (pip install flowbox)")
    try:
        admin = psycopg.connect(PG_URL, autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as exc:
        unavailable(f"PostgreSQL does not answer at {PG_URL}: {exc}".strip())
    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=3)
    try:
        client.ping()
    except redis.RedisError as exc:
        admin.close()
        unavailable(f"Redis does not answer at {REDIS_URL}: {exc}")
    suffix = uuid.uuid4().hex[:12]
    schema, queue = f"flowbox_scale_{suffix}", f"flowboxtest{suffix}"
    admin.execute(f'CREATE SCHEMA "{schema}"')
    db_url = f"{PG_URL}{'&' if '?' in PG_URL else '?'}options=-csearch_path%3D{schema}"
    env = {**os.environ, "FLOWBOX_DATABASE_URL": db_url, "FLOWBOX_REDIS_URL": REDIS_URL,
           "FLOWBOX_QUEUE_NAME": queue, "FLOWBOX_DATA_DIR": str(tmp_path / "data"), "FLOWBOX_UI": "0",
           "FLOWBOX_SHUTDOWN_TIMEOUT": "10"}
    made = Cluster(env, db_url, tmp_path)
    try:
        yield made
    finally:
        for proc, _ in made.workers:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        admin.execute(f'DROP SCHEMA "{schema}" CASCADE')
        admin.close()
        for key in client.scan_iter(f"huey.*.{queue}*"):
            client.delete(key)
        client.close()


def import_active(cluster: Cluster, data: dict[str, Any]) -> str:
    path = cluster.tmp / f"{data['name']}.json"
    path.write_text(json.dumps({**data, "active": True}))
    out = cluster.flowbox("import", str(path))
    assert out.returncode == 0, out.stderr
    return out.stdout.split("\t", 1)[0]


def handled(log: str) -> int:
    found = re.search(r"handled (\d+) queued execution", log)
    assert found, log[-3000:]
    return int(found.group(1))


def wait_until(check: Any, timeout: float) -> Any:
    deadline = time.monotonic() + timeout
    while not (value := check()) and time.monotonic() < deadline:
        time.sleep(0.1)
    return value


@pytest.mark.services
def test_server_enqueues_and_two_workers_run_everything(cluster: Cluster, make_server: Any) -> None:
    wid = import_active(cluster, workflow(
        node("Hook", "webhook", path="scale", method="POST", respond="immediately"),
        node("Set", "set", fields={"seen": "{{ $json.body.i }}"}), name="scale"))
    first = cluster.start_worker()
    second = cluster.start_worker()
    srv = make_server(env={k: v for k, v in cluster.env.items() if k.startswith("FLOWBOX_") and k not in (
        "FLOWBOX_DATA_DIR",)})
    srv.start()

    started = time.perf_counter()
    responses = asyncio.run(hammer(f"{srv.url}/webhook/scale", 200, 20))
    assert {r.status_code for r in responses} == {200}
    ids = {r.json()["executionId"] for r in responses}
    assert wait_until(lambda: cluster.statuses() == {"success": 200}, 30), cluster.statuses()
    took = time.perf_counter() - started
    assert {row[0] for row in cluster.sql("SELECT id FROM executions WHERE workflow_id = %s", (wid,))} == ids

    # the server ran none of them: its metrics count no finished execution
    metrics = httpx.get(f"{srv.url}/metrics").text
    assert not re.search(r'^flowbox_executions_total\{.*\} [1-9]', metrics, re.M), metrics
    assert "not here" in srv.logs()  # "scale-out mode: queued executions run in `flowbox worker` processes"

    counts = []
    for proc in (first, second):
        code, log = cluster.stop_worker(proc)
        assert code == 0, log[-3000:]
        counts.append(handled(log))
    assert sum(counts) == 200 and all(counts), counts
    assert srv.stop() in CLEAN_EXIT
    print(f"\nscale-out: 200 webhook calls run by two workers ({counts}) in {took:.2f} s")


@pytest.mark.services
def test_worker_sigterm_finishes_its_run_and_leaves_the_rest_queued(cluster: Cluster, make_server: Any) -> None:
    wid = import_active(cluster, workflow(
        node("Hook", "webhook", path="slow", method="POST", respond="immediately"),
        node("Pause", "wait", seconds=1.5), name="slow"))
    worker = cluster.start_worker("--concurrency", "1")
    srv = make_server(env={k: v for k, v in cluster.env.items() if k.startswith("FLOWBOX_") and k not in (
        "FLOWBOX_DATA_DIR",)})
    srv.start()
    with srv.client() as client:
        ids = [client.post("/webhook/slow", json={}).json()["executionId"] for _ in range(3)]
    assert wait_until(lambda: cluster.statuses().get("running") == 1, 10), cluster.statuses()
    started = time.monotonic()
    code, log = cluster.stop_worker(worker)
    assert code == 0, log[-3000:]
    assert time.monotonic() - started < 5
    assert cluster.statuses() == {"success": 1, "queued": 2}, cluster.statuses()

    # the queued ones are still on the queue: a new worker runs them
    cluster.start_worker("--concurrency", "2")
    assert wait_until(lambda: cluster.statuses() == {"success": 3}, 15), cluster.statuses()
    assert {row[0] for row in cluster.sql("SELECT id FROM executions WHERE workflow_id = %s", (wid,))} == set(ids)
    assert srv.stop() in CLEAN_EXIT


def test_worker_needs_a_redis_queue(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("FLOWBOX_REDIS_URL", "FLOWBOX_DATABASE_URL")}
    out = subprocess.run([FLOWBOX, "worker", "--data-dir", str(tmp_path / "data")], env=env, capture_output=True,
                         text=True, timeout=60)
    assert out.returncode == 1
    assert "FLOWBOX_REDIS_URL" in out.stderr
