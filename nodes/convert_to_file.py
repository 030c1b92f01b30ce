"""Convert to File: items into a CSV, XLSX, XLS, ODS, RTF-table, HTML-table, JSON, XML or text file (binary data).

`mode` "once" puts all items in one file (one output item); "each" makes one file per
item. Table formats take their columns from the keys of all items, in first-seen order;
nested values become compact JSON text. Writers are the stdlib `csv`/`json`, `_sheets`
(openpyxl, xlwt, odfpy, RTF) and xmltodict; spreadsheet cells that look like formulas are written as text.
n8n's iCal operation is the iCalendar node (`route`).
"""

from __future__ import annotations

import base64
import binascii
import codecs
import csv
import html
import io
import json
from collections.abc import Callable
from typing import Any

from flowbox.node import Context, Item, ItemErrors, N8n, N8nNotes, Param, get_path, make_binary, node
from flowbox.nodes._n8n import Params, byte_encoding, codec
from flowbox.nodes._sheets import write_table
from flowbox.nodes._xml import to_xml

OPERATIONS = ["csv", "html", "toJson", "xlsx", "xls", "ods", "rtf", "xml", "toText", "toBinary"]
SHEETS = ["xlsx", "xls", "ods"]
TABLES = ["csv", "html", *SHEETS, "rtf"]
EXTENSIONS = {"csv": "csv", "html": "html", "toJson": "json", "xlsx": "xlsx", "xls": "xls", "ods": "ods", "rtf": "rtf",
              "xml": "xml", "toText": "txt", "toBinary": "bin"}


class ConvertFailed(ValueError):
    """The items cannot be written in the chosen format; the message says why."""


_N8N_OPTIONS = {"csv": ("fileName", "headerRow", "delimiter", "compression"), "html": ("fileName", "headerRow"),
                **{fmt: ("fileName", "headerRow", "sheetName", "compression") for fmt in SHEETS},
                "rtf": ("fileName", "headerRow"),
                "toJson": ("fileName", "format", "encoding", "addBOM"), "toText": ("fileName", "encoding", "addBOM"),
                "toBinary": ("fileName", "encoding", "addBOM", "dataIsBase64", "mimeType")}


def from_n8n(params: dict[str, Any], version: float) -> tuple[dict[str, Any], N8nNotes]:
    """n8n's Convert to File v1/v1.1: csv (default), html, xlsx, xls, ods, rtf, toJson (`mode` once | each), toText
    and toBinary (`sourceProperty`) into `binaryPropertyName`, with their options (fileName, headerRow, delimiter,
    sheetName, format, encoding, mimeType); iCal goes to the iCalendar node (`route`). Compression, a BOM and
    text that is not base64 for toBinary are not supported."""
    p = Params(params, version)
    operation = p.take("operation", "csv")
    if operation not in _N8N_OPTIONS:
        p.unsupported(f"operation {operation!r} is not supported")
        p.ignore(*p.raw)
        return p.done({})
    out: dict[str, Any] = {"operation": operation, "binaryPropertyName": p.take("binaryPropertyName", "data"),
                           "keepInput": p.take("keepInput", "none")}  # n8n's output item holds the file alone
    if operation == "toJson":
        out["mode"] = p.take("mode", "once")
    if operation in ("toText", "toBinary"):
        out["sourceProperty"] = p.take("sourceProperty", "")
    options = p.options("options", _N8N_OPTIONS[operation])
    for name in ("compression", "addBOM"):
        if options.get(name):
            p.unsupported(f"option 'options.{name}' is not supported")
    if options.get("dataIsBase64") is False:
        p.unsupported("toBinary of text that is not base64 (options.dataIsBase64 off) is not supported")
    for name in ("fileName", "headerRow", "delimiter", "sheetName", "format", "mimeType"):
        if name in options:
            out[name] = options[name]
    if options.get("encoding"):
        out["encoding"] = codec(options["encoding"])
    if byte_encoding(out, p, "toText", "toBinary"):
        return p.done(out)
    if operation in ("csv", "toText"):
        out["invalidText"] = "replace"  # iconv-lite writes what it cannot as '?'
    if operation == "html":
        p.approximated("the HTML table is flowbox's (<table> with <thead>), not SheetJS's page")
    return p.done(out)


def route(params: dict[str, Any], version: float) -> tuple[str, float, dict[str, Any]] | None:
    """n8n's iCal operation ("Convert to ICS") is the iCalendar node's createEventFile, same parameters."""
    if params.get("operation") != "iCal":
        return None
    rest = {k: v for k, v in params.items() if k not in ("operation", "options")}
    options = dict(params.get("options") or {})
    fields = {**dict(rest.pop("additionalFields", None) or {}), **options}
    return "n8n-nodes-base.iCal", 1, {"operation": "createEventFile", **rest, "additionalFields": fields}


N8N = N8n(types=("n8n-nodes-base.convertToFile",), versions=(1, 1.1), convert=from_n8n, route=route)


