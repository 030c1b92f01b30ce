"""Applying the schema (`flowbox.store.schema`) to an SQLite file, as sqlite-utils migrations.

Migrations are recorded in sqlite-utils' `_sqlite_migrations` table under the set
"flowbox". They only ever add: a schema is never reset or dropped. To add one, append a
`Migration` to `flowbox.store.schema.MIGRATIONS` (PostgreSQL gets the same one).

`apply_migrations(path)` runs at start, before serving. When nothing is pending (the
usual case) it only uses the stdlib `sqlite3` module, because importing sqlite_utils
costs more than the whole check. Before migrating a database that already holds data
it writes `<db>.pre-<first pending migration>.bak` with `write_backup()` (a compact copy,
`VACUUM INTO`, also behind `flowbox backup`).

New databases are created with `auto_vacuum = INCREMENTAL`, so the pages pruning frees
can go back to the file system in small steps (`SqliteStore.release_space`). A database
made before that is switched once by `use_incremental_vacuum()`, a migration-like step a
server runs at start (outside the numbered migrations: it changes no schema): a backup
`<db>.pre-auto-vacuum.bak`, then one `VACUUM`.
"""

from __future__ import annotations

import logging
import os
import shutil
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from flowbox.errors import StoreError
from flowbox.store import schema

if TYPE_CHECKING:
    from sqlite_utils import Database
    from sqlite_utils.migrations import Migrations

logger = logging.getLogger("flowbox.store")

MIGRATION_SET = "flowbox"
MIGRATIONS_TABLE = "_sqlite_migrations"
PAGES_PER_STEP = 1024  # pages between progress reports of a backup (4 MiB at SQLite's default page size)
AUTO_VACUUM_STEP = "auto-vacuum"  # names the backup taken before switching a database to incremental vacuum
INCREMENTAL = 2  # PRAGMA auto_vacuum: 0 none, 1 full, 2 incremental
Progress = Callable[[int, int], None]  # (pages copied, total pages)


def migration_names() -> list[str]:
    """The recorded names of every migration, in order (`0001_init`, ...)."""
    return schema.names()


def build_migrations() -> Migrations:
    """The sqlite-utils `Migrations("flowbox")` set of `flowbox.store.schema` (imports sqlite_utils)."""
    from sqlite_utils.migrations import Migrations

    migrations = Migrations(MIGRATION_SET)
    for migration in schema.MIGRATIONS:
        migrations(name=migration.name)(_applier(migration))
    return migrations


def _applier(migration: schema.Migration) -> Callable[[Database], None]:
    def apply(db: Database) -> None:
        for sql in schema.statements(migration, "sqlite"):
            db.execute(sql)

    apply.__doc__ = migration.doc
    return apply


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
            conn.execute("PRAGMA auto_vacuum = INCREMENTAL")  # takes effect on a new file only; before WAL
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


def use_incremental_vacuum(path: str | Path) -> bool:
    """Switch the database at `path` to `auto_vacuum = INCREMENTAL` if it is not (one VACUUM); True if it did.

    The migration-like step a server runs at start, before it opens the store: first the
    backup `<db>.pre-auto-vacuum.bak` (as before a migration), then `VACUUM`, which rewrites
    the file compactly, then the WAL is emptied. Skipped with a warning (the next start tries
    again) when the disk lacks room for the backup, VACUUM's temporary copy and its WAL, or
    another process has the database busy.
    """
    try:
        conn = sqlite3.connect(path, isolation_level=None, timeout=5)
    except sqlite3.Error as exc:
        raise StoreError(f"cannot open database {str(path)!r}: {exc}") from exc
    try:
        if conn.execute("PRAGMA auto_vacuum").fetchone()[0] == INCREMENTAL:
            return False
        page_size, pages, free = (conn.execute(f"PRAGMA {name}").fetchone()[0]
                                  for name in ("page_size", "page_count", "freelist_count"))
        used = (pages - free) * page_size
        room = shutil.disk_usage(Path(path).resolve().parent).free
        if room < 3 * used + 16 * 1024 * 1024:
            logger.warning("not switching %s to incremental vacuum yet: it needs about %.0f MB free, the disk has "
                           "%.0f MB (pruned executions keep their space in the file until then)", path,
                           3 * used / 1e6, room / 1e6)
            return False
        logger.info("switching %s to incremental vacuum: a backup, then a one-time VACUUM of %.0f MB", path,
                    used / 1e6)
        backup_before_migration(path, AUTO_VACUUM_STEP)
        conn.execute("PRAGMA auto_vacuum = INCREMENTAL")
        conn.execute("VACUUM")
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        return True
    except (sqlite3.Error, StoreError, OSError) as exc:
        logger.warning("not switching %s to incremental vacuum this time: %s", path, exc)
        return False
    finally:
        conn.close()


def write_backup(conn: sqlite3.Connection, dest: str | Path, *, replace: bool = True,
                 progress: Progress | None = None, pages: int = PAGES_PER_STEP) -> None:
    """Write a compact copy of the database `conn` reads into the file `dest` (`VACUUM INTO`).

    The copy holds only the pages in use (the space pruning freed stays behind) and is the
    database as of one instant: VACUUM INTO reads inside one read transaction, which
    writers (WAL lets them go on) never make it restart, however busy. It goes to
    `<dest>.tmp-<pid>` first and takes the name only when complete, as a single file in
    rollback-journal mode; with `replace=False` an existing `dest` is kept.
    `progress(copied, total)` (in pages) is called each time about `pages` more pages were
    written, and once at the end with `copied == total`.
    """
    dest = Path(dest)
    tmp = dest.with_name(f"{dest.name}.tmp-{os.getpid()}")
    tmp.unlink(missing_ok=True)
    try:
        if progress is not None:
            conn.set_progress_handler(_vacuum_into_progress(conn, tmp, progress, pages), 10_000)
        try:
            conn.execute("VACUUM INTO ?", [str(tmp)])
        finally:
            if progress is not None:
                conn.set_progress_handler(None, 0)
        target = sqlite3.connect(tmp, isolation_level=None)
        try:
            target.execute("PRAGMA journal_mode = DELETE")
            total = target.execute("PRAGMA page_count").fetchone()[0]
        finally:
            target.close()
        if progress is not None:
            progress(total, total)
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


def _vacuum_into_progress(conn: sqlite3.Connection, tmp: Path, progress: Progress,
                          pages: int) -> Callable[[], int]:
    """A progress handler for `VACUUM INTO tmp`: reports the pages written so far (the size of `tmp`) against
    the pages in use, whenever `pages` more were written (never the whole: the end is reported apart)."""
    page_size, count, free = (conn.execute(f"PRAGMA {name}").fetchone()[0]
                              for name in ("page_size", "page_count", "freelist_count"))
    total = max(count - free, 1)
    shown = [0]

    def handler() -> int:
        try:
            copied = min(tmp.stat().st_size // page_size, total - 1)
        except OSError:
            return 0
        if copied - shown[0] >= pages:
            shown[0] = copied
            progress(copied, total)
        return 0

    return handler
