"""One declaration of the tables (`flowbox.store.schema`) gives both stores the same tables and columns."""

from __future__ import annotations

from pathlib import Path

import pytest

from flowbox.store import schema

from .conftest import backend_at, postgres_url, sqlite_url


def test_every_placeholder_has_a_type_in_both_dialects() -> None:
    for migration in schema.MIGRATIONS:
        for dialect in ("sqlite", "postgres"):
            statements = schema.statements(migration, dialect)  # a KeyError names a missing type
            assert statements and not any("{" in sql for sql in statements), migration.name


@pytest.mark.services
def test_sqlite_and_postgres_get_the_same_tables_and_columns(tmp_path: Path) -> None:
    with sqlite_url(tmp_path) as lite_url, postgres_url(tmp_path) as pg_url:
        sqlite, postgres = backend_at(lite_url), backend_at(pg_url)
        for backend in (sqlite, postgres):
            backend.run(lambda store: store.list_users())  # opening migrates
        tables = [row[0] for row in sqlite.query("SELECT name FROM sqlite_master WHERE type = 'table'"
                                                 " AND name NOT LIKE 'sqlite_%' AND name != '_sqlite_migrations'")]
        assert len(tables) == 13  # workflows ... static_data: every table of the 8 migrations
        for table in tables:
            lite = [row[1] for row in sqlite.query(f"PRAGMA table_info({table})")]
            pg = [row[0] for row in postgres.query(
                "SELECT column_name FROM information_schema.columns WHERE table_schema = current_schema()"
                f" AND table_name = '{table}' ORDER BY ordinal_position")]
            assert lite == pg, table
        assert sorted(row[0] for row in sqlite.query("SELECT name FROM _sqlite_migrations")) == sorted(
            row[0] for row in postgres.query("SELECT name FROM flowbox_migrations")) == schema.names()
