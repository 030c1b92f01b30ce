"""Execute Workflow: run another workflow (by stored id or file path) with this node's items."""

from typing import Any

from flowbox.node import Context, Item, N8n, N8nNotes, Param, node
from flowbox.nodes._n8n import Params


def from_n8n(params: dict[str, Any], version: float) -> tuple[dict[str, Any], N8nNotes]:
    """n8n's Execute Workflow from the database (`source` database, `workflowId` as text or a resource
    locator `{"value"}`) or a local file (`workflowPath`, flowbox or n8n JSON), `mode` once (default) | each.
    URLs and inline workflow JSON are not supported."""
    p = Params(params, version)
    source = p.take("source", "database")
    if source == "localFile":
        ref = p.take("workflowPath", "")
        p.approximated(f"workflow file {ref!r} is read on the machine flowbox runs on")
    else:
        if source != "database":
            p.unsupported(f"source {source!r} is not supported (a stored workflow or a local file only)")
            p.ignore("workflowUrl", "workflowJson")
        ref = p.take("workflowId", "")
        ref = ref.get("value", "") if isinstance(ref, dict) else ref
        p.approximated(f"workflow {ref!r} is n8n's workflow id: import that workflow with the same id")
    mode = p.take("mode", "once")
    options = p.options("options", ("waitForSubWorkflow",))
    if options.get("waitForSubWorkflow") is False:
        p.unsupported("not waiting for the sub-workflow is not supported")
    inputs = p.take("workflowInputs", {}) or {}
    if isinstance(inputs, dict) and (inputs.get("value") or inputs.get("schema")):
        p.unsupported("typed workflow inputs (v1.2 'workflowInputs') are not supported; the items are passed on")
    return p.done({"workflow": str(ref), "mode": "eachItem" if mode == "each" else "once"})


N8N = N8n(types=("n8n-nodes-base.executeWorkflow",), versions=(1, 1.1, 1.2), convert=from_n8n)


@node(n8n=N8N, type="executeWorkflow", display_name="Execute Workflow", group="flow", icon="workflow", sub_workflow="workflow",
      description="Run a sub-workflow with the items; outputs what its last node output",
      params=[
          Param("workflow", "string", "", required=True, description="Workflow id, or path of a workflow JSON file"),
          Param("mode", "options", "once", options=("once", "eachItem"),
                description="once: one run with all items; eachItem: one run per item"),
      ])
async def execute_workflow(ctx: Context, items: list[Item]) -> list[list[Item]]:
    if ctx.param("mode") == "eachItem":
        out: list[Item] = []
        for i, item in enumerate(items):
            ref = ctx.param("workflow", i)
            for result in await ctx.run_workflow(ref, [item]):
                out.append(Item(result.json, result.binary, item))
        return [out]
    ref = ctx.param("workflow", 0) if items else str(ctx.raw_param("workflow"))
    results = await ctx.run_workflow(ref, items)
    return [[Item(r.json, r.binary) for r in results]]
