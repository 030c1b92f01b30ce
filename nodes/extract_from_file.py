"""Extract from File: a binary CSV, spreadsheet (XLSX, XLS, ODS, an HTML or RTF table), JSON, XML, calendar or
text file into items ("spreadsheet": whichever of those the file's bytes say it is).

csv and the spreadsheet formats give one item per row (keys from the header row, or `field1`, `field2`, ...
without one); fromJson, xml, fromIcs, text and binaryToProperty give one item per file with the content
under `destinationKey` (fromIcs: the calendar as n8n's ts-ics object, `{version, prodId, events: [...]}`).
Readers are the stdlib `csv`/`json`, `_sheets` (openpyxl, xlrd, odfpy, BeautifulSoup), xmltodict and
icalendar. Every error names the item whose file could not be read.
"""

from __future__ import annotations

import base64
import codecs
import copy
import csv
import io
import json
from collections.abc import Iterable
from typing import Any

from flowbox.node import Context, Item, ItemErrors, N8n, N8nNotes, Param, binary_bytes, node, set_path
from flowbox.nodes._calendar import calendar_object
from flowbox.nodes._n8n import Params, byte_encoding, codec
from flowbox.nodes._pdf import read_pdf
from flowbox.nodes._sheets import SHEET_FORMATS, cell_range, guess, read_rows
from flowbox.nodes._xml import from_xml

OPERATIONS = ["csv", "xlsx", "xls", "ods", "html", "rtf", "fromJson", "xml", "fromIcs", "pdf", "text",
              "binaryToProperty", "spreadsheet"]
WHOLE_FILE = ["fromJson", "xml", "fromIcs", "text", "binaryToProperty"]
ROWS = ["csv", *SHEET_FORMATS, "spreadsheet"]
WORKBOOKS = ["xlsx", "xls", "ods", "spreadsheet"]
_N8N_ROWS = ("headerRow", "delimiter", "encoding", "fromLine", "maxRowCount", "sheetName", "range",
             "includeEmptyCells", "readAsString", "rawData", "relaxQuotes", "enableBOM")


def from_n8n(params: dict[str, Any], version: float) -> tuple[dict[str, Any], N8nNotes]:
    """n8n's Extract from File v1/v1.1: csv (default), xlsx, xls, ods, html and rtf rows (options headerRow,
    delimiter, encoding, fromLine, maxRowCount, sheetName, range, includeEmptyCells), fromJson, xml, fromIcs, text
    and binaryToPropery into `destinationKey` (options encoding, stripBOM, keepSource), pdf (options password,
    joinPages, maxPages, keepSource). The SheetJS read options (readAsString, rawData) are not supported."""
    p = Params(params, version)
    operation = p.take("operation", "csv")
    operation = {"binaryToPropery": "binaryToProperty"}.get(operation, operation)
    if operation not in OPERATIONS:
        p.unsupported(f"operation {operation!r} is not supported")
        p.ignore(*p.raw)
        return p.done({})
    out: dict[str, Any] = {"operation": operation, "binaryPropertyName": p.take("binaryPropertyName", "data")}
    if p.take("replaceJson", False):  # set by the Move Binary Data route: n8n's Extract from File has no such option
        out["replaceJson"] = True
    if p.take("guessTypes", False):  # set by the Spreadsheet File v1 route
        out["guessTypes"] = True
    if operation == "pdf":
        options = p.options("options", ("password", "joinPages", "maxPages", "keepSource"))
        out.update({k: options[k] for k in ("password", "joinPages", "maxPages", "keepSource") if k in options})
    elif operation in WHOLE_FILE:
        out["destinationKey"] = p.take("destinationKey", "data")
        options = p.options("options", ("encoding", "stripBOM", "keepSource"))
        if options.get("keepSource"):
            out["keepSource"] = options["keepSource"]
        if options.get("stripBOM") is False:
            p.approximated("a UTF-8 byte order mark is always dropped")
    else:
        options = p.options("options", _N8N_ROWS)
        if options.get("readAsString"):
            p.approximated("option 'options.readAsString' changes nothing: flowbox reads a CSV as text")
        for name in ("headerRow", "delimiter", "fromLine", "maxRowCount", "sheetName", "range", "includeEmptyCells",
                     "rawData", "relaxQuotes"):
            if name in options:
                out[name] = options[name]
        if operation in ("csv", "spreadsheet"):
            out["keepBom"] = not options.get("enableBOM")  # n8n keeps a BOM unless told (enableBOM)
    if options.get("encoding"):
        out["encoding"] = codec(options["encoding"])
    if byte_encoding(out, p, "text", "binaryToProperty"):
        return p.done(out)
    if operation in ("csv", "text", "fromJson", "xml", "fromIcs", "spreadsheet"):
        out["invalidText"] = "replace"  # iconv-lite decodes what it cannot as U+FFFD
    return p.done(out)


