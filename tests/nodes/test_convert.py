"""convertToFile, extractFromFile and xml through the real engine: round trips and malformed files."""

from __future__ import annotations

import base64
import io
from typing import Any

import pytest

from flowbox.node import make_binary

ITEMS = [{"name": "Ada", "city": "London", "note": 'says "hi", twice'},
         {"name": "Émile", "city": "Paris", "note": "line one\nline two"},
         {"name": "Zoë", "city": "", "note": "=1+1"}]


def convert(**params: Any) -> dict[str, Any]:
    return {"name": "Convert", "type": "convertToFile", "parameters": params}


def extract(**params: Any) -> dict[str, Any]:
    return {"name": "Extract", "type": "extractFromFile", "parameters": params}


def chain(*names: str) -> dict[str, Any]:
    return {a: {"main": [[{"node": b, "type": "main", "index": 0}]]} for a, b in zip(names, names[1:], strict=False)}


def round_trip(run_node, items: list[dict[str, Any]], to: dict[str, Any], back: dict[str, Any],
               split: str | None = None) -> list[dict[str, Any]]:
    """items -> convertToFile -> extractFromFile (-> splitOut `split`) -> the last node's items' json."""
    extra = [{**back, "position": [400, 0]}]
    names = ["Convert", "Extract"]
    if split:
        extra.append({"name": "Split", "type": "splitOut", "parameters": {"field": split}, "position": [600, 0]})
        names.append("Split")
    result = run_node(to, items, extra=extra, connections=chain(*names))
    assert result.status == "success", result.error
    return [i.json for i in result.runs[names[-1]][-1].outputs[0]]


def only_file(result: Any, node: str = "Convert", prop: str = "data") -> tuple[bytes, dict[str, Any]]:
    assert result.status == "success", result.error
    [item] = result.runs[node][-1].outputs[0]
    return base64.b64decode(item.binary[prop]["data"]), item.binary[prop]


def file_item(data: bytes, name: str, **json: Any) -> dict[str, Any]:
    return {"json": json, "binary": {"data": make_binary(data, name)}}


# ---------------------------------------------------------------- round trips


def test_csv_round_trip(run_node):
    """Every value comes back with includeEmptyCells; without it an empty cell leaves its key out (n8n's)."""
    assert round_trip(run_node, ITEMS, convert(operation="csv"), extract(operation="csv", includeEmptyCells=True)) \
        == ITEMS
    dropped = round_trip(run_node, ITEMS, convert(operation="csv"), extract(operation="csv"))
    assert dropped == [{k: v for k, v in item.items() if v != ""} for item in ITEMS] != ITEMS


def test_csv_round_trip_with_options(run_node):
    to = convert(operation="csv", delimiter=";", encoding="latin-1")
    back = extract(operation="csv", delimiter=";", encoding="latin-1")
    items = [{"a": "é;x", "b": "1"}, {"a": "ü", "b": "2"}]
    assert round_trip(run_node, items, to, back) == items


def test_xlsx_round_trip_keeps_types_and_formula_like_text(run_node):
    items = [{"name": "Ada", "n": 1, "price": 2.5, "ok": True, "formula": "=1+1"},
             {"name": "Bob", "n": -7, "price": 0.1, "ok": False, "formula": "=A1"}]
    to = convert(operation="xlsx", sheetName="People")
    assert round_trip(run_node, items, to, extract(operation="xlsx", sheetName="People")) == items


def test_json_round_trip(run_node):
    items = [{"a": 1, "nested": {"b": [1, 2, {"c": None}]}, "t": True}, {"a": 2, "text": "ü"}]
    assert round_trip(run_node, items, convert(operation="toJson"), extract(operation="fromJson"), "data") == items


def test_xml_round_trip(run_node):
    items = [{"name": "Ada", "address": {"city": "London", "zip": "N1"}}, {"name": "Bob & <Co>", "tags": ["a", "b"]}]
    back = round_trip(run_node, items, convert(operation="xml"), extract(operation="xml"), "data.items.item")
    assert back == items


def test_each_mode_makes_one_file_per_item(run_node):
    result = run_node(convert(operation="toJson", mode="each", fileName="{{ $json.name }}.json"), ITEMS[:2])
    assert result.status == "success", result.error
    files = result.runs["Convert"][-1].outputs[0]
    assert [f.binary["data"]["fileName"] for f in files] == ["Ada.json", "Émile.json"]
    assert [f.json for f in files] == ITEMS[:2]
    assert base64.b64decode(files[0].binary["data"]["data"]).decode() == (
        '{"name":"Ada","city":"London","note":"says \\"hi\\", twice"}')  # compact, as JSON.stringify writes


# ---------------------------------------------------------------- single formats


def test_csv_file_shape(run_node):
    data, meta = only_file(run_node(convert(operation="csv", fileName="people.csv"),
                                    [{"a": 1, "b": True}, {"b": None, "c": {"x": 1}}]))
    assert data == b'a,b,c\r\n1,true,\r\n,,"{""x"":1}"\r\n'
    assert meta["fileName"] == "people.csv" and meta["mimeType"] == "text/csv"


