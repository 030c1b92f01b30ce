"""Execute Workflow: run another workflow (by stored id or file path) with this node's items."""

from flowbox.node import Context, Item, Param, node


@node(type="executeWorkflow", display_name="Execute Workflow", group="flow", icon="workflow",
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
            ref = str(ctx.param("workflow", i))
            for result in await ctx.run_workflow(ref, [item]):
                out.append(Item(result.json, result.binary, item))
        return [out]
    ref = str(ctx.param("workflow", 0)) if items else str(ctx.raw_param("workflow"))
    results = await ctx.run_workflow(ref, items)
    return [[Item(r.json, r.binary) for r in results]]
