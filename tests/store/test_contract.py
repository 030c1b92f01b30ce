"""The Store contract: every implementation (`backend`: sqlite, postgres) must pass all of it.

Tests are sync and run their async body with `Backend.run` (one `asyncio.run` each).
The last section holds SQLite-only checks (WAL, start-up fast path, durability) and `open_store`.
"""

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

from flowbox.errors import ConfigError, Conflict, NotFound, StoreError
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


def test_create_and_get_workflow(backend: Backend) -> None:
    async def body(store: Store) -> None:
        made = await store.create_workflow("Orders", {"nodes": [{"name": "Start"}], "connections": {}})
        assert made.version == 1 and made.active is False and made.data["name"] == "Orders"
        assert_recent(made.created_at)
        got = await store.get_workflow(made.id)
        assert got == made
        assert got.data == {"nodes": [{"name": "Start"}], "connections": {}, "name": "Orders"}

        fixed = await store.create_workflow("Imported", {"nodes": []}, active=True, id="n8nWorkflow01")
        assert (await store.get_workflow("n8nWorkflow01")).active is True
        assert fixed.id == "n8nWorkflow01"
        with pytest.raises(Conflict):
            await store.create_workflow("Again", {}, id="n8nWorkflow01")

    backend.run(body)


def test_update_workflow_keeps_versions(backend: Backend) -> None:
    async def body(store: Store) -> None:
        wf = await store.create_workflow("Sync", {"nodes": [], "settings": {"a": 1}})
        v2 = await store.update_workflow(wf.id, data={"nodes": [{"name": "A"}], "settings": {"a": 1}})
        assert v2.version == 2 and v2.data["nodes"] == [{"name": "A"}] and v2.data["name"] == "Sync"
        assert v2.created_at == wf.created_at and v2.updated_at and v2.updated_at >= wf.created_at

        same = await store.update_workflow(wf.id, data={"nodes": [{"name": "A"}], "settings": {"a": 1}})
        assert same.version == 2  # nothing changed, no new version

        toggled = await store.update_workflow(wf.id, active=True)
        assert toggled.active is True and toggled.version == 2

        renamed = await store.update_workflow(wf.id, name="Sync v2")
        assert renamed.name == "Sync v2" and renamed.data["name"] == "Sync v2" and renamed.version == 3
        assert renamed.active is True
        assert await store.get_workflow(wf.id) == renamed

        versions = await store.list_versions(wf.id)
        assert [v.version for v in versions] == [2, 1]
        assert versions[1].data == {"nodes": [], "settings": {"a": 1}, "name": "Sync"}
        assert versions[0].data["name"] == "Sync" and versions[0].workflow_id == wf.id
        assert_recent(versions[0].created_at)

    backend.run(body)


def test_failed_update_is_rolled_back(backend: Backend) -> None:
    async def body(store: Store) -> None:
        wf = await store.create_workflow("Keep", {"nodes": []})
        with pytest.raises(TypeError):
            await store.update_workflow(wf.id, data={"nodes": {1, 2}})  # a set is not JSON
        assert await store.get_workflow(wf.id) == wf
        assert await store.list_versions(wf.id) == []
        assert (await store.update_workflow(wf.id, data={"nodes": [1]})).version == 2  # the writer still works

    backend.run(body)