@node(
    n8n=N8N, type="convertToFile", display_name="Convert to File", group="files", icon="file-output",
    description="Turn items into a CSV, XLSX, XLS, ODS, RTF-table, HTML-table, JSON, XML or text file",
    params=[
        Param("operation", "options", default="csv", required=True, options=OPERATIONS,
              description="The file format; toText writes a text field, toBinary decodes a base64 field"),
        Param("mode", "options", default="once", options=["once", "each"],
              show_if={"operation": [*TABLES, "toJson", "xml"]},
              description="once: all items into one file; each: one file per item"),
        Param("sourceProperty", "string", default="data", required=True,
              show_if={"operation": ["toText", "toBinary"]},
              description="Field holding the text (toText) or the base64 data (toBinary)"),
        Param("binaryPropertyName", "string", default="data", required=True,
              description="Binary property to put the file in"),
        Param("keepInput", "options", default="all", options=["all", "allButSource", "binary", "none"],
              show_if={"operation": ["toText", "toBinary", "csv", "html", "toJson", "xlsx", "xls", "ods", "rtf",
                                     "xml"]},
              description="One file per item: what of the input item stays beside the file — all (its json and "
                          "binary properties), allButSource (the same without the sourceProperty field: n8n's "
                          "Move Binary Data), binary (its binary properties), none (n8n's Convert to File)"),
        Param("fileName", "string", default="", description="File name (default: file.<extension>)"),
        Param("headerRow", "boolean", default=True, show_if={"operation": TABLES},
              description="Write the column names as the first row"),
        Param("delimiter", "string", default=",", show_if={"operation": ["csv"]}),
        Param("sheetName", "string", default="Sheet", show_if={"operation": SHEETS}),
        Param("format", "boolean", default=False, show_if={"operation": ["toJson", "xml"]},
              description="Pretty-print (indent) the file"),
        Param("rootName", "string", default="items", show_if={"operation": ["xml"]},
              description="Root element of the file in mode once"),
        Param("itemName", "string", default="item", show_if={"operation": ["xml"]},
              description="Element that holds each item"),
        Param("encoding", "string", default="utf-8", show_if={"operation": ["csv", "toText"]},
              description="Text encoding of the file (a Python codec name: utf-8, latin-1, utf-16, ...)"),
        Param("invalidText", "options", default="fail", options=["fail", "replace"],
              show_if={"operation": ["csv", "toText"]},
              description="Characters the encoding cannot write: fail the item, or write '?' for each (n8n's way, "
                          "set on import)"),
        Param("mimeType", "string", default="", show_if={"operation": ["toBinary"]},
              description="MIME type of the file (default: guessed from the file name)"),
    ],
)
async def convert_to_file(ctx: Context, items: list[Item]) -> list[list[Item]]:
    """One output item holding the file (mode once), or one per input item."""
    operation = ctx.param("operation")
    if operation not in OPERATIONS:
        raise ctx.error(f"parameter 'operation': unknown format {operation!r} (one of {', '.join(OPERATIONS)})")
    if not items:
        return [[]]
    if operation in ("toText", "toBinary") or ctx.param("mode") == "each":
        errors = ItemErrors(ctx)
        out: list[Item] = []
        for i, item in enumerate(items):
            try:
                keep = ctx.param("keepInput", i)
                json_ = {k: v for k, v in item.json.items() if k != ctx.param("sourceProperty", i)} \
                    if keep == "allButSource" else item.json if keep == "all" else {}
                out.append(item.derive(json_,
                                       {**((item.binary or {}) if keep != "none" else {}),
                                        **_file(ctx, operation, [item], i)}))
            except ValueError as exc:
                errors.fail(item, i, ConvertFailed(f"item {i}: {exc}"), out)
        return errors.outputs(out)
    try:
        return [[Item({}, _file(ctx, operation, items, 0), items[0])]]
    except ConvertFailed as exc:
        raise ctx.error(str(exc)) from None


def _file(ctx: Context, operation: str, items: list[Item], i: int) -> dict[str, Any]:
    """{binaryPropertyName: the file} for `items` (parameters read for item i)."""
    prop = ctx.param("binaryPropertyName", i)
    name = ctx.param("fileName", i) or f"file.{EXTENSIONS[operation]}"
    mime = None
    if operation == "toBinary":
        data = _from_base64(ctx, items[0], i)
        mime = ctx.param("mimeType", i) or None
    elif operation == "toText":
        data = _encode(ctx, _text_of(ctx, items[0], i), i)
    else:
        data = WRITERS[operation](ctx, [item.json for item in items], i)
    return {prop: make_binary(data, name, mime)}


def _text_of(ctx: Context, item: Item, i: int) -> str:
    field = ctx.param("sourceProperty", i)
    value = get_path(item.json, field)
    if value is None:
        raise ConvertFailed(f"the item has no field {field!r} (sourceProperty)")
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def _from_base64(ctx: Context, item: Item, i: int) -> bytes:
    text = _text_of(ctx, item, i)
    try:
        return base64.b64decode(text.split(",", 1)[1] if text.startswith("data:") else text, validate=True)
    except (binascii.Error, ValueError):
        raise ConvertFailed(f"field {ctx.param('sourceProperty', i)!r} is not valid base64") from None


