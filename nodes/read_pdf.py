"""Read PDF: the text of a PDF in a binary property (n8n's readPDF v1), with pypdf.

Each item's json becomes n8n's shape `{"numpages", "numrender", "info", "text", "version"}`: `text` is the
pages' text joined by blank lines, `info` pdf.js's document facts (`PDFFormatVersion`, `Language`,
`EncryptFilterName`, `IsLinearized`, `IsAcroFormPresent`, ...) then the document information (`Title`,
`Producer`, `ModDate`, ... without PDF's leading slash), `version` the extracting library (n8n: pdf.js's). The binary data
is kept. `encrypted` + `password` open a password-protected file; a missing or wrong password, a file
that is not a PDF or a missing binary property fails naming the item.
"""

from __future__ import annotations

import io
from typing import Any

from flowbox.node import Context, Item, ItemErrors, N8n, N8nNotes, Param, binary_bytes, node
from flowbox.nodes._n8n import Params


def _plain(value: Any) -> Any:
    """A PDF info value as JSON (text, number or a list of them)."""
    if isinstance(value, (bool, int, float)):
        return value
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return str(value)


def read_pdf(data: bytes, password: str | None, max_pages: int = 0, join: bool = True) -> dict[str, Any]:
    """n8n's extractDataFromPDF result for one file (the first `max_pages` pages when > 0; `text` a list of the
    pages' texts unless `join`); ValueError saying what is wrong."""
    import pypdf
    from pypdf.errors import DependencyError, FileNotDecryptedError, PdfReadError

    if not data.lstrip()[:5].startswith(b"%PDF"):
        raise ValueError(f"the file is not a PDF (it starts with {data[:8]!r})")
    try:
        reader = pypdf.PdfReader(io.BytesIO(data))
        if reader.is_encrypted:
            if not password:
                raise ValueError("the PDF is encrypted: turn on 'encrypted' and set 'password'")
            if not reader.decrypt(password):
                raise ValueError("parameter 'password': wrong password for this PDF")
        total = len(reader.pages)
        pages = [page.extract_text() or "" for page in reader.pages[:max_pages or total]]
        info = {**_document_flags(reader, data),
                **{str(k).lstrip("/"): _plain(v) for k, v in (reader.metadata or {}).items()}}
    except FileNotDecryptedError:
        raise ValueError("parameter 'password': wrong password for this PDF") from None
    except (PdfReadError, ValueError, KeyError, TypeError) as exc:
        if isinstance(exc, ValueError) and str(exc).startswith(("the PDF", "parameter")):
            raise
        raise ValueError(f"the file is not a readable PDF: {exc}") from None
    except DependencyError as exc:
        raise ValueError(f"cannot decrypt this PDF: {exc}") from None
    # n8n also has "metadata" when the file carries XMP metadata; flowbox leaves it out (as n8n does without)
    return {"numpages": total, "numrender": len(pages), "info": info, "text": "\n\n".join(pages) if join else pages,
            "version": f"pypdf {pypdf.__version__}"}


def _document_flags(reader: Any, data: bytes) -> dict[str, Any]:
    """pdf.js's document facts that n8n puts first in `info`: version, language, encryption, forms."""
    root = reader.trailer["/Root"]
    form = root.get("/AcroForm")
    form = form.get_object() if form is not None else {}
    encrypt = reader.trailer.get("/Encrypt")
    encrypt = encrypt.get_object() if encrypt is not None else None
    return {
        "PDFFormatVersion": reader.pdf_header.lstrip("%").removeprefix("PDF-"),
        "Language": str(root["/Lang"]) if "/Lang" in root else None,
        "EncryptFilterName": str(encrypt["/Filter"]).lstrip("/") if encrypt and "/Filter" in encrypt else None,
        "IsLinearized": b"/Linearized" in data[:2048],
        "IsAcroFormPresent": bool(form),
        "IsXFAPresent": "/XFA" in form,
        "IsCollectionPresent": "/Collection" in root,
        "IsSignaturesPresent": bool(int(form.get("/SigFlags", 0)) & 1),
    }


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
