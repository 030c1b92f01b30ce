"""Store contract: static data of trigger nodes (per workflow and node), on SQLite and PostgreSQL."""

from __future__ import annotations

from flowbox.store import Store

from .conftest import Backend


def test_static_data_round_trip_replace_and_delete(backend: Backend) -> None:
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


def test_static_data_survives_reopening(backend: Backend) -> None:
    async def write(store: Store) -> None:
        await store.set_static_data("wf1", "Trigger", {"lastUid": 3, "text": "ünïcode"})

    async def read(store: Store) -> None:
        assert await store.get_static_data("wf1", "Trigger") == {"lastUid": 3, "text": "ünïcode"}

    backend.run(write)
    backend.run(read)
