"""The Store contract: what every Store implementation must do, as one class of tests.

A backend's test module subclasses `StoreContract` and says where a fresh database is (`database`: a
context manager yielding its URL for `open_store`): `tests/store/test_sqlite_store.py` and
`test_postgres_store.py` are the whole of it, and a third backend is one more such module. Tests are sync and run their async body with
`Backend.run` (one `asyncio.run` each).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, ClassVar

import pytest

from flowbox.errors import Conflict, NotFound, StoreError
from flowbox.store import NodeRun, Store
from flowbox.store.base import SessionRecord
from flowbox.store.migrations import migration_names

from .conftest import Backend, backend_at

T0 = datetime(2024, 5, 1, 12, 0, 0, 123456, tzinfo=UTC)
ODD = ["nul\0inside", "\0", "\U0010fffd", "\U0010fffd0", "\U0010fffd\U0010fffd", "\\u0000 as text", "plain"]


async def tick() -> None:
    """Let the millisecond clock in ids move on, so creation order is id order."""
    await asyncio.sleep(0.002)


def assert_recent(dt: datetime | None) -> None:
    assert dt is not None and dt.tzinfo is not None and dt.utcoffset() == timedelta(0)
    assert abs(datetime.now(UTC) - dt) < timedelta(minutes=1)


def session(user_id: str, id: str) -> SessionRecord:
    return SessionRecord(id=id * 64, user_id=user_id, csrf="c", expires_at=datetime.now(UTC) + timedelta(days=1))


class StoreContract:
    """Every test here runs against the `backend` of the subclass."""

    database: ClassVar[Callable[[Path], AbstractContextManager[str]]]

    @pytest.fixture
    def backend(self, tmp_path: Path) -> Iterator[Backend]:
        with type(self).database(tmp_path) as url:
            yield backend_at(url)

    # workflows, executions, variables, credentials, migrations, NUL characters

    def test_create_and_get_workflow(self, backend: Backend) -> None:
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

    def test_update_workflow_keeps_versions(self, backend: Backend) -> None:
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

    def test_failed_update_is_rolled_back(self, backend: Backend) -> None:
        async def body(store: Store) -> None:
            wf = await store.create_workflow("Keep", {"nodes": []})
            with pytest.raises(TypeError):
                await store.update_workflow(wf.id, data={"nodes": {1, 2}})  # a set is not JSON
            assert await store.get_workflow(wf.id) == wf
            assert await store.list_versions(wf.id) == []
            assert (await store.update_workflow(wf.id, data={"nodes": [1]})).version == 2  # the writer still works

        backend.run(body)

    def test_list_workflows_search_active_and_pages(self, backend: Backend) -> None:
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

    def test_delete_workflow(self, backend: Backend) -> None:
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

    def test_missing_ids_raise_not_found(self, backend: Backend) -> None:
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

    def test_execution_round_trip(self, backend: Backend) -> None:
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
                                         last_node="B", custom_data={"order": "42", "für": "ü"})

            got = await store.get_execution(made.id)
            assert got.nodes == {"A": [first, second], "B": [failed]}
            assert list(got.nodes) == ["A", "B"]
            assert (got.status, got.mode, got.workflow_id, got.retry_of) == ("error", "manual", "wf1", "earlier")
            assert got.error == {"node": "B", "message": "B broke: bad input"} and got.last_node == "B"
            assert got.workflow_data == workflow_data and got.input == [{"json": {"q": 1}}]
            assert got.started_at == made.started_at
            assert_recent(got.finished_at)
            assert got.finished_at >= got.started_at and got.wait_till is None
            assert got.custom_data == {"order": "42", "für": "ü"}
            assert (await store.list_executions(workflow_id="wf1")).data[0].custom_data == {"order": "42", "für": "ü"}
            found = await store.list_executions(custom_data={"order": "42", "für": "ü"})
            assert [e.id for e in found.data] == [made.id]
            assert (await store.list_executions(custom_data={"order": "43"})).data == []
            assert (await store.list_executions(custom_data={'we"ird': "x"})).data == []

        backend.run(body)

    def test_execution_status_changes(self, backend: Backend) -> None:
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

    def test_concurrent_writes(self, backend: Backend) -> None:
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

    def test_list_executions_filters_and_pages(self, backend: Backend) -> None:
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

    def test_delete_execution(self, backend: Backend) -> None:
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

    def test_prune_by_age(self, backend: Backend) -> None:
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

    def test_prune_by_count(self, backend: Backend) -> None:
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

    def test_variables(self, backend: Backend) -> None:
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

    def test_credentials(self, backend: Backend) -> None:
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

    def test_migrations_apply_once_and_keep_data(self, backend: Backend) -> None:
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

    def test_newer_schema_is_refused(self, backend: Backend) -> None:
        async def nothing(store: Store) -> None:
            pass

        backend.run(nothing)
        backend.query(f"INSERT INTO {backend.migrations_table} (migration_set, name, applied_at)"
                      " VALUES ('flowbox', '9999_from_the_future', 'x')")
        with pytest.raises(StoreError, match="9999_from_the_future"):
            backend.run(nothing)

    def test_start_node_snapshots_and_due_waits(self, backend: Backend) -> None:
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

    def test_claim_execution_is_exclusive(self, backend: Backend) -> None:
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

    def test_users_and_api_keys(self, backend: Backend) -> None:
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

    def test_audit_log(self, backend: Backend) -> None:
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

    def test_nul_characters_round_trip(self, backend: Backend) -> None:
        from flowbox.store.base import AuditEntry

        odd = {text: [text, {text: text}] for text in ODD}  # as values, keys and in lists
        name = "Orders\0" + "\U0010fffd0"

        async def body(store: Store) -> None:
            made = await store.create_workflow(name, {"nodes": [{"name": "Hook\0", "parameters": odd}]})
            await store.update_workflow(made.id, data={"nodes": [], "pinData": odd})
            got = await store.get_workflow(made.id)
            assert got.name == name and got.data == {"nodes": [], "pinData": odd, "name": name}
            assert (await store.list_versions(made.id))[0].data["nodes"][0] == {"name": "Hook\0", "parameters": odd}
            assert [w.id for w in (await store.list_workflows(search="s\0")).data] == [made.id]

            run = NodeRun("Hook\0", 0, outputs=[[{"body": odd}]], error="failed: \0")
            execution = await store.create_execution(workflow_id=made.id, mode="webhook", workflow_data=got.data,
                                                     input=[{"json": {"body": odd}}], start_node="Hook\0")
            await store.finish_execution(execution.id, "error", error={"message": "\0", "odd": odd},
                                         last_node="Hook\0", runs=[run])
            done = await store.get_execution(execution.id)
            assert done.input == [{"json": {"body": odd}}] and done.workflow_data == got.data
            assert done.error == {"message": "\0", "odd": odd} and done.last_node == "Hook\0"
            assert done.nodes == {"Hook\0": [run]}

            for text in ODD:
                await store.set_variable(f"key{len(text)}{text}", text)
            assert await store.get_variables() == {f"key{len(text)}{text}": text for text in ODD}
            await store.set_static_data(made.id, "Hook\0", odd)
            assert await store.get_static_data(made.id, "Hook\0") == odd
            await store.append_audit(AuditEntry(action="workflow.create", actor="a\0@example.com", details=odd))
            entry = (await store.list_audit()).data[0]
            assert (entry.actor, entry.details) == ("a\0@example.com", odd)

        backend.run(body)

    # ownership, sharing, editor sessions and removing users

    def test_owner_and_shares_filter_lists(self, backend: Backend) -> None:
        async def body(store: Store) -> None:
            ann = await store.create_user("ann@example.com", "member", "h")
            bob = await store.create_user("bob@example.com", "member", "h")
            mine = await store.create_workflow("ann's", {"nodes": []}, owner_id=ann.id)
            legacy = await store.create_workflow("no owner", {"nodes": []})
            assert (await store.get_workflow(mine.id)).owner_id == ann.id
            assert (await store.update_workflow(mine.id, name="renamed")).owner_id == ann.id
            assert [w.id for w in (await store.list_workflows(visible_to=ann.id)).data] == [mine.id]
            assert (await store.list_workflows(visible_to=bob.id)).data == []
            assert {w.id for w in (await store.list_workflows()).data} == {mine.id, legacy.id}
            await store.set_shares("workflow", mine.id, [bob.id, bob.id])
            assert await store.get_shares("workflow", mine.id) == [bob.id]
            assert [w.id for w in (await store.list_workflows(visible_to=bob.id)).data] == [mine.id]
            with pytest.raises(NotFound):
                await store.set_shares("workflow", mine.id, ["no-such-user"])
            assert await store.get_shares("workflow", mine.id) == [bob.id]  # nothing changed
            run = await store.create_execution(workflow_id=mine.id, mode="manual")
            await store.create_execution(workflow_id=legacy.id, mode="manual")
            assert [e.id for e in (await store.list_executions(visible_to=bob.id)).data] == [run.id]
            cred = await store.create_credential("key", "httpHeaderAuth", b"blob", owner_id=ann.id)
            assert (await store.list_credentials(visible_to=bob.id)).data == []
            await store.set_shares("credential", cred.id, [bob.id])
            assert [c.id for c in (await store.list_credentials(visible_to=bob.id)).data] == [cred.id]
            assert (await store.update_credential(cred.id, name="k2")).owner_id == ann.id
            await store.set_shares("workflow", mine.id, [])
            assert (await store.list_workflows(visible_to=bob.id)).data == []
            await store.delete_credential(cred.id)
            assert await store.get_shares("credential", cred.id) == []

        backend.run(body)

    def test_sessions_expire_and_end(self, backend: Backend) -> None:
        async def body(store: Store) -> None:
            user = await store.create_user("ann@example.com", "member", "h")
            now = datetime.now(UTC)
            live = SessionRecord(id="a" * 64, user_id=user.id, csrf="c1", expires_at=now + timedelta(days=1),
                                 created_at=now, ip="10.0.0.1", user_agent="test")
            old = SessionRecord(id="b" * 64, user_id=user.id, csrf="c2", expires_at=now - timedelta(seconds=1))
            await store.create_session(live)
            await store.create_session(old)
            found = await store.find_session(live.id, now)
            assert found is not None
            session, owner = found
            assert (session.csrf, session.ip, owner.email) == ("c1", "10.0.0.1", "ann@example.com")
            assert await store.find_session(old.id, now) is None  # expired
            assert await store.find_session("c" * 64, now) is None
            assert await store.delete_sessions(expired_before=now) == 1
            await store.delete_session(live.id)
            assert await store.find_session(live.id, now) is None
            await store.create_session(live)
            assert await store.delete_sessions(user_id=user.id) == 1

        backend.run(body)

    def test_disabling_and_the_last_owner(self, backend: Backend) -> None:
        async def body(store: Store) -> None:
            ann = await store.create_user("ann@example.com", "owner", "h")
            bob = await store.create_user("bob@example.com", "member", "h")
            assert not ann.disabled and not (await store.get_user(bob.id)).disabled
            await store.create_api_key(bob.id, "fbk_bob", "bob-key-hash")
            await store.create_session(session(bob.id, "b"))
            off = await store.update_user(bob.id, disabled=True)
            assert off.disabled and off.role == "member" and (await store.get_user(bob.id)).disabled
            found_key, found_session = await store.find_api_key("bob-key-hash"), await store.find_session(
                "b" * 64, datetime.now(UTC))
            assert found_key is not None and found_key[1].disabled  # the store reports it; Accounts refuses it
            assert found_session is not None and found_session[1].disabled
            assert [u.disabled for u in await store.list_users()] == [False, True]
            assert await store.delete_api_keys(user_id=bob.id) == 1 and await store.list_api_keys(bob.id) == []
            assert not (await store.update_user(bob.id, disabled=False)).disabled
            for change in ({"role": "admin"}, {"disabled": True}):
                with pytest.raises(Conflict, match="last owner"):
                    await store.update_user(ann.id, **change)
                assert (await store.get_user(ann.id)).role == "owner" and not (await store.get_user(ann.id)).disabled
            with pytest.raises(Conflict, match="last owner"):
                await store.delete_user(ann.id)
            await store.update_user(bob.id, role="owner")
            assert (await store.update_user(ann.id, disabled=True)).disabled  # bob is an owner now
            with pytest.raises(Conflict, match="last owner"):  # a disabled owner does not count
                await store.update_user(bob.id, role="member")
            assert (await store.update_user(ann.id, password_hash="h2")).password_hash == "h2"
            with pytest.raises(NotFound):
                await store.update_user("no-such-user", role="member")

        backend.run(body)

    def test_two_owners_cannot_remove_each_other_at_once(self, backend: Backend) -> None:
        async def body(store: Store) -> None:
            other = backend.make()  # as a second process would: its own connection
            await other.open()
            try:
                previous: list[Any] = []
                for i in range(5):  # each round: exactly two owners, each removed by a different connection
                    a = await store.create_user(f"a{i}@example.com", "owner", "h")
                    b = await store.create_user(f"b{i}@example.com", "owner", "h")
                    for old in previous:
                        await store.update_user(old.id, role="member", disabled=False)
                    done = await asyncio.gather(store.update_user(a.id, role="admin"),
                                                other.update_user(b.id, disabled=True), return_exceptions=True)
                    assert sorted(type(d).__name__ for d in done) == ["Conflict", "UserRecord"], done
                    assert len([u for u in await store.list_users() if u.role == "owner" and not u.disabled]) == 1
                    previous = [a, b]
            finally:
                await other.close()

        backend.run(body)

    def test_deleting_a_user_transfers_what_they_own(self, backend: Backend) -> None:
        async def body(store: Store) -> None:
            owner = await store.create_user("owner@example.com", "owner", "h")
            ann = await store.create_user("ann@example.com", "member", "h")
            bob = await store.create_user("bob@example.com", "member", "h")
            flow = await store.create_workflow("ann's", {"nodes": []}, owner_id=ann.id)
            other = await store.create_workflow("bob's", {"nodes": []}, owner_id=bob.id)
            cred = await store.create_credential("ann's key", "httpHeaderAuth", b"blob", owner_id=ann.id)
            await store.set_shares("workflow", flow.id, [bob.id, owner.id])
            await store.set_shares("workflow", other.id, [ann.id])
            await store.create_api_key(ann.id, "fbk_ann", "ann-key-hash")
            await store.create_session(session(ann.id, "a"))
            with pytest.raises(Conflict, match="owns 1 workflow and 1 credential") as refused:
                await store.delete_user(ann.id)
            assert refused.value.details == {"workflows": 1, "credentials": 1}
            with pytest.raises(NotFound):
                await store.delete_user(ann.id, transfer_to="no-such-user")
            with pytest.raises(Conflict):
                await store.delete_user(ann.id, transfer_to=ann.id)
            assert (await store.get_user(ann.id)).email == "ann@example.com"  # refused: nothing changed
            assert await store.find_api_key("ann-key-hash") is not None

            assert await store.delete_user(ann.id, transfer_to=bob.id) == {"workflows": 1, "credentials": 1}
            with pytest.raises(NotFound):
                await store.get_user(ann.id)
            assert (await store.get_workflow(flow.id)).owner_id == bob.id
            assert (await store.get_credential(cred.id)).owner_id == bob.id
            assert await store.get_shares("workflow", flow.id) == [owner.id]  # bob owns it now: no share with him
            assert await store.get_shares("workflow", other.id) == []  # ann is gone
            assert await store.find_api_key("ann-key-hash") is None
            assert await store.find_session("a" * 64, datetime.now(UTC)) is None
            assert [w.id for w in (await store.list_workflows(visible_to=bob.id)).data] == [other.id, flow.id]
            assert await store.count_users() == 2

            with pytest.raises(Conflict, match="last owner"):
                await store.delete_user(owner.id, transfer_to=bob.id)
            empty = await store.create_user("empty@example.com", "admin", "h")
            assert await store.delete_user(empty.id) == {"workflows": 0, "credentials": 0}

        backend.run(body)

    def test_the_only_user_cannot_be_deleted(self, backend: Backend) -> None:
        async def body(store: Store) -> None:
            admin = await store.create_user("admin@example.com", "admin", "h")  # an install without an owner
            with pytest.raises(Conflict, match="only user"):
                await store.delete_user(admin.id)
            assert await store.count_users() == 1

        backend.run(body)

    def test_a_users_other_sessions_end(self, backend: Backend) -> None:
        async def body(store: Store) -> None:
            ann = await store.create_user("ann@example.com", "member", "h")
            bob = await store.create_user("bob@example.com", "member", "h")
            for user, id in ((ann, "a"), (ann, "b"), (bob, "c")):
                await store.create_session(session(user.id, id))
            assert await store.delete_sessions(user_id=ann.id, keep="a" * 64) == 1
            now = datetime.now(UTC)
            assert [await store.find_session(id * 64, now) is not None for id in "abc"] == [True, False, True]

        backend.run(body)

    # pruning in batches (one transaction each)

    def test_prune_in_batches_keeps_the_newest_and_unfinished(self, backend: Backend) -> None:
        async def body(store: Store) -> None:
            store.PRUNE_BATCH = 7  # type: ignore[attr-defined]
            ids = []
            for i in range(30):
                # ids in creation order (new_id() orders ids made in the same millisecond at random)
                record = await store.create_execution(workflow_id="w", mode="manual", id=f"e{i:02d}")
                await store.append_node_run(record.id, NodeRun(node="A", run_index=0, outputs=[[{"i": i}]]))
                if i != 3:  # one old execution is still running: never pruned
                    await store.finish_execution(record.id, "success")
                ids.append(record.id)
            assert await store.prune_executions(keep=10) == 19
            left = [e.id for e in (await store.list_executions(limit=100)).data]
            assert sorted(left) == sorted(ids[-10:] + [ids[3]])
            assert (await store.get_execution(ids[-1])).nodes["A"][0].outputs == [[{"i": 29}]]
            assert backend.count("execution_nodes") == 11

        backend.run(body)

    def test_prune_deletes_the_snapshots_of_what_it_prunes(self, backend: Backend) -> None:
        """A failed execution keeps its snapshot (for a retry from the failed node): pruning it must not leave
        the snapshot behind, or the database grows without bound."""

        async def body(store: Store) -> None:
            ids = []
            for i in range(6):
                record = await store.create_execution(workflow_id="w", mode="manual", id=f"e{i:02d}")
                await store.save_snapshot(record.id, b"state" * 100)
                await store.finish_execution(record.id, "error" if i % 2 else "success")
                ids.append(record.id)
            assert await store.prune_executions(keep=2) == 4
            assert backend.count("execution_snapshots") == 2
            assert await store.get_snapshot(ids[-1]) == b"state" * 100

        backend.run(body)

    def test_a_big_backlog_is_pruned_in_many_short_writes(self, backend: Backend) -> None:
        """Each write deletes about PRUNE_WRITE_BYTES of node-run data: few big executions, many small ones."""

        async def body(store: Store) -> None:
            writes: list[int] = []
            real = store._execute_many  # type: ignore[attr-defined]

            async def counted(statements: list[tuple[str, list[object]]]) -> list[int]:
                writes.append(len(statements[0][1]))
                return await real(statements)

            pad = "x" * 150_000
            for i in range(8):  # ~300 KB of node runs each
                record = await store.create_execution(workflow_id="w", mode="manual", id=f"b{i:03d}")
                await store.finish_execution(record.id, "success", runs=[NodeRun("A", 0, [[{"pad": pad}]]),
                                                                        NodeRun("B", 0, [[{"pad": pad}]])])
            for i in range(300):
                record = await store.create_execution(workflow_id="w", mode="manual", id=f"s{i:03d}")
                await store.finish_execution(record.id, "success", runs=[NodeRun("A", 0, [[{"i": i}]])])
            store._execute_many = counted  # type: ignore[attr-defined]
            assert await store.prune_executions(keep=10) == 298
            assert backend.count("executions") == 10 and backend.count("execution_nodes") == 10
            assert writes[:7] == [1] * 7, writes  # 300 KB each: one per write (512 KB), the 8th with small ones
            assert max(writes) > 50 and len(writes) > 10, writes  # small ones: many per write, after a small start

        backend.run(body)

    # static data of trigger nodes (per workflow and node)

    def test_static_data_round_trip_replace_and_delete(self, backend: Backend) -> None:
        async def body(store: Store) -> None:
            wf = await store.create_workflow("poller", {"nodes": [], "connections": {}})
            assert await store.get_static_data(wf.id, "RSS") == {}
            await store.set_static_data(wf.id, "RSS", {"cursor": {"uidValidity": 7, "lastUid": 41}, "seen": ["a"]})
            await store.set_static_data(wf.id, "Mail", {"n": 1})
            assert await store.get_static_data(wf.id, "RSS") == {"cursor": {"uidValidity": 7, "lastUid": 41},
                                                                "seen": ["a"]}
            await store.set_static_data(wf.id, "RSS", {"cursor": {"uidValidity": 7, "lastUid": 42}})  # replaced whole
            assert await store.get_static_data(wf.id, "RSS") == {"cursor": {"uidValidity": 7, "lastUid": 42}}
            assert await store.get_static_data(wf.id, "Mail") == {"n": 1}
            assert await store.get_static_data("other", "RSS") == {}
            await store.set_static_data(wf.id, "Mail", None)
            assert await store.get_static_data(wf.id, "Mail") == {}
            await store.delete_workflow(wf.id)
            assert await store.get_static_data(wf.id, "RSS") == {}

        backend.run(body)
        assert backend.count("static_data") == 0

    def test_static_data_survives_reopening(self, backend: Backend) -> None:
        async def write(store: Store) -> None:
            await store.set_static_data("wf1", "Trigger", {"lastUid": 3, "text": "ünïcode"})

        async def read(store: Store) -> None:
            assert await store.get_static_data("wf1", "Trigger") == {"lastUid": 3, "text": "ünïcode"}

        backend.run(write)
        backend.run(read)
