"""Pruning deletes in batches (one transaction each) and still removes exactly what it should."""

from __future__ import annotations

from flowbox.store.base import new_id


def test_ids_made_in_one_millisecond_keep_their_order() -> None:
    ids = [new_id() for _ in range(2000)]  # many share a millisecond
    assert ids == sorted(ids) and len(set(ids)) == len(ids)


