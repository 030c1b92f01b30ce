"""Aggregate: many items into one — collect a field into a list, or all items into `data`; or one item per group."""

import json
from typing import Any

from flowbox.node import Context, Item, N8n, N8nNotes, Param, get_path, node, set_path
from flowbox.nodes._n8n import Params, bad, field_names, rows
from flowbox.nodes._paths import MISSING


def from_n8n(params: dict[str, Any], version: float) -> tuple[dict[str, Any], N8nNotes]:
    """n8n's Aggregate: `aggregate` aggregateIndividualFields (default; `fieldsToAggregate.fieldToAggregate`
    rows, each optionally renamed; options keepMissing, mergeLists) or aggregateAllItemData (into
    `destinationFieldName`, default "data"; `include` allFields | specifiedFields | allFieldsExcept).
    options.groupByFields makes one item per group. options.includeBinaries is not supported. `failIfMissing` comes from Item Lists (its rule before v2.1)."""
    p = Params(params, version)
    options = p.options("options", ("keepMissing", "disableDotNotation", "mergeLists", "includeBinaries",
                                    "keepOnlyUnique", "groupByFields"))
    group = field_names(options.get("groupByFields") or "", "options.groupByFields")
    if options.get("includeBinaries"):
        p.unsupported("options.includeBinaries (the items' files on the new item) is not supported")
    strict = p.take("failIfMissing", False) and not options.get("keepMissing")
    if p.take("aggregate", "aggregateIndividualFields") == "aggregateAllItemData":
        out: dict[str, Any] = {"all": True, "outputField": p.take("destinationFieldName", "data") or "data"}
        include = p.take("include", "allFields")
        if include == "specifiedFields":
            out["include"] = field_names(p.take("fieldsToInclude", ""), "fieldsToInclude")
        elif include == "allFieldsExcept":
            out["exclude"] = field_names(p.take("fieldsToExclude", ""), "fieldsToExclude")
        elif include != "allFields":
            raise bad("include", f"must be allFields, specifiedFields or allFieldsExcept; got {include!r}")
        return p.done({**out, "groupBy": group} if group else out)
    fields = rows(p.take("fieldsToAggregate", {}), "fieldToAggregate", "fieldsToAggregate")
    names = [str(row.get("fieldToAggregate", "")) for row in fields]
    if options.get("disableDotNotation") and any("." in field for field in names):
        p.unsupported("disableDotNotation with a field name holding '.' is not supported")
    listed = [{"field": name, "outputField": str(row.get("outputFieldName", "")) if row.get("renameField") else ""}
              for name, row in zip(names, fields, strict=True) if name]
    out = {"fields": listed, "includeEmpty": bool(options.get("keepMissing", False)), "nullsOnly": True}
    if options.get("mergeLists"):
        out["mergeLists"] = True
    if strict:
        out["failIfMissing"] = True
    if group:
        out["groupBy"] = group
    return p.done(out)


N8N = N8n(types=("n8n-nodes-base.aggregate",), versions=(1,), convert=from_n8n)


@node(n8n=N8N, type="aggregate", display_name="Aggregate", group="transform", icon="layers",
      description="Combine all items into one item",
      params=[
          Param("field", "string", "", description="Collect this field of every item into a list"),
          Param("fields", "list", [], fields=(
              Param("field", "string", "", required=True, description="Field path to collect"),
              Param("outputField", "string", "", description="Name of its list (default: the field's last name)"),
          ), description="Several fields at once, each into a list of its own"),
          Param("all", "boolean", False, description="Put every item's data in a list under `data`"),
          Param("include", "list", [], show_if={"all": [True]}, description="Only these fields of each item"),
          Param("exclude", "list", [], show_if={"all": [True]}, description="Every field of each item but these"),
          Param("outputField", "string", "", description="Name of the output field (default: the field name, or 'data')"),
          Param("includeEmpty", "boolean", False, description="Keep missing/empty values when collecting a field"),
          Param("nullsOnly", "boolean", False,
                description="Without includeEmpty, drop only missing and null values (and nulls inside lists), "
                            "keeping empty text, as n8n does"),
          Param("mergeLists", "boolean", False, description="A list value adds its elements, not itself"),
          Param("failIfMissing", "boolean", False, description="Fail when no item has a field to collect"),
          Param("groupBy", "list", [], description="One output item per group of items with equal values of "
                                                     "these fields (the group's values first in it)"),
      ])
async def aggregate(ctx: Context, items: list[Item]) -> list[list[Item]]:
    field, listed = ctx.param("field"), ctx.param("fields")
    everything = ctx.param("all")
    if not field and not listed and not everything:
        raise ctx.error("set 'field' (or 'fields') to collect fields, or 'all' to collect whole items")
    group_by = [str(f) for f in ctx.param("groupBy") or []]
    if not group_by:
        return [[_aggregate(ctx, items)]]
    groups: dict[str, list[Item]] = {}
    for item in items:
        values = [get_path(item.json, f, MISSING) for f in group_by]
        key = json.dumps([[] if v is MISSING else [v] for v in values], sort_keys=True, default=str)
        groups.setdefault(key, []).append(item)
    out = []
    for members in groups.values():
        head: dict[str, Any] = {}
        for name in group_by:
            if (value := get_path(members[0].json, name, MISSING)) is not MISSING:
                head = set_path(head, name, value)
        made = _aggregate(ctx, members)
        out.append(made.derive({**head, **made.json}, binary=None))
    return [out]


def _aggregate(ctx: Context, items: list[Item]) -> Item:
    """One item of `items`' collected fields, or of all their data."""
    field, listed = ctx.param("field"), ctx.param("fields")
    first = items[0] if items else None
    if ctx.param("all"):
        values = [item.json for item in items]
        include, exclude = ctx.param("include"), ctx.param("exclude")
        if include or exclude:
            values = [kept for data in values
                      if (kept := {k: v for k, v in data.items() if (not include or k in include) and k not in exclude})]
        return Item({ctx.param("outputField") or "data": values}, None, first)
    if field:
        return Item({ctx.param("outputField") or field: _collect(ctx, items, field)}, None, first)
    out: dict[str, Any] = {}
    for row in listed:
        name = row.get("outputField") or str(row["field"]).split(".")[-1]
        if name in out:
            raise ctx.error(f"the '{name}' output field is used more than once: give each field its own name")
        out = set_path(out, name, _collect(ctx, items, str(row["field"])))
    return Item(out, None, first)


def _collect(ctx: Context, items: list[Item], field: str) -> list[Any]:
    keep, nulls_only, flat = ctx.param("includeEmpty"), ctx.param("nullsOnly"), ctx.param("mergeLists")
    if ctx.param("failIfMissing") and all(get_path(item.json, field, MISSING) is MISSING for item in items):
        raise ctx.error(f"Couldn't find the field '{field}' in the input data")
    values: list[Any] = []
    for item in items:
        value = get_path(item.json, field)
        if not keep:
            if nulls_only and isinstance(value, list):
                value = [v for v in value if v is not None]
            elif value is None or (value == "" and not nulls_only):
                continue
        if flat and isinstance(value, list):
            values.extend(value)
        else:
            values.append(value)
    return values
