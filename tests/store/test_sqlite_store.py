"""The Store contract on SQLite."""

from .conftest import sqlite_at
from .contract import StoreContract


class TestSqliteStore(StoreContract):
    open_backend = staticmethod(sqlite_at)
