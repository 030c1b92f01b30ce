"""Loop Over Items: hand items on in batches; when all are done, emit everything on 'done'.

Output 1 ("loop") gets the next batch; connect the end of the loop body back to this
node's input. Output 0 ("done") gets all items returned by the loop body, after the
last batch. State lives in the node's per-execution `ctx.state`.
"""

from typing import Any

from flowbox.node import Context, Item, N8n, N8nNotes, Param, node
from flowbox.nodes._n8n import Params


def from_n8n(params: dict[str, Any], version: float) -> tuple[dict[str, Any], N8nNotes]:
    """n8n's Loop Over Items (Split in Batches v3: output 0 "done", 1 "loop", as flowbox's loop), `batchSize`
    (default 1); v1 and v2 go to the legacy node (`route`)."""
    p = Params(params, version)
    options = p.options("options", ("reset",))
    if options.get("reset"):
        p.unsupported("option 'reset' is not supported")
    p.ignore("splitInBatchesNotice")
    return p.done({"batchSize": p.take("batchSize", 1)})


def route(params: dict[str, Any], version: float) -> tuple[str, float, dict[str, Any]] | None:
    """Split in Batches v1 and v2 (a batch per run, ended through `$node[...].context`) are the legacy node."""
    return None if version >= 3 else ("n8n-nodes-base.splitInBatchesLegacy", version, params)


def from_n8n_legacy(params: dict[str, Any], version: float) -> tuple[dict[str, Any], N8nNotes]:
    """n8n's Split in Batches v1 (one output) and v2 (outputs "loop" and "done"): `batchSize` (default 10),
    `options.reset` (may be an expression)."""
    p = Params(params, version)
    options = p.options("options", ("reset",))
    p.ignore("splitInBatchesNotice")
    out: dict[str, Any] = {"batchSize": p.take("batchSize", 10), "reset": options.get("reset", False)}
    if version >= 2:
        out["doneOutput"] = True
    return p.done(out)


N8N = N8n(types=("n8n-nodes-base.splitInBatches",), versions=(1, 2, 2.1, 3), convert=from_n8n, route=route)
LEGACY = N8n(types=("n8n-nodes-base.splitInBatchesLegacy",), versions=(1, 2, 2.1), convert=from_n8n_legacy)


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


@node(n8n=LEGACY, type="splitInBatches", display_name="Split in Batches (legacy)", group="flow", icon="repeat",
      outputs=lambda params: 2 if params.get("doneOutput") else 1,
      output_names=lambda params: ("loop", "done") if params.get("doneOutput") else ("batch",), cycle_ok=True,
      description="n8n's Split in Batches v1/v2: each run outputs the next batch; the node's context "
                  "(noItemsLeft, currentRunIndex, maxRunIndex, done) tells an If when to stop. Prefer Loop Over Items",
      params=[Param("batchSize", "number", 10, min=1, required=True, integer=True),
              Param("reset", "boolean", False, description="Start again with this run's input items"),
              Param("doneOutput", "boolean", False,
                    description="A second output, 'done', gets every item that came back once no batch is left")])
async def split_in_batches(ctx: Context, items: list[Item]) -> list[list[Item]]:
    """The first run (or a reset) keeps the items and outputs the first batch; each later run outputs the next
    (the items coming back are collected for 'done'); `ctx.state["context"]` is what `$node[...].context` reads."""
    state, size = ctx.state, ctx.param("batchSize")
    context = state.setdefault("context", {})
    if "pending" not in state or ctx.param("reset"):
        state.update(pending=list(items[size:]), processed=[])
        batch = list(items[:size])
        context.update(currentRunIndex=0, maxRunIndex=-(-len(items) // size))
    else:
        pending = state["pending"]
        batch, state["pending"] = pending[:size], pending[size:]
        state["processed"].extend(items)
        context["currentRunIndex"] += 1
    context["noItemsLeft"] = not state["pending"]
    context["done"] = not batch
    if not ctx.param("doneOutput"):
        return [batch]
    return [batch, []] if batch else [[], list(state["processed"])]
