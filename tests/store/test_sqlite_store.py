"""The Store contract on SQLite."""

from .conftest import sqlite_url
from .contract import StoreContract


class TestSqliteStore(StoreContract):
    database = staticmethod(sqlite_url)
