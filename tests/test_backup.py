"""`flowbox backup` / `flowbox restore` and the backup taken before a migration: real SQLite files, a writer
thread writing during the copy, a real `flowbox serve` holding the database."""

from __future__ import annotations

import json
import os
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

from flowbox.backup import database_path, make_backup, restore_backup
from flowbox.errors import ConfigError, StoreError
from flowbox.settings import Settings
from flowbox.store import schema
from flowbox.store.migrations import (
    MIGRATION_SET,
    MIGRATIONS_TABLE,
    applied_migrations,
    apply_migrations,
    migration_names,
)

FLOWBOX = str(Path(sys.executable).with_name("flowbox"))
EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "orders.json"


def new_db(path: Path, workflows: int = 0, pad: int = 10) -> Path:
    """A migrated flowbox database holding `workflows` workflows, each with one version."""
    apply_migrations(path)
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("BEGIN")
    for i in range(workflows):
        add_workflow(conn, f"w{i}", "x" * pad)
    conn.execute("COMMIT")
    conn.close()
    return path


def add_workflow(conn: sqlite3.Connection, id: str, data: str = "{}") -> None:
    conn.execute("INSERT INTO workflows (id, name, data, created_at, updated_at) VALUES (?, ?, ?, '', '')",
                 [id, id, data])
    conn.execute("INSERT INTO workflow_versions (workflow_id, version, data, created_at) VALUES (?, 1, ?, '')",
                 [id, data])


def count(path: Path, table: str = "workflows") -> int:
    conn = sqlite3.connect(path)
    try:
        return conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
    finally:
        conn.close()


def journal_mode(path: Path) -> str:
    conn = sqlite3.connect(path)
    try:
        return conn.execute("PRAGMA journal_mode").fetchone()[0]
    finally:
        conn.close()


def test_backup_while_a_writer_writes_is_one_consistent_snapshot(tmp_path: Path) -> None:
    db = new_db(tmp_path / "flowbox.db", workflows=2000, pad=2000)  # ~2,000 pages: several progress steps
    written = [0]
    stop = threading.Event()

    def writer() -> None:  # each transaction adds a workflow and its version: equal counts in any snapshot
        conn = sqlite3.connect(db, isolation_level=None, timeout=10)
        while not stop.is_set():
            conn.execute("BEGIN IMMEDIATE")
            add_workflow(conn, f"live{written[0]}")
            conn.execute("COMMIT")
            written[0] += 1
        conn.close()

    steps: list[tuple[int, int, int]] = []

    def progress(copied: int, total: int) -> None:
        steps.append((copied, total, written[0]))
        time.sleep(0.002)  # a slow disk: the writer gets ahead during the copy

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        while written[0] < 5:
            time.sleep(0.001)
        out = tmp_path / "backups" / "b.db"
        make_backup(db, out, progress=progress, pages=16)
    finally:
        stop.set()
        thread.join()

    assert len(steps) >= 3  # VACUUM INTO writes the copy a cache spill (~2 MB) at a time
    assert steps[-1][2] > steps[0][2], "the writer wrote during the copy"
    copied = [c for c, _, _ in steps]
    assert copied == sorted(copied) and copied[-1] == steps[-1][1], "the copy never restarted"
    conn = sqlite3.connect(out)
    assert conn.execute("PRAGMA quick_check").fetchone() == ("ok",)
    workflows = conn.execute("SELECT count(*) FROM workflows").fetchone()[0]
    assert workflows == conn.execute("SELECT count(*) FROM workflow_versions").fetchone()[0]
    assert 2005 <= workflows < count(db), "a snapshot from during the writes"
    assert applied_migrations(conn) == set(migration_names())
    conn.close()
    assert journal_mode(out) == "delete", "one self-contained file"
    assert sorted(p.name for p in out.parent.iterdir()) == ["b.db"], "no temp file left"


def flowbox(data: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "FLOWBOX_DATA_DIR": str(data)}
    env.pop("FLOWBOX_DATABASE_URL", None)
    return subprocess.run([FLOWBOX, *args], capture_output=True, text=True, env=env, timeout=60)


def test_cli_backup_then_restore_brings_back_the_history(tmp_path: Path) -> None:
    data = tmp_path / "data"
    assert flowbox(data, "run", str(EXAMPLE)).returncode == 0
    made = flowbox(data, "backup", "--out", str(tmp_path / "b.db"))
    assert made.returncode == 0, made.stderr
    assert made.stdout.strip() == str(tmp_path / "b.db")
    assert "encryption.key" in made.stderr  # the credentials need the key too
    default = flowbox(data, "backup")
    assert default.returncode == 0 and Path(default.stdout.strip()).parent == data / "backups"
    assert flowbox(data, "run", str(EXAMPLE)).returncode == 0

    restored = flowbox(data, "restore", str(tmp_path / "b.db"))
    assert restored.returncode == 0, restored.stderr
    assert "flowbox.db.before-restore" in restored.stdout
    listed = json.loads(flowbox(data, "executions", "--json").stdout)["data"]
    assert len(listed) == 1 and listed[0]["status"] == "success"
    assert count(data / "flowbox.db.before-restore", "executions") == 2
    assert flowbox(data, "run", str(EXAMPLE)).returncode == 0, "the restored database is in use again"


