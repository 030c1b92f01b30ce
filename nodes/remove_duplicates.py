"""Remove Duplicates: keep the first item of each distinct value (of some fields, or of all)."""

import json
from typing import Any

from flowbox.node import Context, Item, N8n, N8nNotes, Param, get_path, node
from flowbox.nodes._n8n import Params, rows, split_names


def from_n8n(params: dict[str, Any], version: float) -> tuple[dict[str, Any], N8nNotes]:
    """n8n's Remove Duplicates: `compare` allFields (default) | selectedFields (`fieldsToCompare`, a
    comma-separated text, or v1's `{"fields": [{fieldName}]}`); v2's `operation` removeDuplicateInputItems.
    Comparing all fields but some, and the v2 operations that remember earlier executions, are not
    supported."""
    p = Params(params, version)
    operation = p.take("operation", "removeDuplicateInputItems")
    if operation != "removeDuplicateInputItems":
        p.unsupported(f"operation {operation!r} (across executions) is not supported")
    compare = p.take("compare", "allFields")
    fields: list[str] = []
    if compare == "selectedFields":
        value = p.take("fieldsToCompare", "")
        fields = ([str(r.get("fieldName", "")) for r in rows(value, "fields", "fieldsToCompare")]
                  if isinstance(value, dict) else split_names(value))
    elif compare != "allFields":
        p.unsupported(f"compare {compare!r} is not supported")
        p.ignore("fieldsToExclude")
    if p.options("options", ("disableDotNotation",)).get("disableDotNotation") and any("." in f for f in fields):
        p.unsupported("disableDotNotation with a field name holding '.' is not supported")
    return p.done({"fields": fields})


N8N = N8n(types=("n8n-nodes-base.removeDuplicates",), versions=(1, 1.1, 2), convert=from_n8n)


@node(n8n=N8N, type="removeDuplicates", display_name="Remove Duplicates", group="transform", icon="copy-x",
      description="Drop items equal to an earlier one (compare the given fields, or all fields)",
      params=[Param("fields", "list", [], description="Field paths to compare; empty compares all fields")])
async def remove_duplicates(ctx: Context, items: list[Item]) -> list[list[Item]]:
    fields = ctx.param("fields") or []
    if isinstance(fields, str):
        fields = [f.strip() for f in fields.split(",") if f.strip()]
    seen: set[str] = set()
    out = []
    for item in items:
        value = [get_path(item.json, f) for f in fields] if fields else item.json
        key = json.dumps(value, sort_keys=True, default=str)
        if key not in seen:
            seen.add(key)
            out.append(item)
    return [out]
