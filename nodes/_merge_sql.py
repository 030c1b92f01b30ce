"""Merge's SQL mode (n8n's combineBySql): the inputs as tables `input1`, `input2` of an in-memory SQLite
database, the query's rows as items.

Each table has a column per key of its items (first-seen order) after a hidden marker column `__inputN` (the
row's item index). A result row is read the way n8n's alasql gives it: the columns a `SELECT *` (or
`inputN.*`) brings of a table are taken from that table's item itself, so types, nested values and absent
keys are as they were; a table whose marker is NULL (the unmatched side of an outer join) adds nothing; a
later table's value wins over an earlier one's. Computed columns come as SQLite gives them (JSON text
stays text). The database is closed to files (ATTACH, extensions and pragmas refused) and each query runs
under a time limit and a row limit.
"""

from __future__ import annotations

import copy
import json
import os
import sqlite3
import time
from typing import Any

SQL_TIMEOUT = float(os.environ.get("FLOWBOX_MERGE_SQL_TIMEOUT", "30"))  # seconds per query
MAX_ROWS = 1_000_000
_DENIED = {sqlite3.SQLITE_ATTACH, sqlite3.SQLITE_DETACH, sqlite3.SQLITE_PRAGMA}


class QueryFailed(ValueError):
    """The query could not run; the message is SQLite's (or the limit's)."""


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _cell(value: Any) -> Any:
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    if value is None or isinstance(value, (int, float, str)):
        return value
    return str(value)


def _authorize(action: int, *_: Any) -> int:
    return sqlite3.SQLITE_DENY if action in _DENIED else sqlite3.SQLITE_OK


def run_query(inputs: list[list[dict[str, Any]]], query: str) -> list[tuple[dict[str, Any], list[int | None]]]:
    """The rows of `query` over the inputs: each as (json, the item index it took from each input or None)."""
    db = sqlite3.connect(":memory:")
    try:
        columns = _load(db, inputs)
        db.set_authorizer(_authorize)
        deadline = time.monotonic() + SQL_TIMEOUT
        db.set_progress_handler(lambda: 1 if time.monotonic() > deadline else 0, 10_000)
        rows: list[tuple[dict[str, Any], list[int | None]]] = []
        for statement in _statements(query):
            try:
                cursor = db.execute(statement)
                names = [d[0] for d in cursor.description] if cursor.description else None
                while names is not None:
                    batch = cursor.fetchmany(10_000)
                    if not batch:
                        break
                    rows += [_row(names, r, inputs, columns) for r in batch]
                    if len(rows) > MAX_ROWS:
                        raise QueryFailed(f"the query returned more than {MAX_ROWS:,} rows")
            except sqlite3.Error as exc:
                if time.monotonic() > deadline:
                    raise QueryFailed(f"the query ran longer than {SQL_TIMEOUT:g} s") from None
                raise QueryFailed(str(exc)) from None
        return rows
    finally:
        db.close()


def _load(db: sqlite3.Connection, inputs: list[list[dict[str, Any]]]) -> list[list[str]]:
    """Create input1..inputN; the key columns of each."""
    columns = []
    for n, items in enumerate(inputs, 1):
        keys = list(dict.fromkeys(k for item in items for k in item))
        columns.append(keys)
        names = [f"__input{n}", *keys]
        db.execute(f"CREATE TABLE input{n} ({', '.join(_quote(c) for c in names)})")
        marks = ", ".join("?" for _ in names)
        db.executemany(f"INSERT INTO input{n} VALUES ({marks})",
                       ([i, *(_cell(item.get(k)) for k in keys)] for i, item in enumerate(items)))
    return columns


def _statements(query: str) -> list[str]:
    """The query's statements (split where SQLite says one is complete)."""
    out, current = [], ""
    for piece in query.split(";"):
        current += piece + ";"
        if sqlite3.complete_statement(current):
            if current.strip(" \t\r\n;"):
                out.append(current)
            current = ""
    if current.strip(" \t\r\n;"):
        out.append(current)
    if not out:
        raise QueryFailed("the query is empty")
    return out


def _row(names: list[str], values: tuple[Any, ...], inputs: list[list[dict[str, Any]]],
         columns: list[list[str]]) -> tuple[dict[str, Any], list[int | None]]:
    out: dict[str, Any] = {}
    sources: list[int | None] = [None] * len(inputs)
    c = 0
    while c < len(names):
        name = names[c]
        table = int(name[7:]) if name.startswith("__input") and name[7:].isdigit() else 0
        if 0 < table <= len(inputs) and names[c + 1:c + 1 + len(columns[table - 1])] == columns[table - 1]:
            index = values[c]
            span = len(columns[table - 1])
            if index is not None:  # the table's own item, as it was (absent keys stay absent)
                sources[table - 1] = int(index)
                item = inputs[table - 1][int(index)]
                out.update((k, copy.deepcopy(item[k])) for k in columns[table - 1] if k in item)
            c += 1 + span
            continue
        if not name.startswith("__input"):
            out[name] = values[c]
        c += 1
    return out, sources
