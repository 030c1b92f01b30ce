"""Summarize: n8n's pivot-table node (v1.1; an imported version 1 keeps its rules) — sum, count, append, ... fields across items, split by fields.

Output keys are n8n's: `<prefix><field>` with `[`, `]`, `"` removed and `.`/space turned into `_`
(`sum_amount`, `count_id`, `appended_tags`, `concatenated_name`, `unique_count_city`, `average_price`,
`max_price`, `min_price`). With `fieldsToSplitBy` each group is one item carrying the split fields'
values (outputFormat "separateItems"), or all groups nest in one item keyed by their values ("singleItem").
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from flowbox.node import Context, Item, N8n, N8nNotes, Param, node
from flowbox.nodes._n8n import Params
from flowbox.nodes._paths import MISSING, comma_list, get_field, js_string, rows
from flowbox.nodes._versions import type_version

AGGREGATIONS = ("append", "average", "concatenate", "count", "countUnique", "max", "min", "sum")
PREFIX = {"append": "appended_", "average": "average_", "concatenate": "concatenated_", "count": "count_",
          "countUnique": "unique_count_", "max": "max_", "min": "min_", "sum": "sum_"}
NUMERICAL = ("average", "sum")


def _empty(value: Any) -> bool:
    return value is MISSING or value is None or value == ""


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def normalize(name: str) -> str:
    """n8n's output field name: `[`, `]`, `"` dropped, `.` and spaces -> `_`."""
    for ch in '[]"':
        name = name.replace(ch, "")
    return name.replace(".", "_").replace(" ", "_")


def output_key(aggregation: str, field: str) -> str:
    """The output field of one aggregation: `sum_` + `amount`, normalized."""
    return normalize(PREFIX[aggregation] + field)


def _identity(value: Any) -> Any:
    """A hashable key that tells values apart the way a JavaScript Set/Map does (1 vs True vs "1")."""
    if value is MISSING:
        return ("undefined",)
    if isinstance(value, bool):
        return ("boolean", value)
    if _number(value):
        return ("number", float(value))
    if isinstance(value, (dict, list)):
        return ("object", id(value))  # objects are distinct by reference
    return (type(value).__name__, value)


def _less(a: Any, b: Any) -> bool:
    if _number(a) and _number(b) or isinstance(a, str) and isinstance(b, str):
        return a < b
    return js_string(a) < js_string(b)


def aggregate(values: list[Any], row: dict[str, Any]) -> Any:
    """One aggregation over the field's values (MISSING where an item lacks the field)."""
    how = row.get("aggregation") or "count"
    include_empty = bool(row.get("includeEmpty"))
    if how in NUMERICAL:
        numbers = [v for v in values if _number(v)]
        if how == "sum":
            return sum(numbers)
        return sum(numbers) / len(numbers) if numbers else None  # NaN in n8n, null once serialised
    if how in ("min", "max"):
        best = MISSING
        for value in values:
            if not _empty(value) and (best is MISSING or (_less(value, best) if how == "min" else _less(best, value))):
                best = value
        return None if best is MISSING else best
    kept = values if include_empty else [v for v in values if not _empty(v)]
    if how == "append":
        return [None if v is MISSING else v for v in kept]
    if how == "concatenate":
        sep = row.get("customSeparator", "") if row.get("separateBy") == "other" else row.get("separateBy", ",")
        return str(sep if sep is not None else ",").join(
            v if isinstance(v, str) else js_string(v) for v in kept)
    if how == "countUnique":
        return len({_identity(v) for v in kept})
    return len(kept)


def _summary(items: list[dict[str, Any]], aggregations: list[dict[str, Any]], dot: bool) -> dict[str, Any]:
    return {output_key(row["aggregation"], row["field"]): aggregate([get_field(j, row["field"], dot) for j in items], row)
            for row in aggregations}


def _groups(items: list[tuple[int, dict[str, Any]]], field: str, dot: bool,
            skip_empty: bool, as_text: bool) -> list[tuple[Any, list[tuple[int, dict[str, Any]]]]]:
    """Items grouped by the value of `field`, in first-seen order (objects compared as JSON text; version 1
    compares every value as text)."""
    groups: dict[Any, tuple[Any, list[tuple[int, dict[str, Any]]]]] = {}
    for index, data in items:
        value = get_field(data, field, dot)
        if isinstance(value, (dict, list)):
            value = json.dumps(value, separators=(",", ":"))
        if as_text:
            value = js_string(value)
        if skip_empty and not _number(value) and (value is MISSING or value in (None, "", False)):
            continue
        key = _identity(value)
        groups.setdefault(key, (value, []))[1].append((index, data))
    return list(groups.values())


@dataclass(frozen=True)
class Split:
    """How to read and group: dot notation, skipping empty split values, version 1's text keys."""

    dot: bool
    skip_empty: bool
    as_text: bool


