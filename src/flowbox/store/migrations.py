"""The SQLite schema, as numbered sqlite-utils migrations (`0001_init`, `0002_...`).

Migrations are recorded in sqlite-utils' `_sqlite_migrations` table under the set
"flowbox". They only ever add: a schema is never reset or dropped. To add one, write
`def m0002_what(db)` and append it to `MIGRATIONS`; its recorded name is `0002_what`.

`apply_migrations(path)` runs at start, before serving. When nothing is pending (the
usual case) it only uses the stdlib `sqlite3` module, because importing sqlite_utils
costs more than the whole check. Before migrating a database that already holds data
it writes `<db>.pre-<first pending migration>.bak` with `write_backup()` (SQLite's
online backup API, also behind `flowbox backup`).
"""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from flowbox.errors import StoreError

if TYPE_CHECKING:
    from sqlite_utils import Database
    from sqlite_utils.migrations import Migrations

MIGRATION_SET = "flowbox"
MIGRATIONS_TABLE = "_sqlite_migrations"
PAGES_PER_STEP = 1024  # pages copied per backup step (4 MiB at SQLite's default page size)
Progress = Callable[[int, int], None]  # (pages copied, total pages)


def m0001_init(db: Database) -> None:
    """Workflows (+ versions), executions (+ per-node runs) and variables."""
    for sql in (
        """CREATE TABLE workflows (
            id TEXT PRIMARY KEY,
            name TEXT NOT NULL,
            data TEXT NOT NULL,
            active INTEGER NOT NULL DEFAULT 0,
            version INTEGER NOT NULL DEFAULT 1,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL)""",
        "CREATE INDEX idx_workflows_active ON workflows (active, id)",
        """CREATE TABLE workflow_versions (
            workflow_id TEXT NOT NULL,
            version INTEGER NOT NULL,
            data TEXT NOT NULL,
            created_at TEXT NOT NULL,
            PRIMARY KEY (workflow_id, version))""",
        """CREATE TABLE executions (
            id TEXT PRIMARY KEY,
            workflow_id TEXT,
            status TEXT NOT NULL,
            mode TEXT NOT NULL,
            started_at TEXT,
            finished_at TEXT,
            error TEXT,
            last_node TEXT,
            workflow_data TEXT,
            input TEXT,
            retry_of TEXT,
            wait_till TEXT)""",
        "CREATE INDEX idx_executions_workflow ON executions (workflow_id, id)",
        "CREATE INDEX idx_executions_status ON executions (status, id)",
        """CREATE TABLE execution_nodes (
            execution_id TEXT NOT NULL,
            seq INTEGER NOT NULL,
            node TEXT NOT NULL,
            run_index INTEGER NOT NULL,
            data BLOB NOT NULL,
            PRIMARY KEY (execution_id, seq))""",
        "CREATE TABLE variables (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    ):
        db.execute(sql)


def m0002_start_and_snapshots(db: Database) -> None:
    """The trigger node a queued execution starts from; snapshots of executions suspended in a Wait."""
    for sql in (
        "ALTER TABLE executions ADD COLUMN start_node TEXT",
        "CREATE INDEX idx_executions_wait ON executions (status, wait_till)",
        """CREATE TABLE execution_snapshots (
            execution_id TEXT PRIMARY KEY,
            data BLOB NOT NULL)""",
    ):
        db.execute(sql)


def m0003_credentials(db: Database) -> None:
    """Credentials; `data` is the AES-GCM encrypted JSON (`flowbox.credentials.Vault`), never clear text."""
    for sql in (
        """CREATE TABLE credentials (
            id TEXT PRIMARY KEY,
            name TEXT NOT NULL,
            type TEXT NOT NULL,
            data BLOB NOT NULL,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL)""",
        "CREATE INDEX idx_credentials_type ON credentials (type, id)",
    ):
        db.execute(sql)


def m0004_users_and_api_keys(db: Database) -> None:
    """Users (scrypt password hashes) and their API keys (sha256 of the key, and a display prefix)."""
    for sql in (
        """CREATE TABLE users (
            id TEXT PRIMARY KEY,
            email TEXT NOT NULL UNIQUE,
            role TEXT NOT NULL,
            password_hash TEXT NOT NULL,
            created_at TEXT NOT NULL)""",
        """CREATE TABLE api_keys (
            id TEXT PRIMARY KEY,
            user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
            prefix TEXT NOT NULL,
            key_hash TEXT NOT NULL UNIQUE,
            name TEXT NOT NULL DEFAULT '',
            created_at TEXT NOT NULL)""",
        "CREATE INDEX idx_api_keys_user ON api_keys (user_id, id)",
    ):
        db.execute(sql)


def m0005_audit(db: Database) -> None:
    """The audit log (`flowbox.audit`): who did what, to what, when and from where; append-only."""
    for sql in (
        """CREATE TABLE audit (
            id TEXT PRIMARY KEY,
            at TEXT NOT NULL,
            actor TEXT NOT NULL,
            action TEXT NOT NULL,
            target_kind TEXT,
            target_id TEXT,
            ip TEXT,
            details TEXT)""",
        "CREATE INDEX idx_audit_action ON audit (action, id)",
        "CREATE INDEX idx_audit_actor ON audit (actor, id)",
    ):
        db.execute(sql)


def m0006_sessions_and_sharing(db: Database) -> None:
    """Editor login sessions (sha256 of the cookie token, never the token) and ownership and sharing of
    workflows and credentials: `owner_id` (NULL for what was made before users existed: admins see it)
    and `shares` (a resource shared with a user)."""
    for sql in (
        """CREATE TABLE sessions (
            id TEXT PRIMARY KEY,
            user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
            csrf TEXT NOT NULL,
            created_at TEXT NOT NULL,
            expires_at TEXT NOT NULL,
            ip TEXT,
            user_agent TEXT)""",
        "CREATE INDEX idx_sessions_user ON sessions (user_id)",
        "ALTER TABLE workflows ADD COLUMN owner_id TEXT",
        "ALTER TABLE credentials ADD COLUMN owner_id TEXT",
        """CREATE TABLE shares (
            kind TEXT NOT NULL,
            resource_id TEXT NOT NULL,
            user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
            PRIMARY KEY (kind, resource_id, user_id))""",
        "CREATE INDEX idx_shares_user ON shares (user_id, kind)",
    ):
        db.execute(sql)


def m0007_static_data(db: Database) -> None:
    """Static data of trigger nodes (`flowbox.listeners`): one small JSON object per workflow and node,
    e.g. a polling trigger's cursor."""
    db.execute("""CREATE TABLE static_data (
            workflow_id TEXT NOT NULL,
            node TEXT NOT NULL,
            data TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            PRIMARY KEY (workflow_id, node))""")


MIGRATIONS: tuple[Callable[[Database], None], ...] = (m0001_init, m0002_start_and_snapshots, m0003_credentials,
                                                      m0004_users_and_api_keys, m0005_audit,
                                                      m0006_sessions_and_sharing, m0007_static_data)


def migration_names() -> list[str]:
    """The recorded names of every migration, in order (`m0001_init` -> `0001_init`)."""
    return [fn.__name__.removeprefix("m") for fn in MIGRATIONS]


def build_migrations() -> Migrations:
    """The sqlite-utils `Migrations("flowbox")` set (imports sqlite_utils)."""
    from sqlite_utils.migrations import Migrations

    migrations = Migrations(MIGRATION_SET)
    for fn, name in zip(MIGRATIONS, migration_names(), strict=True):
        migrations(name=name)(fn)
    return migrations


def applied_migrations(conn: sqlite3.Connection) -> set[str]:
    """Names recorded for the flowbox set (empty on a fresh file)."""
    found = conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?",
                         [MIGRATIONS_TABLE]).fetchone()
    if not found:
        return set()
    rows = conn.execute(f"SELECT name FROM {MIGRATIONS_TABLE} WHERE migration_set = ?", [MIGRATION_SET])
    return {row[0] for row in rows}


