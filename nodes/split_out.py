"""Split Out: turn a list field into one item per element."""

from typing import Any

from flowbox.node import Context, Item, N8n, N8nNotes, Param, get_path, node
from flowbox.nodes._n8n import Params, split_names


def from_n8n(params: dict[str, Any], version: float) -> tuple[dict[str, Any], N8nNotes]:
    """n8n's Split Out: one `fieldToSplitOut`, `include` noOtherFields (default) | allOtherFields,
    `options.destinationFieldName`. Several fields, or only some other fields, are not supported."""
    p = Params(params, version)
    names = split_names(p.take("fieldToSplitOut", ""))
    if len(names) != 1:
        p.unsupported(f"splitting {len(names)} fields at once is not supported (one field per node)")
    include = p.take("include", "noOtherFields")
    if include not in ("noOtherFields", "allOtherFields"):
        p.unsupported(f"include {include!r} is not supported")
        p.ignore("fieldsToInclude")
    options = p.options("options", ("destinationFieldName", "disableDotNotation"))
    if options.get("disableDotNotation") and any("." in name for name in names):
        p.unsupported("disableDotNotation with a field name holding '.' is not supported")
    return p.done({"field": names[0] if names else "",
                   "include": "allOtherFields" if include == "allOtherFields" else "none",
                   "destination": str(options.get("destinationFieldName", ""))})


N8N = N8n(types=("n8n-nodes-base.splitOut",), versions=(1,), convert=from_n8n)


@node(n8n=N8N, type="splitOut", display_name="Split Out", group="transform", icon="list-tree",
      description="One item per element of a list field",
      params=[
          Param("field", "string", "", required=True, description="Path of the list field to split"),
          Param("include", "options", "none", options=("none", "allOtherFields"),
                description="Copy the item's other fields onto each new item"),
          Param("destination", "string", "", description="Name for the element field (default: the field name)"),
      ])
async def split_out(ctx: Context, items: list[Item]) -> list[list[Item]]:
    out = []
    for i, item in enumerate(items):
        path = ctx.param("field", i)
        values = get_path(item.json, path)
        if values is None:
            continue
        if not isinstance(values, list):
            values = [values]
        dest = ctx.param("destination", i) or path.split(".")[-1]
        others = {k: v for k, v in item.json.items() if k != path} if ctx.param("include", i) == "allOtherFields" else {}
        for value in values:
            data = {**others, **value} if isinstance(value, dict) and not ctx.param("destination", i) else {
                **others, dest: value}
            out.append(item.derive(data))
    return [out]