N8N = N8n(types=("n8n-nodes-base.extractFromFile",), versions=(1, 1.1), convert=from_n8n)
_SHEET_TO_FILE = ("fileName", "headerRow", "sheetName", "compression")


def route_spreadsheet(params: dict[str, Any], version: float) -> tuple[str, float, dict[str, Any]]:
    """n8n's legacy Spreadsheet File v1/v2 as the Files nodes it was split into: fromFile (default) as Extract
    from File (autodetect: CSV or XLSX told apart by the file), toFile as Convert to File (`fileFormat`)."""
    options = dict(params.get("options") or {})
    name = params.get("binaryPropertyName", "data")
    if params.get("operation", "fromFile") == "toFile":
        fmt = params.get("fileFormat", "xls")
        kept = {k: v for k, v in options.items() if k in _SHEET_TO_FILE}
        rest = {k: v for k, v in params.items() if k not in ("operation", "fileFormat", "binaryPropertyName", "options")}
        return "n8n-nodes-base.convertToFile", 1.1, {"operation": fmt, "binaryPropertyName": name, **rest,
                                                     "options": {**kept, **{k: v for k, v in options.items()
                                                                            if k not in kept}}}
    fmt = params.get("fileFormat", "autodetect")
    rest = {k: v for k, v in params.items() if k not in ("operation", "fileFormat", "binaryPropertyName", "options")}
    if version < 2 and not options.get("rawData"):  # v1 reads a CSV with SheetJS: numbers become numbers
        rest["guessTypes"] = True
    return "n8n-nodes-base.extractFromFile", 1, {"operation": "spreadsheet" if fmt == "autodetect" else fmt,
                                                 "binaryPropertyName": name, **rest, "options": options}


SPREADSHEET = N8n(types=("n8n-nodes-base.spreadsheetFile",), versions=(1, 2), convert=from_n8n,
                  route=route_spreadsheet)


def route_move_binary_data(params: dict[str, Any], version: float) -> tuple[str, float, dict[str, Any]]:
    """n8n's legacy Move Binary Data v1/v1.1 as the Files nodes: binaryToJson (default) as Extract from File
    (setAllData, the default: the file's JSON becomes the item's json; else its text, parsed with jsonParse or
    base64 with keepAsBase64, under destinationKey), jsonToBinary as Convert to File (convertAllData, the
    default: the item's json as a JSON file; else the text of `sourceKey`)."""
    options = dict(params.get("options") or {})
    rest = {k: v for k, v in params.items() if k not in ("mode", "setAllData", "convertAllData", "sourceKey",
                                                         "destinationKey", "options")}
    if params.get("mode", "binaryToJson") == "jsonToBinary":
        write = {k: options.pop(k) for k in ("fileName", "mimeType", "encoding", "addBOM") if k in options}
        out: dict[str, Any] = {"binaryPropertyName": params.get("destinationKey", "data"), **rest}
        keep = options.pop("keepSource", False)
        if params.get("convertAllData", True):  # the json goes into the file; other binary properties stay
            out.update(operation="toJson", mode="each", keepInput="all" if keep else "binary")
        else:  # the field's text goes into the file, and out of the json unless keepSource
            out.update(operation="toText", sourceProperty=params.get("sourceKey", "data"),
                       keepInput="all" if keep else "allButSource")
        return "n8n-nodes-base.convertToFile", 1.1, {**out, "options": {**write, **options}}
    read = {k: options.pop(k) for k in ("encoding", "stripBOM", "keepSource") if k in options}
    out = {"binaryPropertyName": params.get("sourceKey", "data"), **rest}
    if params.get("setAllData", True):
        out.update(operation="fromJson", replaceJson=True)
    else:
        out["destinationKey"] = params.get("destinationKey", "data")
        json_parse, base64 = options.pop("jsonParse", False), options.pop("keepAsBase64", False)
        out["operation"] = "binaryToPropery" if base64 else "fromJson" if json_parse else "text"
    return "n8n-nodes-base.extractFromFile", 1, {**out, "options": {**read, **options}}