def test_html_table_escapes(run_node):
    data, meta = only_file(run_node(convert(operation="html"), [{"x": "<b>&</b>"}]))
    assert "<th>x</th>" in data.decode() and "<td>&lt;b&gt;&amp;&lt;/b&gt;</td>" in data.decode()
    assert meta["fileName"] == "file.html"


def test_xlsx_is_a_real_workbook_with_text_not_formulas(run_node):
    from openpyxl import load_workbook

    data, _ = only_file(run_node(convert(operation="xlsx", headerRow=False), [{"f": "=SUM(1,2)", "n": 3}]))
    sheet = load_workbook(io.BytesIO(data)).active
    assert sheet["A1"].data_type == "s" and sheet["A1"].value == "=SUM(1,2)" and sheet["B1"].value == 3


def test_text_and_base64_files(run_node):
    data, meta = only_file(run_node(convert(operation="toText", sourceProperty="body", fileName="a.txt"),
                                    [{"body": "héllo"}]))
    assert data == "héllo".encode() and meta["mimeType"] == "text/plain"
    raw = bytes(range(200))
    data, meta = only_file(run_node(convert(operation="toBinary", sourceProperty="b64", fileName="x.png"),
                                    [{"b64": base64.b64encode(raw).decode()}]))
    assert data == raw and meta["mimeType"] == "image/png"


def test_extract_csv_options(run_node):
    text = "title line\nx;y\n1;2\n3;4\n5;6\n"
    result = run_node(extract(operation="csv", delimiter=";", fromLine=2, maxRowCount=2),
                      [file_item(text.encode(), "a.csv")])
    assert [i.json for i in result.runs["Extract"][-1].outputs[0]] == [{"x": "1", "y": "2"}, {"x": "3", "y": "4"}]
    result = run_node(extract(operation="csv", headerRow=False), [file_item(b"\xef\xbb\xbfa,b\n", "a.csv")])
    assert [i.json for i in result.runs["Extract"][-1].outputs[0]] == [{"field1": "a", "field2": "b"}]


def test_extract_xlsx_sheet_and_range(run_node):
    from openpyxl import Workbook

    book = Workbook()
    book.active.title = "Cover"
    sheet = book.create_sheet("Data")
    sheet.append(["Report"])
    sheet.append([])
    sheet.append([None, "id", "when"])
    sheet.append([None, 1, __import__("datetime").date(2024, 5, 1)])
    sheet.append([None, 2, None])
    buffer = io.BytesIO()
    book.save(buffer)
    item = file_item(buffer.getvalue(), "r.xlsx")
    result = run_node(extract(operation="xlsx", sheetName="Data", range="B3:C5"), [item])
    assert [i.json for i in result.runs["Extract"][-1].outputs[0]] == [
        {"id": 1, "when": "2024-05-01T00:00:00"}, {"id": 2}]
    result = run_node(extract(operation="xlsx", sheetName="Data", range="B3:C5", includeEmptyCells=True), [item])
    assert result.runs["Extract"][-1].outputs[0][1].json == {"id": 2, "when": None}


def test_extract_text_and_binary_to_property(run_node):
    item = file_item("grüße".encode("utf-16"), "a.txt")
    result = run_node(extract(operation="text", encoding="utf-16", destinationKey="body.text"), [item])
    assert result.runs["Extract"][-1].outputs[0][0].json == {"body": {"text": "grüße"}}
    result = run_node(extract(operation="binaryToProperty"), [file_item(b"\x00\xff", "b")])
    assert result.runs["Extract"][-1].outputs[0][0].json == {"data": "AP8="}


# ---------------------------------------------------------------- malformed input


