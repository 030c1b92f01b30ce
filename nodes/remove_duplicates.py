"""Remove Duplicates: keep the first item of each distinct value (of some fields, or of all)."""

import json

from flowbox.node import Context, Item, Param, get_path, node


@node(type="removeDuplicates", display_name="Remove Duplicates", group="transform", icon="copy-x",
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