def test_list_workflows_search_active_and_pages(backend: Backend) -> None:
    async def body(store: Store) -> None:
        ids = {}
        for name, active in [("Alpha orders", True), ("beta ORDERS", False), ("Gamma", True),
                             ("Über Sync", False), ("orders sync", True)]:
            ids[name] = (await store.create_workflow(name, {"nodes": []}, active=active)).id
            await tick()
        newest_first = list(reversed(ids.values()))

        everything = await store.list_workflows()
        assert [w.id for w in everything.data] == newest_first and everything.next_cursor is None

        found = await store.list_workflows(search="Orders")
        assert [w.name for w in found.data] == ["orders sync", "beta ORDERS", "Alpha orders"]
        assert [w.name for w in (await store.list_workflows(search="über")).data] == ["Über Sync"]
        assert (await store.list_workflows(search="nothing like it")).data == []

        assert [w.name for w in (await store.list_workflows(active=True)).data] == \
            ["orders sync", "Gamma", "Alpha orders"]
        assert [w.name for w in (await store.list_workflows(active=False, search="sync")).data] == ["Über Sync"]

        seen, cursor, sizes = [], None, []
        while True:
            page = await store.list_workflows(limit=2, cursor=cursor)
            seen += [w.id for w in page.data]
            sizes.append(len(page.data))
            if page.next_cursor is None:
                break
            assert page.next_cursor == page.data[-1].id
            cursor = page.next_cursor
        assert seen == newest_first and sizes == [2, 2, 1]

        page = await store.list_workflows(active=True, limit=2)
        rest = await store.list_workflows(active=True, limit=2, cursor=page.next_cursor)
        assert [w.name for w in page.data + rest.data] == ["orders sync", "Gamma", "Alpha orders"]
        assert rest.next_cursor is None
        exact = await store.list_workflows(limit=5)
        assert len(exact.data) == 5 and exact.next_cursor is None

    backend.run(body)


def test_delete_workflow(backend: Backend) -> None:
    async def body(store: Store) -> None:
        wf = await store.create_workflow("Gone", {"nodes": []})
        other = await store.create_workflow("Stays", {"nodes": []})
        await store.update_workflow(wf.id, data={"nodes": [1]})
        await store.update_workflow(other.id, data={"nodes": [1]})
        await store.delete_workflow(wf.id)
        with pytest.raises(NotFound):
            await store.get_workflow(wf.id)
        assert [w.id for w in (await store.list_workflows()).data] == [other.id]

    backend.run(body)
    assert backend.count("workflow_versions") == 1


def test_missing_ids_raise_not_found(backend: Backend) -> None:
    async def body(store: Store) -> None:
        calls = [
            ("workflow", store.get_workflow("nope")),
            ("workflow", store.update_workflow("nope", name="x")),
            ("workflow", store.delete_workflow("nope")),
            ("workflow", store.list_versions("nope")),
            ("execution", store.get_execution("nope")),
            ("execution", store.delete_execution("nope")),
            ("execution", store.set_execution_status("nope", "running")),
            ("execution", store.finish_execution("nope", "success")),
            ("execution", store.append_node_run("nope", NodeRun("A", 0, [[]]))),
            ("variable", store.delete_variable("nope")),
        ]
        for kind, call in calls:
            with pytest.raises(NotFound) as caught:
                await call
            assert (caught.value.kind, caught.value.id) == (kind, "nope")

    backend.run(body)
    assert backend.count("execution_nodes") == 0


# executions


def test_execution_round_trip(backend: Backend) -> None:
    workflow_data = {"name": "W", "nodes": [{"name": "A"}, {"name": "B"}], "connections": {}}
    first = NodeRun("A", 0, outputs=[[{"id": 1, "nested": {"x": [1.5, None, "ü"]}}], []],
                    started_at=T0, finished_at=T0 + timedelta(milliseconds=5),
                    binary=[[{"data": {"mimeType": "text/plain", "data": "aGk=", "fileName": "a.txt"}}], []],
                    paired=[[0], []], source="Trigger")
    failed = NodeRun("B", 0, outputs=[], error="B broke: bad input", started_at=T0, finished_at=T0)
    second = NodeRun("A", 1, outputs=[[{"id": 2}, {"id": 3}]], paired=[[0, None]],
                     binary=[[None, {"f": {"data": "eA=="}}]])

    async def body(store: Store) -> None:
        made = await store.create_execution(workflow_id="wf1", mode="manual", workflow_data=workflow_data,
                                            input=[{"json": {"q": 1}}], retry_of="earlier")
        assert made.status == "running" and made.nodes == {}
        assert_recent(made.started_at)
        for run in (first, failed, second):
            await store.append_node_run(made.id, run)
        assert (await store.get_execution(made.id)).last_node == "A"
        assert (await store.list_executions(workflow_id="wf1")).data[0].last_node == "A"  # live progress
        await store.finish_execution(made.id, "error", error={"node": "B", "message": "B broke: bad input"},
                                     last_node="B")

        got = await store.get_execution(made.id)
        assert got.nodes == {"A": [first, second], "B": [failed]}
        assert list(got.nodes) == ["A", "B"]
        assert (got.status, got.mode, got.workflow_id, got.retry_of) == ("error", "manual", "wf1", "earlier")
        assert got.error == {"node": "B", "message": "B broke: bad input"} and got.last_node == "B"
        assert got.workflow_data == workflow_data and got.input == [{"json": {"q": 1}}]
        assert got.started_at == made.started_at
        assert_recent(got.finished_at)
        assert got.finished_at >= got.started_at and got.wait_till is None

    backend.run(body)


