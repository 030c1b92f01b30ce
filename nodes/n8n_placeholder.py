"""n8n placeholder: an imported n8n node flowbox cannot run as it is (its type is missing here, or its
parameters ask for something the flowbox node does not do). It keeps the original n8n node JSON, so
nothing is lost; the workflow can be saved and fixed in the editor, and every run refuses it
(`flowbox run` exit 2, the API 422) naming the node and the n8n type."""

from collections.abc import Mapping
from typing import Any

from flowbox.node import Context, Item, Param, node

MAX_INPUTS = 10  # n8n's Merge takes up to 10 inputs; a placeholder keeps every connection it had


def _outputs(params: Mapping[str, Any]) -> int:
    try:
        return max(1, int(params.get("outputs") or 1))
    except (TypeError, ValueError):
        return 1


def refuse(params: Mapping[str, Any]) -> str:
    """Why this placeholder cannot run: the n8n type (and version) and what is not supported."""
    version = params.get("typeVersion")
    what = f"{params.get('n8nType') or 'an n8n node'}" + (f" v{version:g}" if isinstance(version, (int, float))
                                                          else "")
    reason = params.get("reason") or "not available in flowbox"
    return f"{what} is not available in flowbox ({reason}); replace or remove this node"


@node(type="n8nPlaceholder", display_name="n8n node (not available)", group="annotation", icon="circle-help",
      description="An imported n8n node flowbox cannot run as it is; it keeps the original JSON",
      inputs=MAX_INPUTS, outputs=_outputs, refuse_run=refuse,
      params=[
          Param("n8nType", "string", "", description="The n8n node type, e.g. n8n-nodes-base.airtable"),
          Param("typeVersion", "number", None, description="The n8n node's typeVersion"),
          Param("reason", "string", "", description="What flowbox does not support"),
          Param("outputs", "number", 1, min=1, max=64, integer=True, description="Outputs the n8n node had"),
          Param("node", "json", {}, description="The original n8n node JSON"),
      ])
async def n8n_placeholder(ctx: Context, items: list[Item]) -> list[list[Item]]:
    raise ctx.error(refuse({"n8nType": ctx.raw_param("n8nType"), "typeVersion": ctx.raw_param("typeVersion"),
                            "reason": ctx.raw_param("reason")}))