def apply_migrations(path: str | Path, *, wait: float = 30.0) -> list[str]:
    """Enable WAL and apply pending migrations to the database at `path`; returns the names applied.

    Several processes may start on a fresh file at once (CLI runs, workers): one applies
    the migrations, the others wait on the lock or lose the race, re-check and retry,
    for up to `wait` seconds. Raises `StoreError` if the file was migrated by a newer
    flowbox (unknown migration names) or a migration fails (its changes are rolled back).
    """
    deadline = time.monotonic() + wait
    races = 0
    while True:
        try:
            return _apply_once(path)
        except StoreError as exc:
            if exc.__cause__ is None or time.monotonic() > deadline:
                raise  # not an SQLite error (a newer schema, ...), or out of time
            if "locked" not in str(exc.__cause__):
                # another process may have applied this migration between our check and our attempt
                # ("duplicate column", "already exists"): re-check what is applied; a failure that
                # persists is a real one
                races += 1
                if races > 3:
                    raise
            time.sleep(0.05)


def _apply_once(path: str | Path) -> list[str]:
    known = migration_names()
    try:
        conn = sqlite3.connect(path, timeout=10)
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            applied = applied_migrations(conn)
        finally:
            conn.close()
    except sqlite3.Error as exc:
        raise StoreError(f"cannot open database {str(path)!r}: {exc}") from exc
    unknown = sorted(applied - set(known))
    if unknown:
        raise StoreError(f"database {str(path)!r} has migrations this flowbox does not know "
                         f"({', '.join(unknown)}); it was written by a newer version")
    pending = [name for name in known if name not in applied]
    if not pending:
        return []
    if applied:  # an existing database: keep it as it was before this flowbox changes it
        backup_before_migration(path, pending[0])

    from sqlite_utils import Database

    db = Database(path)
    try:
        build_migrations().apply(db)
    except sqlite3.Error as exc:
        raise StoreError(f"migrating {str(path)!r} failed: {exc}") from exc
    finally:
        db.close()
    return pending