MOVE_BINARY_DATA = N8n(types=("n8n-nodes-base.moveBinaryData",), versions=(1, 1.1), convert=from_n8n,
                       route=route_move_binary_data)


@node(
    n8n=(N8N, SPREADSHEET, MOVE_BINARY_DATA), type="extractFromFile", display_name="Extract from File", group="files", icon="file-input",
    description="Read a binary CSV, XLSX, XLS, ODS, HTML-table, RTF-table, JSON, XML, iCalendar or text file into items",
    params=[
        Param("operation", "options", default="csv", required=True, options=OPERATIONS),
        Param("binaryPropertyName", "string", default="data", required=True,
              description="Binary property holding the file"),
        Param("destinationKey", "string", default="data", show_if={"operation": WHOLE_FILE},
              description="Field to put the file's content in (dotted paths nest)"),
        Param("keepSource", "options", default="", options=["", "json", "binary", "both"],
              show_if={"operation": [*WHOLE_FILE, "pdf"]},
              description="What of the input item to keep: '' nothing but its other binary properties, json its "
                          "fields beside the content, binary all its binary properties (the file too), both"),
        Param("password", "string", default="", show_if={"operation": ["pdf"]},
              description="Password of an encrypted PDF"),
        Param("joinPages", "boolean", default=True, show_if={"operation": ["pdf"]},
              description="One text of all pages (off: `text` is a list with each page's text)"),
        Param("maxPages", "number", default=0, min=0, integer=True, show_if={"operation": ["pdf"]},
              description="Read at most this many pages (0: all)"),
        Param("replaceJson", "boolean", default=False, show_if={"operation": ["fromJson"]},
              description="The file's JSON object becomes the item's json (instead of going under destinationKey)"),
        Param("headerRow", "boolean", default=True, show_if={"operation": ROWS},
              description="The first row holds the column names"),
        Param("delimiter", "string", default=",", show_if={"operation": ["csv", "spreadsheet"]},
              description="Field separator (one character; \\t for tab)"),
        Param("encoding", "string", default="utf-8",
              show_if={"operation": ["csv", "text", "fromJson", "xml", "fromIcs", "spreadsheet"]},
              description="Text encoding of the file (a Python codec name: utf-8, latin-1, utf-16, ...)"),
        Param("invalidText", "options", default="fail", options=["fail", "replace"],
              show_if={"operation": ["csv", "text", "fromJson", "xml", "fromIcs", "spreadsheet"]},
              description="Bytes that are not text in the encoding: fail the item, or replace each with U+FFFD "
                          "(n8n's way, set on import)"),
        Param("fromLine", "number", default=1, min=1, integer=True, show_if={"operation": ["csv", "spreadsheet"]},
              description="First line to read (the header row when there is one)"),
        Param("maxRowCount", "number", default=-1, min=-1, integer=True,
              show_if={"operation": ROWS}, description="Read at most this many rows (-1: all)"),
        Param("sheetName", "string", default="", show_if={"operation": WORKBOOKS},
              description="Sheet to read (default: the first)"),
        Param("range", "string", default="", show_if={"operation": WORKBOOKS}, placeholder="A3:D20",
              description="Cells to read, in A1 notation (default: the whole sheet); its first row is the header"),
        Param("includeEmptyCells", "boolean", default=False, show_if={"operation": ROWS},
              description="Keep empty cells (null, or \"\" in a CSV) instead of leaving the key out"),
        Param("rawData", "boolean", default=False, show_if={"operation": [*SHEET_FORMATS, "spreadsheet"]},
              description="Every cell as text (\"1\", not 1), as SheetJS's raw data"),
        Param("guessTypes", "boolean", default=False, show_if={"operation": ["csv", "spreadsheet"]},
              description="CSV cells that look like numbers or TRUE/FALSE become those (n8n's Spreadsheet File v1)"),
        Param("relaxQuotes", "boolean", default=False, show_if={"operation": ["csv", "spreadsheet"]},
              description="Accept a quote inside an unquoted CSV field"),
        Param("keepBom", "boolean", default=False, show_if={"operation": ["csv", "spreadsheet"]},
              description="Keep a UTF-8 byte order mark at the start (n8n does unless enableBOM)"),
    ],
)
async def extract_from_file(ctx: Context, items: list[Item]) -> list[list[Item]]:
    """csv and the spreadsheets: one item per row of each input file; the other formats: one item per input item."""
    errors = ItemErrors(ctx)
    out: list[Item] = []
    for i, item in enumerate(items):
        operation = ctx.param("operation", i)
        prop = ctx.param("binaryPropertyName", i)
        try:
            data = binary_bytes(item, prop)
            if operation == "spreadsheet":
                operation = sniff(data)
            if operation == "csv":
                out.extend(Item(row, None, item) for row in read_csv(ctx, data, i))
            elif operation in SHEET_FORMATS:
                out.extend(Item(row, None, item) for row in read_sheet(ctx, operation, data, i))
            elif operation == "fromJson" and ctx.param("replaceJson", i):
                found = _whole(ctx, operation, data, i)
                if not isinstance(found, dict):
                    raise ValueError(f"the file holds a JSON {type(found).__name__}, not an object, so it cannot be "
                                     "the item's json (replaceJson)")
                out.append(item.derive(found, binary=None))
            elif operation in WHOLE_FILE:
                json_, binary = _kept(ctx, item, prop, i)
                out.append(item.derive(set_path(json_, ctx.param("destinationKey", i), _whole(ctx, operation, data, i)),
                                       binary=binary))
            elif operation == "pdf":
                json_, binary = _kept(ctx, item, prop, i)
                password = ctx.param("password", i) or None
                found = read_pdf(data, password, _int(ctx, "maxPages", i, 0), ctx.param("joinPages", i) is not False)
                out.append(item.derive({**json_, **found}, binary=binary))
            else:
                raise ValueError(f"parameter 'operation': unknown format {operation!r} "
                                 f"(one of {', '.join(OPERATIONS)})")
        except ValueError as exc:
            entry = (item.binary or {}).get(prop)
            name = entry.get("fileName") if isinstance(entry, dict) else None
            what = f"item {i}" + (f" ({name})" if name else "")
            errors.fail(item, i, ValueError(f"{what}: {exc}"), out)
    return errors.outputs(out)


