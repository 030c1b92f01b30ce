"""Loop Over Items: hand items on in batches; when all are done, emit everything on 'done'.

Output 1 ("loop") gets the next batch; connect the end of the loop body back to this
node's input. Output 0 ("done") gets all items returned by the loop body, after the
last batch. State lives in the node's per-execution `ctx.state`.
"""

from flowbox.node import Context, Item, Param, node


@node(type="loop", display_name="Loop Over Items", group="flow", icon="repeat", outputs=2,
      output_names=("done", "loop"), cycle_ok=True,
      description="Process items in batches: 'loop' gets each batch, 'done' gets all results at the end",
      params=[Param("batchSize", "number", 1, min=1, required=True)])
async def loop(ctx: Context, items: list[Item]) -> list[list[Item]]:
    state = ctx.state
    if not state.get("active"):
        size = int(ctx.param("batchSize") or 1)
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
