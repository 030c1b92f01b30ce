"""What the database nodes share: credentials and connection errors, and the SQL nodes' whole run.

The SQL nodes (postgres, mysql, sqlite) each supply a `SqlDatabase` subclass — how an
identifier is quoted, how a placeholder is written, how a statement runs — and `run_sql`
does the rest:

- executeQuery runs the node's query once per item with that item's `queryParams` bound as
  parameters ($1, $2, …). The query text may hold no {{ }} expression, so no item value ever
  becomes SQL text.
- insert / update / upsert write one row per item, the table's columns checked first (an
  unknown column is an error naming it); select reads with where conditions, sort and limit,
  once per item. Identifiers are validated and quoted; every value is a bound parameter.
- queryBatching "transaction" (the default) runs every item's statement in one transaction:
  an item failing rolls all back and fails the node naming the item (the node's onError then
  applies to the whole run); "independently" commits each item on its own, and a failing item
  follows onError by itself (ItemErrors).
- Every result row becomes an item of JSON values (`json_value`); a statement without a result
  set gives `{"success": true, "rowCount": n}`.
"""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import json
import math
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from flowbox.credentials import CredentialType, register
from flowbox.errors import describe
from flowbox.node import Context, Item, ItemErrors, Param

OPERATIONS = ("executeQuery", "insert", "update", "upsert", "select")
WRITES = ("insert", "update", "upsert")
BATCHING = ("transaction", "independently")
OPERATORS = ("=", "!=", ">", ">=", "<", "<=", "LIKE", "NOT LIKE", "IS NULL", "IS NOT NULL")
CONNECT_TIMEOUT = 10

Table = tuple[str | None, str]  # (schema, name)


class QueryFailed(ValueError):
    """A statement could not be built or run; the message is what the user sees."""


@dataclass(frozen=True)
class Column:
    """A table column as the write operations need it."""

    name: str
    type: str = ""
    key: bool = False   # part of the primary key
    auto: bool = False  # filled by the database (auto increment)


# ---------------------------------------------------------------- connections


def database_credential(name: str, display_name: str, port: int, user: str, ssl: Param,
                        description: str) -> None:
    """Register the credential type of a database server: host, port, database, user, password, ssl."""
    register(CredentialType(name, display_name, (
        Param("host", "string", label="Host", required=True, default="localhost"),
        Param("port", "string", label="Port", default=str(port)),
        Param("database", "string", label="Database", required=True),
        Param("user", "string", label="User", required=True, default=user),
        Param("password", "string", label="Password", secret=True),
        ssl), description=description))


async def need_credential(ctx: Context, type_: str) -> dict[str, Any]:
    """The node's credential of `type_`; a node error saying so when the node names none."""
    data = await ctx.credential(type_)
    if not data:
        raise ctx.error(f"the {ctx.node_type} node needs a {type_} credential: choose one in the node's credentials")
    return data


def port_of(ctx: Context, value: Any, default: int) -> int:
    """A TCP port from a credential field (empty: `default`)."""
    if value in (None, ""):
        return default
    try:
        port = int(str(value).strip())
    except ValueError:
        port = 0
    if not 0 < port < 65536:
        raise ctx.error(f"the credential's port must be a number from 1 to 65535, got {value!r}")
    return port


def connect_failed(ctx: Context, engine: str, host: str, port: int, exc: BaseException,
                   secrets: Iterable[Any] = ()) -> Exception:
    """The node error for a connection that failed: names the server and says why (without secrets)."""
    reason = " ".join(str(exc).split()) or type(exc).__name__
    reason = reason.removeprefix("connection failed: ")
    for secret in secrets:
        if isinstance(secret, str) and secret:
            reason = reason.replace(secret, "***")
    return ctx.error(f"could not connect to {engine} at {host}:{port}: {reason}")


# ---------------------------------------------------------------- values


