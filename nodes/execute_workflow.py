"""Execute Workflow: run another workflow (by stored id or file path, or given as JSON) with this node's items."""

import json
from typing import Any

from flowbox.node import Context, Item, N8n, N8nNotes, Param, node
from flowbox.nodes._n8n import Params


def from_n8n(params: dict[str, Any], version: float) -> tuple[dict[str, Any], N8nNotes]:
    """n8n's Execute Workflow from the database (`source` database, `workflowId` as text or a resource
    locator `{"value"}`), a local file (`workflowPath`, flowbox or n8n JSON) or the node's own
    `workflowJson` (source parameter), `mode` once (default) | each. URLs are not supported."""
    p = Params(params, version)
    source = p.take("source", "database")
    json_out: dict[str, Any] = {}
    if source == "parameter":
        ref = ""
        json_out = {"source": "json", "workflowJson": p.take("workflowJson", "")}
    elif source == "localFile":
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
    return p.done({"workflow": str(ref), **json_out, "mode": "eachItem" if mode == "each" else "once"})


N8N = N8n(types=("n8n-nodes-base.executeWorkflow",), versions=(1, 1.1, 1.2), convert=from_n8n)


@node(n8n=N8N, type="executeWorkflow", display_name="Execute Workflow", group="flow", icon="workflow",
      sub_workflow="workflow", inline_workflow="workflowJson",
      description="Run a sub-workflow with the items; outputs what its last node output",
      params=[
          Param("source", "options", "reference", options=("reference", "json"),
                description="reference: a stored workflow's id or a file's path; json: the workflow given here"),
          Param("workflow", "string", "", required=True, show_if={"source": ["reference"]},
                description="Workflow id, or path of a workflow JSON file"),
          Param("workflowJson", "json", "", required=True, show_if={"source": ["json"]},
                description="The sub-workflow's JSON (flowbox's or n8n's)"),
          Param("mode", "options", "once", options=("once", "eachItem"),
                description="once: one run with all items; eachItem: one run per item"),
      ])
async def execute_workflow(ctx: Context, items: list[Item]) -> list[list[Item]]:
    if ctx.param("mode") == "eachItem":
        out: list[Item] = []
        for i, item in enumerate(items):
            for result in await ctx.run_workflow(_target(ctx, i), [item]):
                out.append(Item(result.json, result.binary, item))
        return [out]
    results = await ctx.run_workflow(_target(ctx, 0 if items else None), items)
    return [[Item(r.json, r.binary) for r in results]]


def _target(ctx: Context, i: int | None) -> str | dict[str, Any]:
    """The sub-workflow to run: its reference, or its JSON (parsed when given as text)."""
    if ctx.param("source", i or 0, "reference") != "json":
        return str(ctx.raw_param("workflow")) if i is None else ctx.param("workflow", i)
    value = ctx.raw_param("workflowJson") if i is None else ctx.param("workflowJson", i)
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError as exc:
            raise ctx.error(f"parameter 'workflowJson' is not valid JSON: {exc}") from None
    if not isinstance(value, dict):
        raise ctx.error("parameter 'workflowJson' must be a workflow: an object with 'nodes' and 'connections'")
    return value
