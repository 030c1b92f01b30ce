"""readPDF through the real engine, on PDFs this test writes with pypdf (plain and AES-encrypted)."""

from __future__ import annotations

import base64
import io
from typing import Any

import pytest
from pypdf import PdfWriter
from pypdf.generic import DecodedStreamObject, DictionaryObject, NameObject


def pdf(*pages: str, password: str | None = None, title: str = "Report") -> bytes:
    """A PDF with one line of Helvetica text per page."""
    writer = PdfWriter()
    font = DictionaryObject({NameObject("/Type"): NameObject("/Font"), NameObject("/Subtype"): NameObject("/Type1"),
                             NameObject("/BaseFont"): NameObject("/Helvetica")})
    font_ref = writer._add_object(font)
    for text in pages:
        page = writer.add_blank_page(612, 792)
        page[NameObject("/Resources")] = DictionaryObject({NameObject("/Font"): DictionaryObject(
            {NameObject("/F1"): font_ref})})
        stream = DecodedStreamObject()
        stream.set_data(f"BT /F1 18 Tf 72 700 Td ({text}) Tj ET".encode())
        page[NameObject("/Contents")] = writer._add_object(stream)
    writer.add_metadata({"/Title": title, "/Author": "flowbox"})
    if password:
        writer.encrypt(password, algorithm="AES-256")
    buffer = io.BytesIO()
    writer.write(buffer)
    return buffer.getvalue()


def item(data: bytes, name: str = "report.pdf", prop: str = "data") -> dict[str, Any]:
    return {"json": {"keep": 1}, "binary": {prop: {"data": base64.b64encode(data).decode(), "fileName": name,
                                                    "mimeType": "application/pdf"}}}


def read(**params: Any) -> dict[str, Any]:
    return {"name": "Read PDF", "type": "readPDF", "parameters": params}


def test_text_and_info_like_n8n(run_node):
    result = run_node(read(), [item(pdf("Hello PDF", "Second page"))])
    assert result.status == "success", result.error
    [out] = result.runs["Read PDF"][-1].outputs[0]
    assert out.json["text"] == "Hello PDF\n\nSecond page"
    assert out.json["numpages"] == out.json["numrender"] == 2
    info = out.json["info"]
    assert info["Title"] == "Report" and info["Author"] == "flowbox" and info["PDFFormatVersion"].startswith("1.")
    assert {k: info[k] for k in ("Language", "EncryptFilterName", "IsLinearized", "IsAcroFormPresent", "IsXFAPresent",
                                 "IsCollectionPresent", "IsSignaturesPresent")} == {
        "Language": None, "EncryptFilterName": None, "IsLinearized": False, "IsAcroFormPresent": False,
        "IsXFAPresent": False, "IsCollectionPresent": False, "IsSignaturesPresent": False}
    assert set(out.json) == {"numpages", "numrender", "info", "text", "version"}
    assert out.binary["data"]["fileName"] == "report.pdf"  # the file is kept


def test_another_binary_property(run_node):
    result = run_node(read(binaryPropertyName="file"), [item(pdf("x"), prop="file")])
    assert result.status == "success" and result.runs["Read PDF"][-1].outputs[0][0].json["text"] == "x"


def test_an_encrypted_pdf_with_its_password(run_node):
    result = run_node(read(encrypted=True, password="s3cret"), [item(pdf("Top secret", password="s3cret"))])
    assert result.status == "success", result.error
    [out] = result.runs["Read PDF"][-1].outputs[0]
    assert out.json["text"] == "Top secret" and out.json["info"]["EncryptFilterName"] == "Standard"
    assert out.json["info"]["Title"] == "Report"  # the document information is decrypted too


@pytest.mark.parametrize(("params", "message"), [
    ({"encrypted": True, "password": "wrong"}, "item 0 (report.pdf): parameter 'password': wrong password"),
    ({}, "item 0 (report.pdf): the PDF is encrypted: turn on 'encrypted' and set 'password'"),
])
def test_a_wrong_or_missing_password(run_node, params, message):
    result = run_node(read(**params), [item(pdf("x", password="s3cret"))])
    assert result.status == "error" and result.error["node"] == "Read PDF"
    assert result.error["message"].startswith(message)


def test_a_file_that_is_not_a_pdf(run_node):
    result = run_node(read(), [item(pdf("ok")), item(b"PK\x03\x04 a zip file", name="notes.zip")])
    assert result.status == "error"
    assert result.error["message"].startswith("item 1 (notes.zip): the file is not a PDF")


def test_a_broken_pdf(run_node):
    result = run_node(read(), [item(b"%PDF-1.7\n garbage without objects")])
    assert result.status == "error" and "item 0 (report.pdf): the file is not a readable PDF" in result.error["message"]


def test_a_missing_binary_property(run_node):
    result = run_node(read(binaryPropertyName="file"), [item(pdf("x"))])
    assert result.status == "error"
    assert result.error["message"] == "item 0: the item has no binary property 'file' (binary properties: 'data')"


def test_continue_on_error_reads_the_good_files(run_node):
    node = {**read(), "onError": "continue"}
    result = run_node(node, [item(b"nope", name="a.txt"), item(pdf("fine"))])
    assert result.status == "success"
    first, second = (i.json for i in result.runs["Read PDF"][-1].outputs[0])
    assert first["error"].startswith("item 0 (a.txt): the file is not a PDF") and second["text"] == "fine"


def test_extract_from_file_pdf_pages_and_kept_source(run_node):
    """Extract from File's pdf operation (n8n's): the first maxPages pages, each page's text with joinPages off,
    the item's json beside it with keepSource json, the file dropped unless keepSource keeps binary."""
    two = item(pdf("Page one", "Page two", password="pw"))
    two["binary"]["other"] = {"data": base64.b64encode(b"x").decode(), "fileName": "x.txt", "mimeType": "text/plain"}
    node = {"name": "Extract", "type": "extractFromFile",
            "parameters": {"operation": "pdf", "password": "pw", "joinPages": False, "maxPages": 1,
                           "keepSource": "json"}}
    result = run_node(node, [two])
    assert result.status == "success", result.error
    [out] = result.runs["Extract"][-1].outputs[0]
    assert out.json["text"] == ["Page one"] and out.json["keep"] == 1
    assert (out.json["numpages"], out.json["numrender"]) == (2, 1)
    assert set(out.binary) == {"other"}
    both = run_node({**node, "parameters": {"operation": "pdf", "password": "pw", "keepSource": "both"}}, [two])
    [kept] = both.runs["Extract"][-1].outputs[0]
    assert kept.json["text"] == "Page one\n\nPage two" and set(kept.binary) == {"data", "other"}
    wrong = run_node({**node, "parameters": {"operation": "pdf"}}, [two])
    assert wrong.status == "error" and "the PDF is encrypted" in wrong.error["message"]