def test_large_copies_report_progress_on_stderr(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    new_db(data / "flowbox.db", workflows=1200, pad=4000)  # ~10 MB: a few 4 MiB steps
    made = flowbox(data, "backup", "--out", str(tmp_path / "b.db"))
    assert made.returncode == 0, made.stderr
    lines = [line for line in made.stderr.splitlines() if line.startswith("backup:")]
    assert len(lines) >= 2 and lines[-1].startswith("backup: 100% of ") and lines[-1].endswith(" pages"), lines
    restored = flowbox(data, "restore", str(tmp_path / "b.db"))
    assert restored.returncode == 0 and "restore: 100% of " in restored.stderr, restored.stderr
    small = flowbox(tmp_path / "small", "run", str(EXAMPLE))
    assert small.returncode == 0
    assert "backup:" not in flowbox(tmp_path / "small", "backup").stderr  # one step: no progress lines


def test_restore_into_an_empty_data_dir(tmp_path: Path) -> None:
    backup = new_db(tmp_path / "b.db", workflows=3)
    db = tmp_path / "new" / "flowbox.db"
    assert restore_backup(db, backup) is None
    assert count(db) == 3 and journal_mode(db) == "wal"


def test_restore_refuses_while_a_server_holds_the_database(tmp_path: Path) -> None:
    data = tmp_path / "data"
    assert flowbox(data, "run", str(EXAMPLE)).returncode == 0
    assert flowbox(data, "backup", "--out", str(tmp_path / "b.db")).returncode == 0
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "FLOWBOX_DATA_DIR": str(data), "FLOWBOX_UI": "0"}
    server = subprocess.Popen([FLOWBOX, "serve", "--port", str(port)], env=env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert server.poll() is None and time.monotonic() < deadline, "the server did not start"
            time.sleep(0.05)
        refused = flowbox(data, "restore", str(tmp_path / "b.db"))
        assert refused.returncode == 1
        assert "in use by a running flowbox" in refused.stderr and "stop it" in refused.stderr
        assert not (data / "flowbox.db.before-restore").exists()
        online = flowbox(data, "backup", "--out", str(tmp_path / "online.db"))  # backup works meanwhile
        assert online.returncode == 0, online.stderr
        assert count(tmp_path / "online.db", "executions") == 1
    finally:
        server.terminate()
        server.wait(30)
    assert flowbox(data, "restore", str(tmp_path / "b.db")).returncode == 0


def test_restore_after_a_crash_keeps_what_was_only_in_the_wal(tmp_path: Path) -> None:
    db = new_db(tmp_path / "flowbox.db", workflows=1)
    backup = new_db(tmp_path / "b.db", workflows=5)
    crash = ("import os, signal, sqlite3, sys; c = sqlite3.connect(sys.argv[1], isolation_level=None); "
             "c.execute('PRAGMA wal_autocheckpoint = 0'); "
             "c.execute(\"INSERT INTO variables VALUES ('only-in-wal', 'x')\"); os.kill(os.getpid(), signal.SIGKILL)")
    assert subprocess.run([sys.executable, "-c", crash, str(db)]).returncode == -9
    assert Path(f"{db}-wal").stat().st_size > 0  # a crashed writer: its commit is only in the WAL
    before = restore_backup(db, backup)  # a dead process holds no lock
    assert count(db) == 5
    assert count(before, "variables") == 1 and count(before) == 1


def test_restore_refuses_what_is_not_a_flowbox_backup(tmp_path: Path) -> None:
    db = new_db(tmp_path / "flowbox.db", workflows=2)
    text = tmp_path / "notes.db"
    text.write_text("not a database at all " * 100)
    plain = tmp_path / "plain.db"
    sqlite3.connect(plain).execute("CREATE TABLE t (x)").connection.close()
    newer = new_db(tmp_path / "newer.db")
    with sqlite3.connect(newer) as conn:
        conn.execute(f"INSERT INTO {MIGRATIONS_TABLE} (migration_set, name, applied_at) VALUES (?, ?, '')",
                     [MIGRATION_SET, "9999_from_the_future"])
    damaged = new_db(tmp_path / "damaged.db", workflows=400, pad=2000)
    with open(damaged, "r+b") as f:  # garbage over pages in the middle of the workflows table
        f.seek(4096 * 100)
        f.write(os.urandom(4096 * 20))

    cases = {text: "is not an SQLite database", plain: "is not a flowbox database",
             newer: "written by a newer flowbox (migrations 9999_from_the_future)", damaged: "is damaged",
             tmp_path / "missing.db": "no backup file", db: "is the database itself"}
    for path, message in cases.items():
        with pytest.raises(StoreError) as caught:
            restore_backup(db, path)
        assert message in caught.value.message, (path.name, caught.value.message)
    assert count(db) == 2 and not (tmp_path / "flowbox.db.before-restore").exists()


def test_postgres_and_missing_databases_get_a_clear_message(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FLOWBOX_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test")
    with pytest.raises(ConfigError, match="pg_dump"):
        database_path(Settings.load(tmp_path))
    env = {**os.environ, "FLOWBOX_DATABASE_URL": "postgresql://postgres@127.0.0.1:5432/test"}
    proc = subprocess.run([FLOWBOX, "restore", str(tmp_path / "b.db"), "--data-dir", str(tmp_path)],
                          capture_output=True, text=True, env=env, timeout=60)
    assert proc.returncode == 1 and "pg_dump" in proc.stderr and "pg_restore" in proc.stderr
    with pytest.raises(StoreError, match="nothing to back up"):
        make_backup(tmp_path / "none.db", tmp_path / "out.db")
    db = new_db(tmp_path / "flowbox.db")
    with pytest.raises(StoreError, match="is the database itself"):
        make_backup(db, db)


def old_db(path: Path, migrations: int) -> Path:
    """A database as an older flowbox left it: only the first `migrations` migrations applied."""
    from sqlite_utils import Database
    from sqlite_utils.migrations import Migrations

    old = Migrations(MIGRATION_SET)
    for migration in schema.MIGRATIONS[:migrations]:
        old(name=migration.name)(lambda db, m=migration: [db.execute(sql) for sql in schema.statements(m, "sqlite")])
    db = Database(path)
    old.apply(db)
    db.close()
    return path


def test_pending_migrations_on_an_existing_database_are_preceded_by_a_backup(tmp_path: Path) -> None:
    db = old_db(tmp_path / "flowbox.db", 3)
    with sqlite3.connect(db) as conn:
        add_workflow(conn, "kept")
    first_pending = migration_names()[3]

    assert apply_migrations(db) == migration_names()[3:]
    bak = tmp_path / f"flowbox.db.pre-{first_pending}.bak"
    assert bak.is_file()
    conn = sqlite3.connect(bak)
    assert applied_migrations(conn) == set(migration_names()[:3])
    assert conn.execute("SELECT id FROM workflows").fetchall() == [("kept",)]
    assert not conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'users'").fetchone()
    conn.close()
    assert journal_mode(bak) == "delete"

    assert apply_migrations(db) == []  # up to date: no new backup
    assert sorted(p.name for p in tmp_path.iterdir() if ".bak" in p.name) == [bak.name]
    assert restore_backup(tmp_path / "rolled-back.db", bak) is None  # rolling back is a restore
    assert count(tmp_path / "rolled-back.db") == 1


def test_no_backup_for_a_new_database_and_an_earlier_one_is_kept(tmp_path: Path) -> None:
    fresh = tmp_path / "fresh" / "flowbox.db"
    fresh.parent.mkdir()
    assert apply_migrations(fresh) == migration_names()
    assert [p.name for p in fresh.parent.iterdir() if ".bak" in p.name] == []

    db = old_db(tmp_path / "flowbox.db", 4)
    bak = tmp_path / f"flowbox.db.pre-{migration_names()[4]}.bak"
    bak.write_bytes(b"an earlier attempt's backup")
    apply_migrations(db)
    assert bak.read_bytes() == b"an earlier attempt's backup"
    assert [p.name for p in tmp_path.iterdir() if ".tmp-" in p.name] == []


def test_a_backup_is_compact_without_the_space_pruning_freed(tmp_path: Path) -> None:
    db = new_db(tmp_path / "flowbox.db", workflows=1000, pad=4000)  # ~8 MB
    conn = sqlite3.connect(db, isolation_level=None)
    conn.execute("DELETE FROM workflow_versions")
    conn.execute("DELETE FROM workflows WHERE id != 'w0'")  # what pruning does: the pages go on the free list
    conn.close()
    assert db.stat().st_size > 7_000_000
    out = tmp_path / "b.db"
    make_backup(db, out)
    assert out.stat().st_size < 500_000, "only the pages in use are copied"
    assert count(out) == 1 and journal_mode(out) == "delete"
    back = sqlite3.connect(out)
    assert back.execute("PRAGMA quick_check").fetchone() == ("ok",)
    assert back.execute("PRAGMA auto_vacuum").fetchone() == (2,), "a restored backup still gives space back"
    back.close()