def json_value(value: Any) -> Any:
    """A database value as JSON: Decimal -> int, float or (when a float would lose digits) text;
    dates and times -> ISO 8601 text; intervals -> seconds; bytes -> base64 text; anything else
    unknown (UUID, addresses, ranges) -> its text."""
    if value is None or isinstance(value, (str, bool, int)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, Decimal):
        if not value.is_finite():
            return str(value)
        if value == value.to_integral_value():
            return int(value)
        as_float = float(value)
        return as_float if Decimal(repr(as_float)) == value else str(value)
    if isinstance(value, (dt.datetime, dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return value.total_seconds()
    if isinstance(value, (bytes, bytearray, memoryview)):
        return base64.b64encode(bytes(value)).decode("ascii")
    if isinstance(value, dict):
        return {str(k): json_value(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_value(v) for v in value]
    if isinstance(value, (set, frozenset)):
        return sorted((json_value(v) for v in value), key=str)
    return str(value)


def _names(value: Any, what: str) -> list[str]:
    """Names from a list (or a comma-separated text) of column names."""
    if value is None or value == "":
        return []
    if isinstance(value, str):
        value = value.split(",")
    if not isinstance(value, list):
        raise QueryFailed(f"parameter '{what}' must be a list of column names, got {type(value).__name__}")
    out = []
    for name in value:
        if isinstance(name, dict):  # a row of a list editor: {"column": "id"}
            name = name.get("column", name.get("name"))
        if not isinstance(name, str):
            raise QueryFailed(f"parameter '{what}' must list column names, got {name!r}")
        if name.strip():
            out.append(name.strip())
    return out


def _rows(value: Any, what: str) -> list[dict[str, Any]]:
    if value in (None, ""):
        return []
    if isinstance(value, dict):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        raise QueryFailed(f"parameter '{what}' must be a list of objects, got {value!r:.80}")
    return value


def _values(value: Any) -> list[Any]:
    """Query parameters: a list, a JSON list text, or n8n's comma-separated text."""
    if value is None or value == "":
        return []
    if isinstance(value, list):
        return value
    if isinstance(value, str):
        if value.lstrip().startswith("["):
            with contextlib.suppress(ValueError):
                parsed = json.loads(value)
                if isinstance(parsed, list):
                    return parsed
        return [part.strip() for part in value.split(",")]
    return [value]


def _operator(value: Any) -> str:
    found = " ".join(str(value or "=").split()).upper()
    if found not in OPERATORS:
        raise QueryFailed(f"unknown where operator {value!r} (use one of {', '.join(OPERATORS)})")
    return found


# ---------------------------------------------------------------- the dialect and its I/O


class SqlDatabase:
    """One open connection of a SQL node's run. Subclasses give the dialect and do the I/O."""

    engine = "SQL"
    max_identifier = 255
    schemas = False          # tables live in a schema named by the `schema` parameter
    returning = True         # INSERT/UPDATE ... RETURNING *
    fold_case = False        # column names match case-insensitively
    default_values = "DEFAULT VALUES"

    def quote(self, name: str) -> str:
        raise NotImplementedError

    def placeholder(self, n: int) -> str:
        """The n-th (1-based) bound parameter in a statement this module builds."""
        raise NotImplementedError

    async def query(self, sql: str, params: list[Any]) -> list[dict[str, Any]]:
        """Run the user's query (placeholders $1, $2, …): the rows of every result set."""
        raise NotImplementedError

    async def execute(self, sql: str, params: list[Any]) -> list[dict[str, Any]]:
        """Run one statement built here: its rows (none without a result set)."""
        raise NotImplementedError

    async def columns(self, table: Table) -> dict[str, Column]:
        """The table's columns by name (empty when there is no such table)."""
        raise NotImplementedError

    async def commit(self) -> None:
        raise NotImplementedError

    async def rollback(self) -> None:
        raise NotImplementedError

    def describe(self, exc: BaseException) -> str:
        """The database's message for a failed statement."""
        return describe(exc)

    def param(self, value: Any, column: Column | None = None) -> Any:
        """A value as bound to a statement: objects and lists as JSON text."""
        if isinstance(value, (dict, list)):
            return json.dumps(value, ensure_ascii=False, default=str)
        return value

    # ---- identifiers and statements
    def identifier(self, name: Any, what: str) -> str:
        """A validated identifier (quoted by `quote` where used)."""
        if not isinstance(name, str) or not name.strip():
            raise QueryFailed(f"{what} is empty")
        name = name.strip()
        if any(ord(ch) < 32 for ch in name):
            raise QueryFailed(f"{what} {name!r} contains a control character")
        if len(name.encode()) > self.max_identifier:
            raise QueryFailed(f"{what} {name[:40]!r}… is longer than {self.engine} allows ({self.max_identifier} bytes)")
        return name

    def table_sql(self, table: Table) -> str:
        schema, name = table
        return f"{self.quote(schema)}.{self.quote(name)}" if schema else self.quote(name)

    def table_name(self, table: Table) -> str:
        return f"{table[0]}.{table[1]}" if table[0] else table[1]

    def bind(self, params: list[Any], value: Any) -> str:
        """Add `value` to `params`; its placeholder."""
        params.append(value)
        return self.placeholder(len(params))

    def conditions(self, conds: list[tuple[str, str, Any]], params: list[Any], combine: str = "AND") -> str:
        """`col op value` terms joined by AND/OR, each value bound; `= null` means IS NULL."""
        parts = []
        for column, op, value in conds:
            if value is None and op in ("=", "!="):
                op = "IS NULL" if op == "=" else "IS NOT NULL"
            if op in ("IS NULL", "IS NOT NULL"):
                parts.append(f"{self.quote(column)} {op}")
            else:
                sql_op = "<>" if op == "!=" else op
                parts.append(f"{self.quote(column)} {sql_op} {self.bind(params, value)}")
        return f" {combine} ".join(parts)

    def insert_sql(self, table: Table, row: dict[str, Any], params: list[Any]) -> str:
        if not row:
            return f"INSERT INTO {self.table_sql(table)} {self.default_values}"
        names = ", ".join(self.quote(c) for c in row)
        values = ", ".join(self.bind(params, v) for v in row.values())
        return f"INSERT INTO {self.table_sql(table)} ({names}) VALUES ({values})"

    def upsert_clause(self, keys: list[str], update: list[str]) -> str:
        """ON CONFLICT (keys) DO UPDATE (an update of the keys themselves keeps RETURNING's row)."""
        sets = ", ".join(f"{self.quote(c)} = EXCLUDED.{self.quote(c)}" for c in update or keys)
        return f"ON CONFLICT ({', '.join(self.quote(k) for k in keys)}) DO UPDATE SET {sets}"

    async def write(self, sql: str, params: list[Any], table: Table, info: dict[str, Column],
                    keys: dict[str, Any] | None, row: dict[str, Any]) -> list[dict[str, Any]]:
        """Run an insert/update/upsert; the rows it wrote (`keys` identify them, None for an insert)."""
        return await self.execute(f"{sql} RETURNING *", params)


# ---------------------------------------------------------------- parameters


def sql_params(first: Iterable[Param] = (), *, schema: bool = False) -> list[Param]:
    """The parameters of a SQL node (`first` before them; `schema` adds PostgreSQL's schema)."""
    table_ops = ["insert", "update", "upsert", "select"]
    return [
        *first,
        Param("operation", "options", default="executeQuery", required=True, options=list(OPERATIONS),
              description="executeQuery: run SQL; insert/update/upsert: write each item as a row; "
                          "select: read rows"),
        Param("query", "string", default="", required=True, show_if={"operation": ["executeQuery"]},
              placeholder="SELECT * FROM orders WHERE customer = $1",
              description="The SQL to run for each item; write $1, $2, … where Query Parameters go. It may "
                          "not hold {{ }} expressions: values go in Query Parameters, never into the SQL"),
        Param("queryParams", "list", default=[], show_if={"operation": ["executeQuery"]},
              description="Values for $1, $2, …, evaluated for each item (e.g. {{ $json.id }}) and sent as bound "
                          "parameters; a comma-separated text also works"),
        *([Param("schema", "string", default="public", show_if={"operation": table_ops})] if schema else []),
        Param("table", "string", default="", required=True, show_if={"operation": table_ops}),
        Param("columns", "list", default=[], show_if={"operation": table_ops},
              description="insert/update/upsert: the item fields to write, each to the column of the same name "
                          "(empty: every field of the item; a field the item lacks keeps the column's default); "
                          "select: the columns to return (empty: all)"),
        Param("matchOn", "list", default=[], show_if={"operation": ["update", "upsert"]},
              description="Columns that identify the row, their values taken from the item (upsert: the unique "
                          "key that decides insert or update)"),
        Param("where", "list", default=[], show_if={"operation": ["select"]}, fields=(
            Param("column", "string", "", required=True),
            Param("operator", "options", "=", options=OPERATORS),
            Param("value", "string", "", description="Bound as a parameter; not used by IS NULL / IS NOT NULL"))),
        Param("combineConditions", "options", default="AND", options=["AND", "OR"],
              show_if={"operation": ["select"]}),
        Param("sort", "list", default=[], show_if={"operation": ["select"]}, fields=(
            Param("column", "string", "", required=True),
            Param("direction", "options", "ASC", options=("ASC", "DESC")))),
        Param("returnAll", "boolean", default=False, show_if={"operation": ["select"]}),
        Param("limit", "number", default=50, min=1, integer=True, show_if={"operation": ["select"], "returnAll": [False]}),
        Param("queryBatching", "options", default="transaction", options=list(BATCHING),
              show_if={"operation": ["executeQuery", *WRITES]},
              description="transaction: all items in one transaction, rolled back if one fails; independently: "
                          "each item committed on its own (a failing item follows the node's On Error setting)"),
    ]


# ---------------------------------------------------------------- the run


async def run_sql(ctx: Context, items: list[Item], db: SqlDatabase) -> list[list[Item]]:
    """Run the node's operation for every item on the open connection `db`; outputs the rows."""
    operation = ctx.param("operation") or ""
    if operation not in OPERATIONS:
        raise ctx.error(f"parameter 'operation' must be one of {', '.join(OPERATIONS)}, got {operation!r}")
    batching = "independently" if operation == "select" else ctx.param("queryBatching") or "transaction"
    if batching not in BATCHING:
        raise ctx.error(f"parameter 'queryBatching' must be one of {', '.join(BATCHING)}, got {batching!r}")
    work: Callable[[int, Item], Awaitable[list[dict[str, Any]]]]
    if operation == "executeQuery":
        query = _query_text(ctx)

        async def work(i: int, item: Item) -> list[dict[str, Any]]:
            return await db.query(query, [db.param(v) for v in _values(ctx.param("queryParams", i))])
    elif operation == "select":
        async def work(i: int, item: Item) -> list[dict[str, Any]]:
            return await _select(ctx, db, i)
    else:
        tables: dict[Table, dict[str, Column]] = {}

        async def work(i: int, item: Item) -> list[dict[str, Any]]:
            return await _write(ctx, db, operation, i, item, tables)

    out: list[Item] = []
    errors = ItemErrors(ctx)
    for i, item in enumerate(items):
        try:
            rows = await work(i, item)
            if batching == "independently":
                await db.commit()
        except Exception as exc:  # one item failing: roll back, then stop or route it (onError)
            message = f"item {i}: {db.describe(exc)}"
            with contextlib.suppress(Exception):
                await db.rollback()
            if batching == "transaction":
                raise ctx.error(f"{message} (the transaction was rolled back: no item was written)", i) from None
            errors.fail(item, i, QueryFailed(message), out)
            continue
        out.extend(item.derive({str(k): json_value(v) for k, v in row.items()}, binary=None) for row in rows)
    await db.commit()
    return errors.outputs(out)


def _query_text(ctx: Context) -> str:
    raw = ctx.raw_param("query")
    if not isinstance(raw, str) or not raw.strip():
        raise ctx.error("parameter 'query' is empty: write the SQL to run")
    if "{{" in raw:
        raise ctx.error("parameter 'query' holds a {{ }} expression: write $1, $2, … in the query and give the "
                        "values in Query Parameters (an item's values are never spliced into SQL)")
    return raw


def _table(ctx: Context, db: SqlDatabase, i: int) -> Table:
    schema = db.identifier(ctx.param("schema", i) or "public", "parameter 'schema'") if db.schemas else None
    return schema, db.identifier(ctx.param("table", i), "parameter 'table'")


async def _select(ctx: Context, db: SqlDatabase, i: int) -> list[dict[str, Any]]:
    table = _table(ctx, db, i)
    columns = [db.quote(db.identifier(c, "a column name")) for c in _names(ctx.param("columns", i), "columns")]
    conds = [(db.identifier(c.get("column"), "a where condition's column"), _operator(c.get("operator")),
              c.get("value")) for c in _rows(ctx.param("where", i), "where")]
    params: list[Any] = []
    sql = f"SELECT {', '.join(columns) or '*'} FROM {db.table_sql(table)}"
    if conds:
        combine = "OR" if (ctx.param("combineConditions", i) or "AND").upper() == "OR" else "AND"
        sql += " WHERE " + db.conditions([(c, op, db.param(v)) for c, op, v in conds], params, combine)
    order = []
    for spec in _rows(ctx.param("sort", i), "sort"):
        direction = str(spec.get("direction") or "ASC").upper()
        if direction not in ("ASC", "DESC"):
            raise QueryFailed(f"sort direction must be ASC or DESC, got {spec.get('direction')!r}")
        order.append(f"{db.quote(db.identifier(spec.get('column'), 'a sort column'))} {direction}")
    if order:
        sql += " ORDER BY " + ", ".join(order)
    if not ctx.param("returnAll", i):
        limit = ctx.param("limit", i, 50)
        try:
            n = 0 if isinstance(limit, bool) else int(float(limit))
        except (TypeError, ValueError):
            n = 0
        if n < 1 or n != float(limit):
            raise QueryFailed(f"parameter 'limit' must be a whole number of at least 1, got {limit!r}")
        sql += f" LIMIT {db.bind(params, n)}"
    return await db.execute(sql, params)


def _column(db: SqlDatabase, name: str, info: dict[str, Column], table: Table) -> str:
    """The table's own spelling of column `name`; an error listing the columns when there is none."""
    if name in info:
        return name
    if db.fold_case:
        for real in info:
            if real.lower() == name.lower():
                return real
    raise QueryFailed(f"column {name!r} does not exist in table {db.table_name(table)} "
                      f"(columns: {', '.join(info)})")


def _fields(db: SqlDatabase, data: dict[str, Any], names: list[str] | None, info: dict[str, Column],
            table: Table) -> dict[str, Any]:
    """{column: bound value} for the item fields `names` (None: every field) that the item has."""
    row: dict[str, Any] = {}
    for name in list(data) if names is None else names:
        column = _column(db, name, info, table)
        if name in data:
            row[column] = db.param(data[name], info[column])
    return row


async def _write(ctx: Context, db: SqlDatabase, operation: str, i: int, item: Item,
                 tables: dict[Table, dict[str, Column]]) -> list[dict[str, Any]]:
    table = _table(ctx, db, i)
    if table not in tables:
        tables[table] = await db.columns(table)
    info = tables[table]
    if not info:
        raise QueryFailed(f"table {db.table_name(table)} does not exist (or this user may not see its columns)")
    names = _names(ctx.param("columns", i), "columns")
    row = _fields(db, item.json, names or None, info, table)
    params: list[Any] = []
    if operation == "insert":
        return await db.write(db.insert_sql(table, row, params), params, table, info, None, row)
    match = _names(ctx.param("matchOn", i), "matchOn")
    if not match:
        raise QueryFailed("parameter 'matchOn' names no column: give the columns that identify the row")
    keys = _fields(db, item.json, match, info, table)
    missing = [c for c in (_column(db, m, info, table) for m in match) if keys.get(c) is None]
    if missing:
        raise QueryFailed(f"the item has no value for match column {missing[0]!r}")
    update = [c for c in row if c not in keys]
    if operation == "update":
        if not update:
            raise QueryFailed("nothing to update: the item has no field to write besides the match columns")
        sets = ", ".join(f"{db.quote(c)} = {db.bind(params, row[c])}" for c in update)
        where = db.conditions([(k, "=", v) for k, v in keys.items()], params)
        sql = f"UPDATE {db.table_sql(table)} SET {sets} WHERE {where}"
    else:
        sql = f"{db.insert_sql(table, {**row, **keys}, params)} {db.upsert_clause(list(keys), update)}"
    return await db.write(sql, params, table, info, keys, row)