def _encode(ctx: Context, text: str, i: int) -> bytes:
    encoding = ctx.param("encoding", i)
    try:
        codecs.lookup(encoding)
    except LookupError:
        raise ConvertFailed(f"parameter 'encoding': unknown encoding {encoding!r}") from None
    try:
        return text.encode(encoding, "replace" if ctx.param("invalidText", i) == "replace" else "strict")
    except UnicodeEncodeError as exc:
        raise ConvertFailed(f"{text[exc.start:exc.end]!r} cannot be written in {encoding}") from None


# ---------------------------------------------------------------- writers: rows of json -> bytes


def columns(rows: list[dict[str, Any]]) -> list[str]:
    """Every key of every row, in the order first seen."""
    return list(dict.fromkeys(key for row in rows for key in row))


def cell_text(value: Any) -> str:
    """A value as table text: None empty, booleans true/false, lists and objects as compact JSON."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return str(value)


def _to_csv(ctx: Context, rows: list[dict[str, Any]], i: int) -> bytes:
    delimiter = ctx.param("delimiter", i).replace("\\t", "\t")
    if len(delimiter) != 1:
        raise ConvertFailed(f"parameter 'delimiter' must be one character, got {delimiter!r}")
    cols = columns(rows)
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=delimiter, lineterminator="\r\n")
    if ctx.param("headerRow", i) is not False:
        writer.writerow(cols)
    writer.writerows([cell_text(row.get(c)) for c in cols] for row in rows)
    return _encode(ctx, buffer.getvalue(), i)


def _to_html(ctx: Context, rows: list[dict[str, Any]], i: int) -> bytes:
    cols = columns(rows)
    lines = ["<table>"]
    if ctx.param("headerRow", i) is not False:
        lines.append("  <thead><tr>" + "".join(f"<th>{html.escape(c)}</th>" for c in cols) + "</tr></thead>")
    lines.append("  <tbody>")
    lines += ["    <tr>" + "".join(f"<td>{html.escape(cell_text(row.get(c)))}</td>" for c in cols) + "</tr>"
              for row in rows]
    lines += ["  </tbody>", "</table>", ""]
    return "\n".join(lines).encode()


def _to_json(ctx: Context, rows: list[dict[str, Any]], i: int) -> bytes:
    value: Any = rows if len(rows) > 1 or ctx.param("mode") != "each" else rows[0]
    if ctx.param("format", i):
        return json.dumps(value, ensure_ascii=False, indent=2, default=str).encode()
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str).encode()


def _to_xml(ctx: Context, rows: list[dict[str, Any]], i: int) -> bytes:
    item_name = ctx.param("itemName", i)
    doc = {item_name: rows[0]} if ctx.param("mode") == "each" else {
        ctx.param("rootName", i): {item_name: rows}}
    try:
        return to_xml(doc, pretty=ctx.param("format", i)).encode()
    except ValueError as exc:
        for n, values in enumerate(rows):  # name the item that cannot be written
            try:
                to_xml({item_name: values})
            except ValueError as bad:
                raise ConvertFailed(f"{_which(ctx, n)}: {bad}") from None
        raise ConvertFailed(str(exc)) from None


def _which(ctx: Context, n: int) -> str:
    """How a message names row n: "item 3" when the file holds several items."""
    return "the item" if ctx.param("mode") == "each" else f"item {n}"


def _sheet_writer(fmt: str) -> Callable[[Context, list[dict[str, Any]], int], bytes]:
    """The writer of spreadsheet format `fmt`: a header row of the columns (unless headerRow is off), then a row
    per item; nested values as compact JSON text."""

    def write(ctx: Context, rows: list[dict[str, Any]], i: int) -> bytes:
        from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

        cols = columns(rows)
        table = [[cell_text(v) if isinstance(v, (dict, list)) else v for v in (row.get(c) for c in cols)]
                 for row in rows]
        if fmt in ("xlsx", "ods"):  # XML inside: no control characters
            for where, values in [("a column name", cols), *((_which(ctx, n), r) for n, r in enumerate(table))]:
                if any(isinstance(v, str) and ILLEGAL_CHARACTERS_RE.search(v) for v in values):
                    raise ConvertFailed(f"{where} holds a control character that {fmt.upper()} cannot store")
        header = ctx.param("headerRow", i) is not False
        try:
            return write_table(fmt, [cols, *table] if header else table, ctx.param("sheetName", i))
        except ValueError as exc:
            raise ConvertFailed(str(exc)) from None

    return write


WRITERS: dict[str, Callable[[Context, list[dict[str, Any]], int], bytes]] = {
    "csv": _to_csv, "html": _to_html, "toJson": _to_json, "xml": _to_xml,
    **{fmt: _sheet_writer(fmt) for fmt in (*SHEETS, "rtf")}}
