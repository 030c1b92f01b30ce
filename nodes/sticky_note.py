"""Sticky note: a note on the canvas. It has no inputs or outputs and never runs."""

from flowbox.node import Context, Item, Param, node


@node(type="stickyNote", display_name="Sticky Note", group="annotation", icon="sticky-note", inputs=0, outputs=0,
      description="A note on the canvas (Markdown text); it does not run",
      params=[
          Param("content", "string", "", description="The note's text"),
          Param("width", "number", 240, min=40),
          Param("height", "number", 160, min=40),
          Param("color", "string", "", description="Background colour"),
      ])
async def sticky_note(ctx: Context, items: list[Item]) -> list[list[Item]]:
    return []
