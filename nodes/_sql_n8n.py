"""n8n's Postgres (v1, v2.0-2.6) and MySQL (v1, v2.0-2.5) nodes as flowbox's SQL node parameters.

n8n splices `{{ }}` expressions into the SQL text; flowbox never does (an item's values are bound as
parameters). So a query's expressions become placeholders: a `{{ }}` outside quotes becomes `$n` with
the expression as its parameter, and a quoted literal holding expressions (`'%{{ $json.q }}%'`)
becomes one `$n` whose parameter is the literal's text as a template. An expression in a place a
value cannot go (a table or column name) is reported unsupported.
"""

from __future__ import annotations

import re
from typing import Any

from flowbox.node import N8nNotes
from flowbox.nodes._n8n import Params, bad, is_expression, rows, split_names

_NAME_BEFORE = re.compile(r"(?:\bFROM|\bINTO|\bUPDATE|\bJOIN|\bTABLE|\bBY|\.|\")\s*$", re.IGNORECASE)
_SAME_FIELD = re.compile(r"^=\{\{\s*\$json(?:\.([A-Za-z_$][\w$]*)|\[\s*(['\"])(.+?)\2\s*\])\s*\}\}$")
_CONDITIONS = {"equal": "=", "!=": "!=", "LIKE": "LIKE", ">": ">", "<": "<", ">=": ">=", "<=": "<=",
               "IS NULL": "IS NULL", "IS NOT NULL": "IS NOT NULL"}


def split_query(query: str, first: int, p: Params) -> tuple[str, list[str]]:
    """An n8n query expression (`=SELECT … {{ $json.id }}`) as SQL with $n placeholders, numbered from
    `first`, and their parameters (n8n expressions); a query that is no expression stays as it is."""
    if not is_expression(query):
        return query, []
    text, out, params, i = query[1:], [], [], 0
    while i < len(text):
        if text[i] == "'":
            end = i + 1
            while end < len(text) and (text[end] != "'" or text[end + 1:end + 2] == "'"):
                end += 2 if text[end] == "'" else 1
            literal = text[i + 1:end]
            if "{{" in literal:
                params.append("=" + literal.replace("''", "'"))
                out.append(f"${first + len(params) - 1}")
            else:
                out.append(text[i:end + 1])
            i = end + 1
        elif text.startswith("{{", i):
            end = text.find("}}", i + 2)
            if end < 0:
                raise bad("query", "has a '{{' without its '}}'")
            if _NAME_BEFORE.search("".join(out)):
                p.unsupported("an expression in the query gives a table or column name: flowbox binds expressions "
                              "as values, never as SQL text")
            params.append("=" + text[i:end + 2])
            out.append(f"${first + len(params) - 1}")
            i = end + 2
        else:
            out.append(text[i])
            i += 1
    if params:
        p.approximated("the query's {{ }} expressions are sent as bound parameters ($n), not spliced into the SQL")
    return "".join(out), params


def _replacements(value: Any) -> list[Any] | str:
    """n8n's Query Parameters (`options.queryReplacement`): a comma-separated text, where each `{{ }}` of an
    expression is one value, or one expression that gives a list."""
    if value in (None, ""):
        return []
    if isinstance(value, list):
        return value
    text = str(value)
    if not is_expression(text):
        return [part.strip() for part in text.split(",")]
    segments = re.findall(r"\{\{.*?\}\}", text[1:], re.DOTALL)
    rest = re.sub(r"\{\{.*?\}\}", "", text[1:], flags=re.DOTALL)
    if segments and not rest.replace(",", "").strip() and not (len(segments) == 1 and segments[0][2:].lstrip()[:1] == "["):
        return ["=" + segment for segment in segments]  # each {{ }} one value, as n8n resolves them
    return text  # an expression giving a list, or a template: evaluated, then split as n8n's text would be


def _locator(value: Any) -> Any:
    """A resource locator (`{"__rl": true, "value": "orders", "mode": "list"}`) as its value."""
    return value.get("value", "") if isinstance(value, dict) and "__rl" in value else value


def _mapping(p: Params, operation: str) -> tuple[list[str], list[str]]:
    """The columns to write and the columns to match on, from v2.2+'s `columns` resource mapper or v2.0-2.1's
    `dataMode` / `valuesToSend` / `columnToMatchOn`."""
    if p.version >= 2.2:
        mapper = p.take("columns", {}) or {}
        if not isinstance(mapper, dict):
            raise bad("columns", "must be a resource mapper object")
        mode, values, match = mapper.get("mappingMode", "defineBelow"), mapper.get("value") or {}, \
            list(mapper.get("matchingColumns") or [])
    else:
        mode = p.take("dataMode", "autoMapInputData")
        values = {row.get("column", ""): row.get("value", "") for row in rows(p.take("valuesToSend", {}), "values",
                                                                                 "valuesToSend")}
        match = [p.take("columnToMatchOn", "")] if operation in ("update", "upsert") else []
        if operation in ("update", "upsert") and mode == "defineBelow":
            values.setdefault(match[0], p.take("valueToMatchOn", ""))
    if mode == "autoMapInputData":
        return [], match
    columns = []
    for column, value in values.items():
        found = _SAME_FIELD.match(value) if isinstance(value, str) else None
        if found is None or (found.group(1) or found.group(3)) != column:
            p.unsupported(f"column '{column}' is given a value other than the item's field of the same name "
                          "(map the fields with a Set node before it)")
        columns.append(column)
    return columns, match