def _split(items: list[tuple[int, dict[str, Any]]], keys: list[str], aggregations: list[dict[str, Any]],
           how: Split) -> list[tuple[dict[str, Any], list[int]]]:
    """(summary with the split fields' values, input indexes) per group, for "separateItems"."""
    if not keys:
        return [(_summary([d for _, d in items], aggregations, how.dot), [i for i, _ in items])]
    out = []
    for value, members in _groups(items, keys[0], how.dot, how.skip_empty, how.as_text):
        for summary, indexes in _split(members, keys[1:], aggregations, how):
            if value is not MISSING:  # undefined is dropped when n8n serialises the item
                summary[normalize(keys[0])] = value
            out.append((summary, indexes))
    return out


def _nest(items: list[tuple[int, dict[str, Any]]], keys: list[str], aggregations: list[dict[str, Any]],
          how: Split) -> dict[str, Any]:
    """All groups in one object keyed by each split value's text, for "singleItem"."""
    if not keys:
        return _summary([d for _, d in items], aggregations, how.dot)
    return {js_string(value): _nest(members, keys[1:], aggregations, how)
            for value, members in _groups(items, keys[0], how.dot, how.skip_empty, how.as_text)}


ROW = (
    Param("aggregation", "options", "count", options=AGGREGATIONS,
          description="How to combine the values of the field"),
    Param("field", "string", "", placeholder="e.g. cost", description="The input field to summarize"),
    Param("includeEmpty", "boolean", False, show_if={"aggregation": ["append", "concatenate", "count", "countUnique"]},
          description="Count or keep null, missing and empty-text values too"),
    Param("separateBy", "options", ",", options=(",", ", ", "\n", "", " ", "other"),
          show_if={"aggregation": ["concatenate"]}, description="What to insert between values"),
    Param("customSeparator", "string", "", show_if={"aggregation": ["concatenate"], "separateBy": ["other"]}),
)
OPTIONS = (
    Param("continueIfFieldNotFound", "boolean", False,
          description="n8n version 1 only: continue when a field to summarize is in no item (later versions always "
                      "continue)"),
    Param("disableDotNotation", "boolean", False, description="Read `a.b` as one key instead of a nested field"),
    Param("outputFormat", "options", "separateItems", options=("separateItems", "singleItem"),
          description="One item per split, or all splits nested in one item"),
    Param("skipEmptySplitFields", "boolean", False, description="Ignore items without valid fields to group by"),
)


def from_n8n(params: dict[str, Any], version: float) -> tuple[dict[str, Any], N8nNotes]:
    """n8n's Summarize v1/v1.1 (same names): `fieldsToSummarize.values` rows unwrapped."""
    p = Params(params, version)
    return p.done(p.same(("fieldsToSplitBy",), lists={"fieldsToSummarize": "values"},
                         collections={"options": [o.name for o in OPTIONS]}))


N8N = N8n(types=("n8n-nodes-base.summarize",), versions=(1, 1.1), convert=from_n8n)

@node(n8n=N8N, type="summarize", display_name="Summarize", group="transform", icon="functions",
      description="Sum, count, max, etc. across items, optionally split by fields (n8n's Summarize)",
      params=[
          Param("fieldsToSummarize", "list", [{"aggregation": "count", "field": ""}], required=True, fields=ROW,
                description="Aggregations; output fields are named like sum_amount, count_id"),
          Param("fieldsToSplitBy", "string", "", placeholder="e.g. country, city",
                description="Input fields to split (group) the summary by, separated by commas"),
          Param("options", "collection", {}, fields=OPTIONS),
      ])
async def summarize(ctx: Context, items: list[Item]) -> list[list[Item]]:
    aggregations = rows(ctx.param("fieldsToSummarize"), "values")
    for n, row in enumerate(aggregations, 1):
        row.setdefault("aggregation", "count")
        row["field"] = str(row.get("field") or "")
        if row["aggregation"] not in AGGREGATIONS:
            raise ctx.error(f"parameter 'fieldsToSummarize' row {n}: aggregation must be one of "
                            f"{', '.join(AGGREGATIONS)}; got {row['aggregation']!r}")
    aggregations = [row for row in aggregations if row["field"]]
    if not aggregations:
        raise ctx.error("parameter 'fieldsToSummarize': add at least one aggregation with a non-empty 'field' "
                        "(You need to add at least one aggregation to 'Fields to Summarize' with non empty 'Field')")
    options = ctx.param("options") or {}
    version = type_version(ctx, 1.1)
    dot = not options.get("disableDotNotation")
    how = Split(dot, bool(options.get("skipEmptySplitFields")), version < 1.1)
    keys = comma_list(ctx.param("fieldsToSplitBy"))
    data = [item.json for item in items]
    for row in aggregations:
        if not any(get_field(j, row["field"], dot) is not MISSING for j in data):
            message = f"The field '{row['field']}' does not exist in any items"
            if version < 1.1 and not options.get("continueIfFieldNotFound"):
                raise ctx.error(f"parameter 'fieldsToSummarize': {message}")
            ctx.log(message)  # n8n 1.1 shows this as a hint and continues
    indexed = list(enumerate(data))
    first = items[0] if items else None
    if options.get("outputFormat") == "singleItem":
        return [[Item(_nest(indexed, keys, aggregations, how), None, first)]]
    return [[Item(summary, None, items[indexes[0]] if indexes else first)
             for summary, indexes in _split(indexed, keys, aggregations, how)]]
