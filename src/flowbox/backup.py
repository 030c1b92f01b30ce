"""`flowbox backup` and `flowbox restore`: the SQLite database, copied with SQLite's online backup API.

backup: writes a compact copy (`VACUUM INTO`) while flowbox keeps running (never a file
copy, which could catch a live database half-written). The copy is the database as of one
instant (`flowbox.store.migrations.write_backup`), a single self-contained file holding
only the pages in use: the space pruning freed is not copied.

restore: refuses while any flowbox process (server, worker, `flowbox run`) has the
database open. Every SQLite connection to a WAL database holds a shared lock on the file
for as long as it is open, so restore takes SQLite's own EXCLUSIVE lock (locking_mode
EXCLUSIVE, no waiting): it fails at once when another connection exists, and while
held no process can open the database. The lock goes away with the process that held it
(a crashed server leaves none behind). Under that lock restore copies the current
database to `<db>.before-restore`, then the backup file into the database, both with the
backup API. The backup must be a flowbox database (its migrations table) written by this
flowbox or an older one; an older one is migrated at the next start.

Only the SQLite file is handled: credentials in it stay encrypted with the key
(`<data-dir>/encryption.key` or FLOWBOX_ENCRYPTION_KEY), which must be kept too; a
PostgreSQL database is backed up with pg_dump.
"""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from pathlib import Path

from flowbox.errors import ConfigError, StoreError
from flowbox.settings import Settings
from flowbox.store import sqlite_path
from flowbox.store.migrations import (
    MIGRATION_SET,
    PAGES_PER_STEP,
    Progress,
    applied_migrations,
    migration_names,
    write_backup,
)

__all__ = ["database_path", "default_backup_path", "make_backup", "restore_backup"]


def database_path(settings: Settings) -> Path:
    """The SQLite file of these settings; ConfigError naming pg_dump for a PostgreSQL database."""
    url = settings.database_url
    if url.startswith(("postgresql://", "postgres://")):
        raise ConfigError("FLOWBOX_DATABASE_URL is a PostgreSQL database: back it up with pg_dump and restore it "
                          "with pg_restore (flowbox backup/restore handle the SQLite file only)")
    return Path(sqlite_path(url)).resolve()


def default_backup_path(settings: Settings) -> Path:
    """`<data-dir>/backups/flowbox-<UTC time>.db`."""
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    return settings.data_dir / "backups" / f"flowbox-{stamp}.db"


def make_backup(db: Path, out: Path, *, progress: Progress | None = None, pages: int = PAGES_PER_STEP) -> None:
    """Copy the live flowbox database `db` to `out` (a new file, or one replaced whole)."""
    if not db.is_file():
        raise StoreError(f"no database at {db}: nothing to back up")
    if out.exists() and _same_file(out, db):
        raise StoreError(f"--out {out} is the database itself")
    out.parent.mkdir(parents=True, exist_ok=True)
    conn = _connect(db)
    try:
        _check_flowbox_db(conn, db)
        write_backup(conn, out, progress=progress, pages=pages)
    except sqlite3.Error as exc:
        raise StoreError(f"backup of {db} failed: {exc}") from exc
    finally:
        conn.close()


def restore_backup(db: Path, backup: Path, *, progress: Progress | None = None,
                   pages: int = PAGES_PER_STEP) -> Path | None:
    """Replace the database `db` with the flowbox backup file `backup`.

    Returns `<db>.before-restore`, the database as it was (None when there was none).
    Raises StoreError, changing nothing, when `backup` is not a flowbox database this
    flowbox can open or when a flowbox process has `db` open.
    """
    if not backup.is_file():
        raise StoreError(f"no backup file at {backup}")
    if db.exists() and _same_file(db, backup):
        raise StoreError(f"{backup} is the database itself")
    source = _connect(backup, read_only=True)
    try:
        _check_backup(source, backup)
        db.parent.mkdir(parents=True, exist_ok=True)
        existed = db.exists() and db.stat().st_size > 0
        target, before = _lock(db), None
        try:
            if existed:
                before = db.with_name(db.name + ".before-restore")
                write_backup(target, before)
            # rollback-journal mode while copying: the backup may differ in page size, which a WAL
            # database cannot take; the next start (apply_migrations) turns WAL back on anyway
            target.execute("PRAGMA journal_mode = DELETE")
            source.backup(target, pages=pages,
                          progress=None if progress is None else lambda _s, left, total: progress(total - left, total))
            target.execute("PRAGMA journal_mode = WAL")
        except sqlite3.Error as exc:
            raise StoreError(f"restore of {db} from {backup} failed: {exc}") from exc
        finally:
            target.close()
    finally:
        source.close()
    return before


def _connect(path: Path, *, read_only: bool = False) -> sqlite3.Connection:
    uri = f"{path.resolve().as_uri()}?mode=ro" if read_only else f"{path.resolve().as_uri()}?mode=rw"
    try:
        return sqlite3.connect(uri, uri=True, isolation_level=None, timeout=10)
    except sqlite3.Error as exc:
        raise StoreError(f"cannot open {path}: {exc}") from exc


def _check_flowbox_db(conn: sqlite3.Connection, path: Path) -> set[str]:
    """The migrations applied to `path`; StoreError when it is not a flowbox database."""
    try:
        applied = applied_migrations(conn)
    except sqlite3.DatabaseError as exc:
        raise StoreError(f"{path} is not an SQLite database ({exc})") from exc
    if not applied:
        raise StoreError(f"{path} is not a flowbox database (no {MIGRATION_SET!r} migrations recorded)")
    return applied


def _check_backup(conn: sqlite3.Connection, path: Path) -> None:
    applied = _check_flowbox_db(conn, path)
    unknown = sorted(applied - set(migration_names()))
    if unknown:
        raise StoreError(f"{path} was written by a newer flowbox (migrations {', '.join(unknown)}): "
                         "upgrade flowbox before restoring it")
    try:
        problems = [row[0] for row in conn.execute("PRAGMA quick_check")]
    except sqlite3.DatabaseError as exc:
        problems = [str(exc)]
    if problems != ["ok"]:
        raise StoreError(f"{path} is damaged: {'; '.join(problems[:3])}")


def _lock(db: Path) -> sqlite3.Connection:
    """A connection to `db` (created if missing) holding SQLite's EXCLUSIVE lock until it closes."""
    conn = sqlite3.connect(db, isolation_level=None, timeout=0)
    try:
        conn.execute("PRAGMA locking_mode = EXCLUSIVE")
        conn.execute("BEGIN EXCLUSIVE")  # in EXCLUSIVE locking mode the lock outlives the transaction
        conn.execute("COMMIT")
    except sqlite3.OperationalError as exc:
        conn.close()
        if "locked" in str(exc) or "busy" in str(exc):
            raise StoreError(f"{db} is in use by a running flowbox (server, worker or run): stop it, "
                             "then restore") from exc
        raise StoreError(f"cannot open {db}: {exc}") from exc
    return conn


def _same_file(a: Path, b: Path) -> bool:
    try:
        return a.samefile(b)
    except OSError:
        return False