@pytest.mark.parametrize(("operation", "content", "message"), [
    ("fromJson", b'{"a": 1,}', "item 1 (bad.dat): the file is not valid JSON"),
    ("xml", b"<a><b></a>", "item 1 (bad.dat): the file is not well-formed: mismatched tag"),
    ("xlsx", b"PK not really", "item 1 (bad.dat): the file is not an XLSX workbook"),
    ("csv", b'a,b\n"x"y,1\n', "item 1 (bad.dat): the file is not valid CSV"),
    ("text", b"\xff\xfe\xfa", "item 1 (bad.dat): the file is not valid utf-8"),
    ("xls", b"\xd0\xcf\x11\xe0 not really", "item 1 (bad.dat): the file is not an XLS (Excel 97-2003) workbook"),
    ("ods", b"PK not really", "item 1 (bad.dat): the file is not an ODS spreadsheet"),
    ("rtf", b"hello", "item 1 (bad.dat): the file is not RTF"),
    ("rtf", b"{\\rtf1 just text\\par}", "item 1 (bad.dat): the RTF file holds no table"),
    ("html", b"<p>no table</p>", "item 1 (bad.dat): the file holds no HTML <table>"),
    ("fromIcs", b"BEGIN:VCALENDAR\nBEGIN:VEVENT", "item 1 (bad.dat): the file is not an iCalendar (.ics) file"),
])
def test_malformed_files_name_the_item(run_node, operation, content, message):
    from flowbox.nodes._sheets import write_table

    good = {"fromJson": b"{}", "xml": b"<a/>", "csv": b"a\n1\n", "text": b"ok", "html": b"<table></table>",
            "fromIcs": b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nEND:VCALENDAR\r\n"}.get(operation)
    if operation in ("xls", "ods", "rtf"):
        good = write_table(operation, [["a"], [1]])
    if good is None:
        from openpyxl import Workbook

        buffer = io.BytesIO()
        Workbook().save(buffer)
        good = buffer.getvalue()
    result = run_node(extract(operation=operation), [file_item(good, "good.dat"), file_item(content, "bad.dat")])
    assert result.status == "error"
    assert result.error["message"].startswith(message), result.error["message"]


def test_extract_missing_sheet_and_binary(run_node):
    from openpyxl import Workbook

    buffer = io.BytesIO()
    Workbook().save(buffer)
    result = run_node(extract(operation="xlsx", sheetName="Nope"), [file_item(buffer.getvalue(), "w.xlsx")])
    assert result.status == "error" and "no sheet 'Nope' (sheets: Sheet)" in result.error["message"]
    result = run_node(extract(operation="csv"), [{"a": 1}])
    assert result.status == "error" and "item 0: the item has no binary property 'data'" in result.error["message"]
    from flowbox.nodes._sheets import write_table

    for fmt in ("xls", "ods"):
        result = run_node(extract(operation=fmt, sheetName="Nope"), [file_item(write_table(fmt, [["a"]], "S1"), "w")])
        assert result.status == "error" and "no sheet 'Nope' (sheets: S1)" in result.error["message"], fmt


def test_ods_and_xls_sheet_range_and_limits(run_node):
    """The workbook formats take sheetName and range like xlsx; XLS refuses more than 256 columns by name."""
    from flowbox.nodes._sheets import write_table

    table = [["x", "a", "b"], [None, 1, 2], [None, 3, 4], [None, 5, 6]]
    for fmt in ("xls", "ods"):
        item = file_item(write_table(fmt, table, "Data"), f"w.{fmt}")
        result = run_node(extract(operation=fmt, sheetName="Data", range="B1:C3"), [item])
        assert [i.json for i in result.runs["Extract"][-1].outputs[0]] == [{"a": 1, "b": 2}, {"a": 3, "b": 4}], fmt
    wide = run_node(convert(operation="xls"), [{f"c{n}": n for n in range(300)}])
    assert wide.status == "error" and "XLS holds at most 65,536 rows of 256 columns" in wide.error["message"]


def test_convert_errors_name_the_item(run_node):
    result = run_node(convert(operation="xml"), [{"ok": 1}, {"1bad name": 2}])
    assert result.status == "error" and result.error["message"].startswith("item 1: "), result.error
    result = run_node(convert(operation="xlsx"), [{"a": "fine"}, {"a": "bell\x07"}])
    assert result.status == "error" and "item 1 holds a control character" in result.error["message"]
    result = run_node(convert(operation="toBinary", sourceProperty="b64"), [{"b64": "AAAA"}, {"b64": "***"}])
    assert result.status == "error" and "item 1: field 'b64' is not valid base64" in result.error["message"]
    result = run_node(convert(operation="csv", encoding="ascii"), [{"a": "ü"}])
    assert result.status == "error" and "'ü' cannot be written in ascii" in result.error["message"]


# ---------------------------------------------------------------- the xml node


def xml(**params: Any) -> dict[str, Any]:
    return {"name": "XML", "type": "xml", "parameters": params}


def test_xml_node_round_trip(run_node):
    doc = {"order": {"@id": "7", "line": [{"sku": "a", "qty": "1"}, {"sku": "b", "qty": "2"}], "note": None}}
    back = {**xml(mode="xmlToJson"), "position": [400, 0]}
    result = run_node(xml(mode="jsonToxml", headless=True), [doc], extra=[{**back, "name": "Back"}],
                      connections=chain("XML", "Back"))
    assert result.status == "success", result.error
    text = result.runs["XML"][-1].outputs[0][0].json["data"]
    assert text.startswith('<order id="7"><line><sku>a</sku>')
    assert result.runs["Back"][-1].outputs[0][0].json == doc


def test_xml_node_wraps_several_keys_in_root_name(run_node):
    result = run_node(xml(mode="jsonToxml", rootName="r", pretty=True), [{"a": 1, "b": "x"}])
    text = result.runs["XML"][-1].outputs[0][0].json["data"]
    assert text == '<?xml version="1.0" encoding="utf-8"?>\n<r>\n  <a>1</a>\n  <b>x</b>\n</r>'


def test_xml_node_malformed_names_the_item(run_node):
    result = run_node(xml(mode="xmlToJson", dataPropertyName="body"), [{"body": "<a/>"}, {"body": "<a>"}])
    assert result.status == "error"
    assert result.error["message"].startswith("item 1: the XML is not well-formed: no element found")
    result = run_node(xml(mode="xmlToJson"), [{"other": 1}])
    assert result.error["message"] == "item 0: field 'data' must hold XML text, got nothing"
