"""Pruning deletes in batches (one transaction each) and still removes exactly what it should."""

from __future__ import annotations

from flowbox.store import NodeRun, Store

from .conftest import Backend


def test_prune_in_batches_keeps_the_newest_and_unfinished(backend: Backend) -> None:
    async def body(store: Store) -> None:
        store.PRUNE_BATCH = 7  # type: ignore[attr-defined]
        ids = []
        for i in range(30):
            record = await store.create_execution(workflow_id="w", mode="manual")
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
