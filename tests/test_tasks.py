"""The in-process queue's SQLite storage recovers from a transaction a failed COMMIT left open."""

from __future__ import annotations

from pathlib import Path

import pytest

from flowbox.settings import Settings
from flowbox.tasks import make_huey


def test_queue_storage_rolls_back_a_transaction_left_open(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    huey = make_huey(Settings.load(tmp_path / "data"))
    storage = huey.storage
    storage.enqueue(b"first")
    storage.conn.execute("begin exclusive")  # what Huey's own db() leaves behind when COMMIT fails
    storage.conn.execute("insert into task (queue, data, priority) values (?, ?, 0)", (storage.name, b"lost"))
    storage.enqueue(b"second")  # Huey's db() would fail: "cannot start a transaction within a transaction"
    assert "rolling it back" in caplog.text
    assert [storage.dequeue(), storage.dequeue(), storage.dequeue()] == [b"first", b"second", None]
    with pytest.raises(Exception, match="no such table"), storage.db(commit=True) as cursor:
        cursor.execute("insert into nowhere values (1)")
    assert not storage.conn.in_transaction  # a failed statement rolls its transaction back