def _kept(ctx: Context, item: Item, prop: str, i: int) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """What of the input item a whole-file item starts from (keepSource, as n8n): its json (json, both) and its
    binary properties (binary, both: all; otherwise all but the file read)."""
    keep = ctx.param("keepSource", i) or ""
    json_ = copy.deepcopy(item.json) if keep in ("json", "both") else {}
    if keep in ("binary", "both"):
        return json_, item.binary
    return json_, {k: v for k, v in (item.binary or {}).items() if k != prop} or None


def _whole(ctx: Context, operation: str, data: bytes, i: int) -> Any:
    if operation == "binaryToProperty":
        return base64.b64encode(data).decode("ascii")
    text = decode(data, ctx.param("encoding", i), ctx.param("invalidText", i) == "replace")
    if operation == "text":
        return text
    if operation == "fromIcs":
        return calendar_object(text)
    if operation == "xml":
        return from_xml(text, "the file")
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"the file is not valid JSON: {exc}") from None


def decode(data: bytes, encoding: str, replace: bool = False, keep_bom: bool = False) -> str:
    """Bytes as text (a UTF-8 byte order mark is dropped unless `keep_bom`); ValueError naming the encoding on
    failure, or with `replace` U+FFFD for each byte that is not text in it (as n8n's iconv-lite)."""
    try:
        codec = codecs.lookup(encoding)
    except LookupError:
        raise ValueError(f"parameter 'encoding': unknown encoding {encoding!r}") from None
    try:
        plain = codec.name != "utf-8" or keep_bom
        return data.decode(encoding if plain else "utf-8-sig", "replace" if replace else "strict")
    except UnicodeDecodeError as exc:
        raise ValueError(f"the file is not valid {encoding} (byte {exc.start}: {exc.reason}); "
                         f"set 'encoding' to the file's encoding") from None


