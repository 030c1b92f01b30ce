"""A PDF's text and facts as n8n's extractDataFromPDF gives them, read with pypdf (Read PDF, Extract from File)."""

from __future__ import annotations

import io
from typing import Any


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
