"""Manual trigger: starts a run by hand; passes the run's input items on."""

from typing import Any

from flowbox.node import Context, Item, N8n, N8nNotes, node
from flowbox.nodes._n8n import Params


def from_n8n(params: dict[str, Any], version: float) -> tuple[dict[str, Any], N8nNotes]:
    """n8n's Manual Trigger, the legacy Start node and the Execute Workflow Trigger (a sub-workflow's start:
    it outputs the items the calling Execute Workflow node passes, as this node outputs the run's input).
    The trigger's v1.1 typed inputs (`inputSource` workflowInputs with fields, or jsonExample) are not
    supported; `inputSource` passthrough ("accept all data") is."""
    p = Params(params, version)
    p.ignore("events", "notice")
    source = p.take("inputSource", "workflowInputs" if version >= 1.1 else "passthrough")
    fields = p.take("workflowInputs", {}) or {}
    example = p.take("jsonExample", "")
    if source == "jsonExample" or source == "workflowInputs" and isinstance(fields, dict) and fields.get("values"):
        p.unsupported(f"typed workflow inputs (inputSource {source!r}) are not supported; use 'Accept all data' "
                      "(passthrough)")
    elif source not in ("passthrough", "workflowInputs"):
        p.unsupported(f"inputSource {source!r} is not supported")
    elif example:
        p.ignore("jsonExample")
    return p.done({})


def to_n8n(params: dict[str, Any], version: float | None) -> tuple[dict[str, Any], float, N8nNotes]:
    """The inverse: n8n's Manual Trigger, no parameters."""
    return {}, 1, []


N8N = N8n(types=("n8n-nodes-base.manualTrigger", "n8n-nodes-base.start", "n8n-nodes-base.executeWorkflowTrigger"),
          versions=(1, 1.1), convert=from_n8n, export=to_n8n)


@node(n8n=N8N, type="manualTrigger", display_name="Manual Trigger", group="trigger", trigger=True, manual=True, icon="play",
      description="Start the workflow by hand (Run button, `flowbox run`); emits the run's input or one empty item")
async def manual_trigger(ctx: Context, items: list[Item]) -> list[list[Item]]:
    return [items or [Item({})]]