def read_csv(ctx: Context, data: bytes, i: int) -> list[dict[str, Any]]:
    """The rows of a CSV file as dicts."""
    delimiter = ctx.param("delimiter", i).replace("\\t", "\t")
    if len(delimiter) != 1:
        raise ValueError(f"parameter 'delimiter' must be one character, got {delimiter!r}")
    text = decode(data, ctx.param("encoding", i), ctx.param("invalidText", i) == "replace", ctx.param("keepBom", i))
    lines = io.StringIO(text, newline="")
    for _ in range(max(0, _int(ctx, "fromLine", i, 1) - 1)):
        lines.readline()
    try:
        rows: list[list[Any]] = list(csv.reader(lines, delimiter=delimiter, strict=not ctx.param("relaxQuotes", i)))
    except csv.Error as exc:
        raise ValueError(f"the file is not valid CSV: {exc}") from None
    if ctx.param("guessTypes", i):
        rows = [[guess(v) if v else v for v in row] for row in rows]
    keep = ctx.param("includeEmptyCells", i)
    found = _records(rows, ctx.param("headerRow", i) is not False, _int(ctx, "maxRowCount", i, -1), True)
    return found if keep else [{k: v for k, v in row.items() if v != ""} for row in found]


def sniff(data: bytes) -> str:
    """Which spreadsheet format a file is, by its bytes: XLSX or ODS (zips told apart by ODS's mimetype entry),
    XLS (an OLE2 file), RTF, an HTML table, else CSV."""
    if data[:4] == b"PK\x03\x04":
        return "ods" if b"opendocument.spreadsheet" in data[:200] else "xlsx"
    if data[:8] == b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1":
        return "xls"
    head = data[:512].lstrip().lower()
    if head.startswith(b"{\\rtf"):
        return "rtf"
    if head.startswith((b"<!doctype html", b"<html", b"<table")):
        return "html"
    return "csv"


def read_sheet(ctx: Context, fmt: str, data: bytes, i: int) -> list[dict[str, Any]]:
    """The rows of one sheet of a spreadsheet file as dicts (sheetName and range for the workbook formats)."""
    workbook = fmt in WORKBOOKS
    rows = read_rows(fmt, data, ctx.param("sheetName", i) if workbook else "")
    cells = ctx.param("range", i).strip() if workbook else ""
    if cells:
        rows = cell_range(rows, cells)
    if ctx.param("rawData", i):  # SheetJS's formatted text of each cell
        rows = [[v if v is None or isinstance(v, str) else _text(v) for v in row] for row in rows]
    return _records(rows, ctx.param("headerRow", i) is not False, _int(ctx, "maxRowCount", i, -1),
                    ctx.param("includeEmptyCells", i))


def _text(value: Any) -> str:
    return ("TRUE" if value else "FALSE") if isinstance(value, bool) else str(value)


def _records(rows: list[list[Any]], header: bool, limit: int, keep_empty: bool) -> list[dict[str, Any]]:
    """Rows as dicts keyed by the header row (or field1, field2, ...); blank rows are skipped."""
    rows = [r for r in rows if any(v not in (None, "") for v in r)]
    names: list[str] = []
    if header and rows:
        names = [str(v) if v not in (None, "") else f"field{n + 1}" for n, v in enumerate(rows.pop(0))]
    if limit >= 0:
        rows = rows[:limit]
    return [dict(_pairs(names, row, keep_empty)) for row in rows]


def _pairs(names: list[str], row: list[Any], keep_empty: bool) -> Iterable[tuple[str, Any]]:
    for n, value in enumerate(row):
        if keep_empty or value is not None:
            yield (names[n] if n < len(names) else f"field{n + 1}"), value


def _int(ctx: Context, name: str, i: int, default: int) -> int:
    value = ctx.param(name, i, default)
    try:
        return int(default if value in (None, "") else value)
    except (TypeError, ValueError):
        raise ValueError(f"parameter '{name}' must be a whole number, got {value!r}") from None