def sql_from_n8n(params: dict[str, Any], version: float, *, schema: bool) -> tuple[dict[str, Any], N8nNotes]:
    """Postgres / MySQL v2.x: executeQuery (`query`, `options.queryReplacement`, `options.queryBatching`),
    insert / update / upsert (`columns` resource mapper, auto-mapped or each column from the same-named
    field), select (`where`, `sort`, `combineConditions`, `returnAll`, `limit`, `options.outputColumns`).
    v1: executeQuery, insert and update (`columns`, `updateKey`, `additionalFields.queryParams`)."""
    p = Params(params, version)
    p.ignore("resource")
    if version < 2:
        return _v1(p, schema)
    operation = p.take("operation", "insert")
    if operation == "deleteTable":
        p.unsupported("operation 'deleteTable' is not supported")
        return p.done({})
    out: dict[str, Any] = {"operation": operation}
    options = p.options("options", ("queryBatching", "queryReplacement", "outputColumns", "largeNumbersOutput",
                                    "connectionTimeout", "replaceEmptyStrings", "skipOnConflict", "detailedOutput",
                                    "connectionLimit", "decimalNumbers", "priority", "selectDistinct",
                                    "nodeVersion"))
    for flag in ("replaceEmptyStrings", "skipOnConflict", "detailedOutput", "selectDistinct", "priority"):
        if options.get(flag):
            p.unsupported(f"option '{flag}' is not supported")
    if options.get("largeNumbersOutput", "text") == "text" or options.get("decimalNumbers") is False:
        p.approximated("BIGINT and NUMERIC values come out as numbers (n8n's default gives them as text)")
    batching = options.get("queryBatching", "single")
    out["queryBatching"] = "independently" if batching == "independently" else "transaction"
    if operation == "executeQuery":
        replacements = _replacements(options.get("queryReplacement"))
        first = len(replacements) + 1 if isinstance(replacements, list) else None
        query, inline = split_query(p.take("query", ""), first or 1, p)
        if inline and first is None:
            p.unsupported("the query has {{ }} expressions besides Query Parameters given as one expression")
        out["query"] = query
        out["queryParams"] = [*replacements, *inline] if isinstance(replacements, list) else replacements
        return p.done(out)
    if schema:
        out["schema"] = _locator(p.take("schema", "public")) or "public"
    out["table"] = _locator(p.take("table", ""))
    output = split_names(options.get("outputColumns") or [])
    if operation == "select":
        p.ignore("columns")
        out["columns"] = output
        out["where"] = [{"column": row.get("column", ""), "operator": _condition(row.get("condition", "equal"), p),
                         **({"value": row.get("value", "")} if "value" in row else {})}
                        for row in rows(p.take("where", {}), "values", "where")]
        out["sort"] = [{"column": row.get("column", ""), "direction": row.get("direction", "ASC")}
                       for row in rows(p.take("sort", {}), "values", "sort")]
        out["combineConditions"] = p.take("combineConditions", "AND")
        out["returnAll"] = bool(p.take("returnAll", False))
        if not out["returnAll"]:
            out["limit"] = p.take("limit", 50)
        return p.done(out)
    if operation not in ("insert", "update", "upsert"):
        raise bad("operation", f"must be executeQuery, insert, update, upsert, select or deleteTable; got {operation!r}")
    if output and output != ["*"]:
        p.unsupported("option 'outputColumns' on a write is not supported")
    out["columns"], match = _mapping(p, operation)
    if operation != "insert":
        out["matchOn"] = match
    return p.done(out)


def _condition(value: Any, p: Params) -> str:
    found = _CONDITIONS.get(str(value))
    if found is None:
        p.unsupported(f"where condition {value!r} is not supported")
        return "="
    return found


def _v1(p: Params, schema: bool) -> tuple[dict[str, Any], N8nNotes]:
    """v1: executeQuery / insert / update; `additionalFields.queryParams` names the item fields for $1, $2, …"""
    operation = p.take("operation", "insert")
    extra = p.options("additionalFields", ("mode", "queryParams"))
    if p.options("options", ("ignore", "priority")):
        p.unsupported("MySQL v1's options (ignore, priority) are not supported")
    mode = extra.get("mode", "multiple")
    out: dict[str, Any] = {"operation": operation,
                           "queryBatching": "independently" if mode == "independently" else "transaction"}
    if operation == "executeQuery":
        fields = [f"={{{{ $json[{name!r}] }}}}" for name in split_names(extra.get("queryParams", ""))]
        out["query"], inline = split_query(p.take("query", ""), len(fields) + 1, p)
        out["queryParams"] = [*fields, *inline]
        return p.done(out)
    if operation not in ("insert", "update"):
        raise bad("operation", f"must be executeQuery, insert or update; got {operation!r}")
    if schema:
        out["schema"] = p.take("schema", "public")
    out["table"] = p.take("table", "")
    out["columns"] = split_names(p.take("columns", ""))
    if p.take("returnFields", "*") not in ("*", ""):
        p.unsupported("parameter 'returnFields' other than * is not supported")
    if operation == "update":
        out["matchOn"] = [p.take("updateKey", "id")]
    return p.done(out)
