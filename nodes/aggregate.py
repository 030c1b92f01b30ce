"""Aggregate: many items into one — collect a field into a list, or all items into `data`."""

from typing import Any

from flowbox.node import Context, Item, N8n, N8nNotes, Param, get_path, node
from flowbox.nodes._n8n import Params, rows


def from_n8n(params: dict[str, Any], version: float) -> tuple[dict[str, Any], N8nNotes]:
    """n8n's Aggregate: `aggregate` aggregateIndividualFields (default; one field of
    `fieldsToAggregate.fieldToAggregate`, optionally renamed) or aggregateAllItemData (into
    `destinationFieldName`, default "data"). Several fields at once are not supported."""
    p = Params(params, version)
    options = p.options("options", ("keepMissing", "disableDotNotation"))
    if p.take("aggregate", "aggregateIndividualFields") == "aggregateAllItemData":
        if p.take("include", "allFields") != "allFields":
            p.unsupported("including only some fields is not supported")
        p.ignore("fieldsToInclude", "fieldsToExclude")
        return p.done({"all": True, "outputField": p.take("destinationFieldName", "data") or "data"})
    fields = rows(p.take("fieldsToAggregate", {}), "fieldToAggregate", "fieldsToAggregate")
    if len(fields) != 1:
        p.unsupported(f"aggregating {len(fields)} fields at once is not supported (one field per node)")
        return p.done({})
    row = fields[0]
    field = str(row.get("fieldToAggregate", ""))
    if options.get("disableDotNotation") and "." in field:
        p.unsupported("disableDotNotation with a field name holding '.' is not supported")
    out = {"field": field, "includeEmpty": bool(options.get("keepMissing", False))}
    if row.get("renameField"):
        out["outputField"] = str(row.get("outputFieldName", ""))
    return p.done(out)


N8N = N8n(types=("n8n-nodes-base.aggregate",), versions=(1,), convert=from_n8n)


@node(n8n=N8N, type="aggregate", display_name="Aggregate", group="transform", icon="layers",
      description="Combine all items into one item",
      params=[
          Param("field", "string", "", description="Collect this field of every item into a list"),
          Param("all", "boolean", False, description="Put every item's data in a list under `data`"),
          Param("outputField", "string", "", description="Name of the output field (default: the field name, or 'data')"),
          Param("includeEmpty", "boolean", False, description="Keep missing/empty values when collecting a field"),
      ])
async def aggregate(ctx: Context, items: list[Item]) -> list[list[Item]]:
    field = ctx.param("field")
    everything = ctx.param("all")
    if not field and not everything:
        raise ctx.error("set 'field' to collect one field, or 'all' to collect whole items")
    out_name = ctx.param("outputField") or ("data" if everything else field)
    if everything:
        values = [item.json for item in items]
    else:
        raw = [get_path(item.json, field) for item in items]
        values = raw if ctx.param("includeEmpty") else [v for v in raw if v is not None and v != ""]
    return [[Item({out_name: values}, None, items[0] if items else None)]]
