"""Execution Data: save key/values on the execution (n8n's Execution Data node), shown with it and kept after
the run (`customData` in the execution's JSON, `flowbox run --json` and the API); the items pass on unchanged."""

from typing import Any

from flowbox.node import Context, Item, N8n, N8nNotes, Param, node
from flowbox.nodes._n8n import Params, rows


def from_n8n(params: dict[str, Any], version: float) -> tuple[dict[str, Any], N8nNotes]:
    """n8n's Execution Data v1: operation save (its only one), `dataToSave.values` [{key, value}] rows."""
    p = Params(params, version)
    operation = p.take("operation", "save")
    if operation != "save":
        p.unsupported(f"operation {operation!r} is not supported")
    data = [{"key": str(r.get("key", "")), "value": r.get("value", "")}
            for r in rows(p.take("dataToSave", {}), "values", "dataToSave")]
    return p.done({"data": data})


N8N = N8n(types=("n8n-nodes-base.executionData",), versions=(1,), convert=from_n8n)


@node(n8n=N8N, type="executionData", display_name="Execution Data", group="flow", icon="tag",
      description="Save key/values on the execution (to tell executions apart); items pass on unchanged",
      params=[
          Param("data", "list", [], required=True, fields=(
              Param("key", "string", "", required=True, description="At most 50 characters"),
              Param("value", "string", "", description="At most 255 characters (an expression's value as text)"),
          ), description="Up to 10 keys; each item sets them in turn, so the last item's values stay"),
      ])
async def execution_data(ctx: Context, items: list[Item]) -> list[list[Item]]:
    for i, _ in enumerate(items):
        try:
            ctx.set_custom_data({str(row.get("key", "")): row.get("value", "") for row in ctx.param("data", i)})
        except ValueError as exc:
            raise ctx.error(f"parameter 'data': {exc}", i) from None
    return [items]
