"""Sort: order items by one or more fields."""

import re
from typing import Any

from flowbox.errors import WorkflowInvalid
from flowbox.node import Context, Item, N8n, N8nNotes, Param, get_path, node
from flowbox.nodes._n8n import Params, rows


def _key(value: Any) -> tuple[int, Any]:
    # None last; numbers before strings; anything else by its text
    if value is None:
        return (3, 0)
    if isinstance(value, bool):
        return (0, int(value))
    if isinstance(value, (int, float)):
        return (0, value)
    if isinstance(value, str):
        return (1, value)
    return (2, str(value))


def from_n8n(params: dict[str, Any], version: float) -> tuple[dict[str, Any], N8nNotes]:
    """n8n's Sort: `type` simple (default) with `sortFieldsUi.sortField` [{fieldName, order ascending|
    descending}]; a random sort is not supported; a code sort becomes a Code node (`route`)."""
    p = Params(params, version)
    kind = p.take("type", "simple")
    if kind != "simple":
        p.unsupported(f"sort type {kind!r} is not supported (only a sort by fields)")
        p.ignore("code")
    p.options("options", ("disableDotNotation",))
    fields = [{"field": str(row.get("fieldName", "")), "order": "desc" if row.get("order") == "descending"
               else "asc"} for row in rows(p.take("sortFieldsUi", {}), "sortField", "sortFieldsUi")]
    if (p.raw.get("options") or {}).get("disableDotNotation") and any("." in f["field"] for f in fields):
        p.unsupported("disableDotNotation with a field name holding '.' is not supported")
    return p.done({"fields": fields})


def route(params: dict[str, Any], version: float) -> tuple[str, float, dict[str, Any]] | None:
    """n8n's Sort by `code` (a JavaScript comparator of items `a` and `b`) as n8n's Code node that sorts with it."""
    if params.get("type") != "code":
        return None
    code = str(params.get("code") or "")
    if not re.search(r"\breturn\b", code):
        raise WorkflowInvalid("Sort code doesn't return: add a 'return' statement to the comparator", field="code")
    return "n8n-nodes-base.code", 2, {"language": "javaScript", "mode": "runOnceForAllItems",
                                      "jsCode": f"return items.slice().sort((a, b) => {{\n{code}\n}});"}


N8N = N8n(types=("n8n-nodes-base.sort",), versions=(1,), convert=from_n8n, route=route)


@node(n8n=N8N, type="sort", display_name="Sort", group="transform", icon="arrow-up-down",
      description="Sort items by fields, ascending or descending",
      params=[Param("fields", "list", [], required=True, fields=(
          Param("field", "string", "", required=True, description="Field path, e.g. customer.name"),
          Param("order", "options", "asc", options=("asc", "desc")),
      ))])
async def sort(ctx: Context, items: list[Item]) -> list[list[Item]]:
    fields = ctx.param("fields") or []
    if isinstance(fields, dict):
        fields = [fields]
    out = list(items)
    for spec in reversed(fields):  # stable sorts, last key first
        path = spec.get("field") if isinstance(spec, dict) else str(spec)
        if not path:
            raise ctx.error("every sort key needs a 'field'")
        desc = isinstance(spec, dict) and spec.get("order") == "desc"
        if "." in path:
            out.sort(key=lambda it, p=path: _key(get_path(it.json, p)), reverse=desc)
        else:
            out.sort(key=lambda it, p=path: _key(it.json.get(p)), reverse=desc)
    return [out]