def test_execution_status_changes(backend: Backend) -> None:
    async def body(store: Store) -> None:
        queued = await store.create_execution(workflow_id=None, mode="webhook", status="queued")
        assert queued.started_at is None and queued.workflow_id is None
        await store.set_execution_status(queued.id, "running")
        running = await store.get_execution(queued.id)
        assert running.status == "running" and running.finished_at is None
        assert_recent(running.started_at)

        until = datetime.now(UTC) + timedelta(hours=1)
        await store.set_execution_status(queued.id, "waiting", wait_till=until)
        waiting = await store.get_execution(queued.id)
        assert (waiting.status, waiting.wait_till, waiting.started_at) == ("waiting", until, running.started_at)

        await store.finish_execution(queued.id, "success")
        done = await store.get_execution(queued.id)
        assert done.status == "success" and done.wait_till is None and done.error is None
        assert_recent(done.finished_at)

        crashed = await store.create_execution(workflow_id="w", mode="trigger")
        await store.set_execution_status(crashed.id, "crashed")
        assert_recent((await store.get_execution(crashed.id)).finished_at)
        with pytest.raises(ValueError):
            await store.set_execution_status(crashed.id, "exploded")
        with pytest.raises(ValueError):
            await store.create_execution(workflow_id="w", mode="manual", status="exploded")

    backend.run(body)


