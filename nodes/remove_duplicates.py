"""Remove Duplicates: keep the first item of each distinct value (of some fields, or of all)."""

import json
from typing import Any

from flowbox.node import Context, Item, N8n, N8nNotes, Param, get_path, node, set_path
from flowbox.nodes._n8n import Params, field_names


def from_n8n(params: dict[str, Any], version: float) -> tuple[dict[str, Any], N8nNotes]:
    """n8n's Remove Duplicates: `compare` allFields (default) | selectedFields (`fieldsToCompare`) |
    allFieldsExcept (`fieldsToExclude`), each a comma-separated text or v1's `{"fields": [{fieldName}]}`;
    `options.removeOtherFields`; v2's `operation` removeDuplicateInputItems. The v2 operations that remember
    earlier executions are not supported."""
    p = Params(params, version)
    operation = p.take("operation", "removeDuplicateInputItems")
    if operation != "removeDuplicateInputItems":
        p.unsupported(f"operation {operation!r} (across executions) is not supported")
    compare = p.take("compare", "allFields")
    out: dict[str, Any] = {"fields": []}
    if compare == "selectedFields":
        out["fields"] = field_names(p.take("fieldsToCompare", ""), "fieldsToCompare")
    elif compare == "allFieldsExcept":
        out["except"] = field_names(p.take("fieldsToExclude", ""), "fieldsToExclude")
        if not out["except"]:
            p.unsupported("compare 'allFieldsExcept' without a field to exclude is not supported")
    elif compare != "allFields":
        p.unsupported(f"compare {compare!r} is not supported")
    options = p.options("options", ("disableDotNotation", "removeOtherFields"))
    if options.get("disableDotNotation") and any("." in f for f in out["fields"] + out.get("except", [])):
        p.unsupported("disableDotNotation with a field name holding '.' is not supported")
    if options.get("removeOtherFields"):
        out["removeOtherFields"] = True
    return p.done(out)


def leaf_paths(value: Any, prefix: str = "") -> list[str]:
    """The dotted paths of `value`'s leaves (list elements by index), as n8n flattens an item's keys."""
    if isinstance(value, dict | list):
        pairs = value.items() if isinstance(value, dict) else enumerate(value)
        return [path for key, inner in pairs for path in leaf_paths(inner, f"{prefix}{key}.")]
    return [prefix[:-1]]


N8N = N8n(types=("n8n-nodes-base.removeDuplicates",), versions=(1, 1.1, 2), convert=from_n8n)


@node(n8n=N8N, type="removeDuplicates", display_name="Remove Duplicates", group="transform", icon="copy-x",
      description="Drop items equal to an earlier one (compare the given fields, all fields but some, or all)",
      params=[Param("fields", "list", [], description="Field paths to compare; empty compares all fields"),
              Param("except", "list", [], description="Compare every field of the first item but these paths "
                                                       "(with `fields` empty)"),
              Param("removeOtherFields", "boolean", False,
                    description="Output only the compared fields of the items kept")])
async def remove_duplicates(ctx: Context, items: list[Item]) -> list[list[Item]]:
    fields = ctx.param("fields")
    excluded = ctx.param("except")
    if not fields and excluded and items:
        fields = [path for path in leaf_paths(items[0].json) if path not in excluded]
    seen: set[str] = set()
    out = []
    for item in items:
        value = [get_path(item.json, f) for f in fields] if fields else item.json
        key = json.dumps(value, sort_keys=True, default=str)
        if key not in seen:
            seen.add(key)
            out.append(item)
    if ctx.param("removeOtherFields") and fields:
        out = [item.derive(_pick(item.json, fields)) for item in out]
    return [out]


_MISSING = object()


def _pick(data: dict[str, Any], paths: list[str]) -> dict[str, Any]:
    """Only `paths` of `data` (lodash's pick)."""
    picked: dict[str, Any] = {}
    for path in paths:
        value = get_path(data, path, _MISSING)
        if value is not _MISSING:
            picked = set_path(picked, path, value)
    return picked
