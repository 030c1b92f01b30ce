"""Read PDF: the text of a PDF in a binary property (n8n's readPDF v1), with pypdf.

Each item's json becomes n8n's shape `{"numpages", "numrender", "info", "text", "version"}`: `text` is the
pages' text joined by blank lines, `info` pdf.js's document facts (`PDFFormatVersion`, `Language`,
`EncryptFilterName`, `IsLinearized`, `IsAcroFormPresent`, ...) then the document information (`Title`,
`Producer`, `ModDate`, ... without PDF's leading slash), `version` the extracting library (n8n: pdf.js's). The binary data
is kept. `encrypted` + `password` open a password-protected file; a missing or wrong password, a file
that is not a PDF or a missing binary property fails naming the item.
"""

from __future__ import annotations

from typing import Any

from flowbox.node import Context, Item, ItemErrors, N8n, N8nNotes, Param, binary_bytes, node
from flowbox.nodes._n8n import Params
from flowbox.nodes._pdf import read_pdf


def from_n8n(params: dict[str, Any], version: float) -> tuple[dict[str, Any], N8nNotes]:
    """n8n's Read PDF v1 (same names). The text is extracted by pypdf, not pdf.js: line breaks and spacing
    inside a page may differ."""
    p = Params(params, version)
    p.approximated("text extracted by pypdf, not pdf.js: spacing and line breaks inside a page may differ")
    return p.done(p.same(("binaryPropertyName", "encrypted", "password")))


N8N = N8n(types=("n8n-nodes-base.readPDF",), versions=(1,), convert=from_n8n)

@node(n8n=N8N, type="readPDF", display_name="Read PDF", group="files", icon="picture_as_pdf",
      description="Read the text of a PDF file in a binary property",
      params=[
          Param("binaryPropertyName", "string", "data", required=True,
                description="Name of the binary property holding the PDF file"),
          Param("encrypted", "boolean", False, required=True, description="The PDF is password-protected"),
          Param("password", "string", "", show_if={"encrypted": [True]}, description="Password to decrypt the PDF"),
      ])
async def read_pdf_node(ctx: Context, items: list[Item]) -> list[list[Item]]:
    out: list[Item] = []
    errors = ItemErrors(ctx)
    for i, item in enumerate(items):
        prop = ctx.param("binaryPropertyName", i) or "data"
        try:
            password = ctx.param("password", i) if ctx.param("encrypted", i) else None
            json = read_pdf(binary_bytes(item, prop), password)
        except ValueError as exc:
            entry = (item.binary or {}).get(prop)
            name = entry.get("fileName") if isinstance(entry, dict) else None
            errors.fail(item, i, ValueError(f"item {i}{f' ({name})' if name else ''}: {exc}"), out)
            continue
        out.append(item.derive(json))
    return errors.outputs(out)
