"""Store contract for ownership, sharing and editor sessions (every backend: sqlite, postgres)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from flowbox.errors import NotFound
from flowbox.store import Store
from flowbox.store.base import SessionRecord

from .conftest import Backend


def test_owner_and_shares_filter_lists(backend: Backend) -> None:
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


def test_sessions_expire_and_end(backend: Backend) -> None:
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
