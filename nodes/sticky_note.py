"""Sticky note: a note on the canvas. It has no inputs or outputs and never runs."""

from typing import Any

from flowbox.node import Context, Item, N8n, N8nNotes, Param, node
from flowbox.nodes._n8n import Params


def from_n8n(params: dict[str, Any], version: float) -> tuple[dict[str, Any], N8nNotes]:
    """n8n's sticky note: `content`, `width`, `height`, `color` (n8n's colour number, kept as text)."""
    p = Params(params, version)
    out: dict[str, Any] = {"content": str(p.take("content", "") or "")}
    for key in ("width", "height"):
        if key in params:
            out[key] = max(40, p.take(key))
    if "color" in params:
        out["color"] = str(p.take("color"))
    return p.done(out)


N8N = N8n(types=("n8n-nodes-base.stickyNote",), versions=(1,), convert=from_n8n)


@node(n8n=N8N, type="stickyNote", display_name="Sticky Note", group="annotation", icon="sticky-note", inputs=0, outputs=0,
      description="A note on the canvas (Markdown text); it does not run",
      params=[
          Param("content", "string", "", description="The note's text"),
          Param("width", "number", 240, min=40),
          Param("height", "number", 160, min=40),
          Param("color", "string", "", description="Background colour"),
      ])
async def sticky_note(ctx: Context, items: list[Item]) -> list[list[Item]]:
    return []
