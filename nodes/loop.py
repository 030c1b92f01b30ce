"""Loop Over Items: hand items on in batches; when all are done, emit everything on 'done'.

Output 1 ("loop") gets the next batch; connect the end of the loop body back to this
node's input. Output 0 ("done") gets all items returned by the loop body, after the
last batch. State lives in the node's per-execution `ctx.state`.
"""

from typing import Any

from flowbox.node import Context, Item, N8n, N8nNotes, Param, node
from flowbox.nodes._n8n import Params


def from_n8n(params: dict[str, Any], version: float) -> tuple[dict[str, Any], N8nNotes]:
    """n8n's Loop Over Items (Split in Batches v3: output 0 "done", 1 "loop", as flowbox's loop);
    `batchSize` default 1 (v3) or 10 (v1, v2). v1 and v2 end the loop through an expression
    (`$node[...].context["noItemsLeft"]`) on one output, which flowbox's loop does not have."""
    p = Params(params, version)
    options = p.options("options", ("reset",))
    if version < 3:
        p.unsupported(f"Split in Batches v{version:g} (one output, ended by an expression) is not supported; "
                      "v3 (Loop Over Items) is")
    if options.get("reset"):
        p.unsupported("option 'reset' is not supported")
    return p.done({"batchSize": p.take("batchSize", 1 if version >= 3 else 10)})


N8N = N8n(types=("n8n-nodes-base.splitInBatches",), versions=(1, 2, 3), convert=from_n8n)


@node(n8n=N8N, type="loop", display_name="Loop Over Items", group="flow", icon="repeat", outputs=2,
      output_names=("done", "loop"), cycle_ok=True,
      description="Process items in batches: 'loop' gets each batch, 'done' gets all results at the end",
      params=[Param("batchSize", "number", 1, min=1, required=True, integer=True)])
async def loop(ctx: Context, items: list[Item]) -> list[list[Item]]:
    state = ctx.state
    if not state.get("active"):
        size = ctx.param("batchSize")
        state.update(active=True, pending=list(items), done=[], size=max(1, size))
    else:
        state["done"].extend(items)
    pending: list[Item] = state["pending"]
    if pending:
        batch, state["pending"] = pending[:state["size"]], pending[state["size"]:]
        return [[], batch]
    done = state["done"]
    state.clear()
    return [done, []]