def backup_before_migration(path: str | Path, migration: str) -> Path:
    """Write `<db>.pre-<migration>.bak` unless it exists; returns its path.

    Processes starting together may both get here: the first copy stays (`write_backup`
    never replaces a file), and a copy is taken before its own process migrates, so it
    always holds the schema from before `migration`.
    """
    dest = Path(f"{path}.pre-{migration}.bak")
    if dest.exists():
        return dest
    try:
        conn = sqlite3.connect(path, isolation_level=None, timeout=10)
        try:
            write_backup(conn, dest, replace=False)
        finally:
            conn.close()
    except (sqlite3.Error, OSError) as exc:
        raise StoreError(f"cannot back up {str(path)!r} to {str(dest)!r} before migration {migration} (nothing "
                         f"was migrated): {exc}") from exc
    return dest


def write_backup(conn: sqlite3.Connection, dest: str | Path, *, replace: bool = True,
                 progress: Progress | None = None, pages: int = PAGES_PER_STEP) -> None:
    """Copy the database `conn` reads into the file `dest` with SQLite's online backup API.

    `conn` holds one read transaction for the whole copy, so the copy is the database as
    of one instant, and writers (WAL lets them go on) never make it restart, however busy.
    The copy goes to `<dest>.tmp-<pid>` first and takes the name only when complete, as a
    single file in rollback-journal mode; with `replace=False` an existing `dest` is kept.
    `progress(copied, total)` is called after each step of `pages` pages.
    """
    dest = Path(dest)
    tmp = dest.with_name(f"{dest.name}.tmp-{os.getpid()}")
    tmp.unlink(missing_ok=True)
    report = None if progress is None else (lambda _status, left, total: progress(total - left, total))
    try:
        conn.execute("BEGIN")
        try:
            conn.execute("SELECT count(*) FROM sqlite_master").fetchone()  # starts the read snapshot
            target = sqlite3.connect(tmp, isolation_level=None)
            try:
                conn.backup(target, pages=pages, progress=report)
                target.execute("PRAGMA journal_mode = DELETE")
            finally:
                target.close()
        finally:
            conn.execute("COMMIT")
        if replace:
            os.replace(tmp, dest)
        else:
            try:
                os.link(tmp, dest)  # atomic, and never over an existing file
            except FileExistsError:
                pass
            except OSError:  # a file system without hard links (FAT, some network shares)
                if not dest.exists():
                    os.replace(tmp, dest)
    finally:
        tmp.unlink(missing_ok=True)