def test_concurrent_writes(backend: Backend) -> None:
    async def body(store: Store) -> None:
        ex = await store.create_execution(workflow_id="w", mode="manual")
        runs = [NodeRun(f"N{i % 3}", i // 3, [[{"i": i}]]) for i in range(30)]
        await asyncio.gather(*(store.append_node_run(ex.id, run) for run in runs),
                             *(store.create_workflow(f"w{i}", {}) for i in range(10)),
                             *(store.set_variable(f"k{i}", "v") for i in range(10)))
        got = await store.get_execution(ex.id)
        assert sorted(r.outputs[0][0]["i"] for rs in got.nodes.values() for r in rs) == list(range(30))
        assert len((await store.list_workflows()).data) == 10 and len(await store.get_variables()) == 10

    backend.run(body)


def test_list_executions_filters_and_pages(backend: Backend) -> None:
    async def body(store: Store) -> None:
        made = []
        for workflow_id, status in [("a", "success"), ("b", "error"), ("a", "error"), ("a", "running"),
                                    ("b", "success"), ("a", "success")]:
            ex = await store.create_execution(workflow_id=workflow_id, mode="trigger")
            await store.append_node_run(ex.id, NodeRun("A", 0, [[{"x": 1}]]))
            if status != "running":
                await store.finish_execution(ex.id, status)
            made.append((ex.id, workflow_id, status))
            await tick()
        newest = list(reversed(made))

        def ids(page_data: list) -> list[str]:
            return [e.id for e in page_data]

        everything = await store.list_executions()
        assert ids(everything.data) == [m[0] for m in newest] and everything.next_cursor is None
        assert all(e.nodes == {} for e in everything.data)
        assert everything.data[0].last_node == "A" and everything.data[0].mode == "trigger"
        assert ids((await store.list_executions(workflow_id="a")).data) == [m[0] for m in newest if m[1] == "a"]
        assert ids((await store.list_executions(status="error")).data) == [m[0] for m in newest if m[2] == "error"]
        assert ids((await store.list_executions(workflow_id="a", status="success")).data) == \
            [m[0] for m in newest if m[1:] == ("a", "success")]
        assert (await store.list_executions(workflow_id="zzz")).data == []

        first = await store.list_executions(workflow_id="a", limit=3)
        second = await store.list_executions(workflow_id="a", limit=3, cursor=first.next_cursor)
        assert len(first.data) == 3 and first.next_cursor == first.data[-1].id
        assert ids(first.data + second.data) == [m[0] for m in newest if m[1] == "a"]
        assert second.next_cursor is None

    backend.run(body)


def test_delete_execution(backend: Backend) -> None:
    async def body(store: Store) -> None:
        gone = await store.create_execution(workflow_id="w", mode="manual")
        kept = await store.create_execution(workflow_id="w", mode="manual")
        for ex in (gone, kept):
            await store.append_node_run(ex.id, NodeRun("A", 0, [[{}]]))
        await store.delete_execution(gone.id)
        with pytest.raises(NotFound):
            await store.get_execution(gone.id)
        assert [e.id for e in (await store.list_executions()).data] == [kept.id]

    backend.run(body)
    assert backend.count("execution_nodes") == 1


def test_prune_by_age(backend: Backend) -> None:
    async def body(store: Store) -> None:
        old = await store.create_execution(workflow_id="w", mode="trigger")
        await store.append_node_run(old.id, NodeRun("A", 0, [[{}]]))
        await store.finish_execution(old.id, "success")
        still_running = await store.create_execution(workflow_id="w", mode="trigger")
        await asyncio.sleep(0.01)
        cutoff = datetime.now(UTC)
        await asyncio.sleep(0.01)
        recent = await store.create_execution(workflow_id="w", mode="trigger")
        await store.finish_execution(recent.id, "error")

        assert await store.prune_executions() == 0
        assert await store.prune_executions(older_than=cutoff) == 1
        assert {e.id for e in (await store.list_executions()).data} == {still_running.id, recent.id}
        assert await store.prune_executions(older_than=datetime.now(UTC) + timedelta(seconds=1)) == 1
        assert [e.id for e in (await store.list_executions()).data] == [still_running.id]

    backend.run(body)
    assert backend.count("execution_nodes") == 0


def test_prune_by_count(backend: Backend) -> None:
    async def body(store: Store) -> None:
        ids = []
        for i in range(6):
            ex = await store.create_execution(workflow_id="w", mode="trigger", status="queued" if i == 0 else "running")
            await store.append_node_run(ex.id, NodeRun("A", 0, [[{"i": i}]]))
            if i not in (0, 1):
                await store.finish_execution(ex.id, "success" if i % 2 else "canceled")
            if i == 1:
                await store.set_execution_status(ex.id, "waiting", wait_till=datetime.now(UTC))
            ids.append(ex.id)
            await tick()
        # oldest first: 0 queued, 1 waiting, 2..5 finished; keep the newest 2 (5 and 4)
        assert await store.prune_executions(keep=10) == 0
        assert await store.prune_executions(keep=2) == 2
        assert [e.id for e in (await store.list_executions()).data] == [ids[5], ids[4], ids[1], ids[0]]
        assert await store.prune_executions(keep=0) == 2
        assert [e.id for e in (await store.list_executions()).data] == [ids[1], ids[0]]
        far_future = datetime.now(UTC) + timedelta(days=1)
        assert await store.prune_executions(keep=0, older_than=far_future) == 0

    backend.run(body)
    assert backend.count("execution_nodes") == 2


# variables


def test_variables(backend: Backend) -> None:
    async def body(store: Store) -> None:
        assert await store.get_variables() == {}
        await store.set_variable("b", "2")
        await store.set_variable("a", "1")
        await store.set_variable("b", "two")
        assert await store.get_variables() == {"a": "1", "b": "two"}
        assert list(await store.get_variables()) == ["a", "b"]
        await store.delete_variable("a")
        assert await store.get_variables() == {"b": "two"}
        with pytest.raises(NotFound):
            await store.delete_variable("a")

    backend.run(body)


# credentials


def test_credentials(backend: Backend) -> None:
    async def body(store: Store) -> None:
        assert (await store.list_credentials()).data == []
        blob = bytes(range(256)) + b"\x00ciphertext"  # any bytes, NULs included, come back as they went in
        made = await store.create_credential("GitHub", "httpHeaderAuth", blob)
        assert made.data == blob and made.type == "httpHeaderAuth"
        assert_recent(made.created_at)
        got = await store.get_credential(made.id)
        assert got == made and isinstance(got.data, bytes)
        await tick()
        other = await store.create_credential("Basic", "httpBasicAuth", b"x", id="cred01")
        with pytest.raises(Conflict):
            await store.create_credential("Again", "httpBasicAuth", b"y", id="cred01")

        page = await store.list_credentials()
        assert {c.id for c in page.data} == {made.id, other.id}
        assert [c.id for c in (await store.list_credentials(type="httpHeaderAuth")).data] == [made.id]
        first = await store.list_credentials(limit=1)
        assert len(first.data) == 1 and first.next_cursor
        rest = await store.list_credentials(limit=1, cursor=first.next_cursor)
        assert len(rest.data) == 1 and rest.data[0].id != first.data[0].id and rest.next_cursor is None

        renamed = await store.update_credential(made.id, name="GitHub token")
        assert renamed.name == "GitHub token" and renamed.data == blob and renamed.created_at == made.created_at
        changed = await store.update_credential(made.id, data=b"new blob")
        assert changed.name == "GitHub token" and (await store.get_credential(made.id)).data == b"new blob"
        with pytest.raises(NotFound):
            await store.update_credential("nope", name="x")

        assert [c.id for c in await store.all_credentials()] == sorted([made.id, other.id])
        assert await store.reencrypt_credentials(lambda id, data: id.encode() + b":" + data) == 2
        assert (await store.get_credential(other.id)).data == b"cred01:x"

        def fail(id: str, data: bytes) -> bytes:
            if id == "cred01":
                raise ValueError("cannot decrypt")
            return b"half"

        with pytest.raises(ValueError):
            await store.reencrypt_credentials(fail)
        assert (await store.get_credential(made.id)).data == made.id.encode() + b":new blob"  # all or nothing

        await store.delete_credential(made.id)
        with pytest.raises(NotFound):
            await store.get_credential(made.id)
        with pytest.raises(NotFound):
            await store.delete_credential(made.id)

    backend.run(body)


# migrations


def test_migrations_apply_once_and_keep_data(backend: Backend) -> None:
    async def write(store: Store) -> None:
        await store.create_workflow("Survives", {"nodes": []})
        await store.set_variable("k", "v")

    async def read(store: Store) -> None:
        assert [w.name for w in (await store.list_workflows()).data] == ["Survives"]
        assert await store.get_variables() == {"k": "v"}

    backend.run(write)
    names = [row[0] for row in backend.query(f"SELECT name FROM {backend.migrations_table} ORDER BY id")]
    assert names == migration_names()
    backend.run(read)
    backend.run(read)
    assert backend.count(backend.migrations_table) == len(names)


def test_newer_schema_is_refused(backend: Backend) -> None:
    async def nothing(store: Store) -> None:
        pass

    backend.run(nothing)
    backend.query(f"INSERT INTO {backend.migrations_table} (migration_set, name, applied_at)"
                  " VALUES ('flowbox', '9999_from_the_future', 'x')")
    with pytest.raises(StoreError, match="9999_from_the_future"):
        backend.run(nothing)


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


def test_start_node_snapshots_and_due_waits(backend: Backend) -> None:
    async def body(store: Store) -> None:
        now = datetime.now(UTC)
        soon = await store.create_execution(workflow_id="w", mode="webhook", status="queued", start_node="Hook")
        assert (await store.get_execution(soon.id)).start_node == "Hook"
        later = await store.create_execution(workflow_id="w", mode="trigger")
        await store.set_execution_status(soon.id, "waiting", wait_till=now - timedelta(seconds=1))
        await store.set_execution_status(later.id, "waiting", wait_till=now + timedelta(hours=1))
        assert [e.id for e in await store.list_due(now)] == [soon.id]
        assert [e.id for e in await store.list_due(now + timedelta(hours=2))] == [soon.id, later.id]
        assert await store.get_snapshot(soon.id) is None
        await store.save_snapshot(soon.id, b"state-1")
        await store.save_snapshot(soon.id, b"state-2")
        assert await store.get_snapshot(soon.id) == b"state-2"
        await store.save_snapshot(soon.id, None)
        assert await store.get_snapshot(soon.id) is None
        await store.save_snapshot(later.id, b"x")
        await store.delete_execution(later.id)
        assert await store.get_snapshot(later.id) is None

    backend.run(body)


def test_claim_execution_is_exclusive(backend: Backend) -> None:
    async def body(store: Store) -> None:
        made = await store.create_execution(workflow_id="w", mode="trigger", status="queued")
        results = await asyncio.gather(*(store.claim_execution(made.id) for _ in range(5)))
        assert sorted(results) == [False, False, False, False, True]
        got = await store.get_execution(made.id)
        assert got.status == "running" and got.started_at is not None
        assert not await store.claim_execution(made.id)
        await store.set_execution_status(made.id, "waiting", wait_till=datetime.now(UTC))
        assert await store.claim_execution(made.id, ("queued", "waiting"))
        assert (await store.get_execution(made.id)).wait_till is None

    backend.run(body)


def test_users_and_api_keys(backend: Backend) -> None:
    async def body(store: Store) -> None:
        assert await store.count_users() == 0
        owner = await store.create_user("owner@example.com", "owner", "scrypt$hash")
        with pytest.raises(Conflict):
            await store.create_user("owner@example.com", "member", "x")
        member = await store.create_user("member@example.com", "member", "scrypt$other")
        assert await store.count_users() == 2
        assert (await store.get_user_by_email("owner@example.com")).id == owner.id
        assert {u.email for u in await store.list_users()} == {"owner@example.com", "member@example.com"}
        with pytest.raises(NotFound):
            await store.get_user_by_email("nobody@example.com")
        await store.update_user(member.id, role="admin")
        assert (await store.get_user(member.id)).role == "admin"
        key = await store.create_api_key(owner.id, "fbk_abcdefgh", "sha256-of-the-key", name="ci")
        found = await store.find_api_key("sha256-of-the-key")
        assert found is not None and found[0].id == key.id and found[1].email == "owner@example.com"
        assert await store.find_api_key("some-other-hash") is None
        assert [k.id for k in await store.list_api_keys(owner.id)] == [key.id]
        await store.delete_api_key(key.id)
        assert await store.find_api_key("sha256-of-the-key") is None

    backend.run(body)


def test_audit_log(backend: Backend) -> None:
    from flowbox.store.base import AuditEntry

    async def body(store: Store) -> None:
        assert (await store.list_audit()).data == []
        first = await store.append_audit(AuditEntry(action="workflow.create", actor="a@example.com",
                                                    target_kind="workflow", target_id="w1", ip="127.0.0.1",
                                                    details={"name": "One", "n": [1, 2]}))
        assert first.id and first.at is not None
        await tick()
        await store.append_audit(AuditEntry(action="workflow.delete", actor="cli", target_kind="workflow",
                                            target_id="w1"))
        await tick()
        await store.append_audit(AuditEntry(action="auth.failed", actor="anonymous", ip="10.0.0.9"))
        page = await store.list_audit()
        assert [e.action for e in page.data] == ["auth.failed", "workflow.delete", "workflow.create"]
        assert page.next_cursor is None
        got = page.data[-1]
        assert (got.id, got.actor, got.target_kind, got.target_id, got.ip, got.details) == (
            first.id, "a@example.com", "workflow", "w1", "127.0.0.1", {"name": "One", "n": [1, 2]})
        assert got.at is not None and got.at.tzinfo is not None and abs((got.at - first.at).total_seconds()) < 1
        assert page.data[0].target_id is None and page.data[0].details == {}
        assert [e.action for e in (await store.list_audit(action="workflow.delete")).data] == ["workflow.delete"]
        assert [e.action for e in (await store.list_audit(action="workflow.*")).data] == [
            "workflow.delete", "workflow.create"]
        assert [e.action for e in (await store.list_audit(actor="cli")).data] == ["workflow.delete"]
        one = await store.list_audit(limit=2)
        assert [e.action for e in one.data] == ["auth.failed", "workflow.delete"] and one.next_cursor
        two = await store.list_audit(limit=2, cursor=one.next_cursor)
        assert [e.action for e in two.data] == ["workflow.create"] and two.next_cursor is None

    backend.run(body)
