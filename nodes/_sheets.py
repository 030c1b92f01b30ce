"""Spreadsheet files as rows of cell values and back, for Convert to File and Extract from File.

Formats: xlsx (openpyxl), xls (xlrd reads, xlwt writes: Excel 97-2003), ods (odfpy), html (the first
`<table>`, read with BeautifulSoup; Convert to File writes its own table) and rtf (a table of `\\cell` / `\\row`, read and written here: no
Python library reads RTF tables). `read_rows` gives one sheet as lists of values (numbers, text, booleans,
None for an empty cell; dates as ISO text); `write_table` writes rows of such values. Text cells of the
text-only formats (html, rtf) that look like numbers or TRUE/FALSE are read as those, as SheetJS (n8n's
reader) does. Every failure is a ValueError that says what is wrong with the file.
"""

from __future__ import annotations

import datetime as dt
import io
import re
from typing import Any

SHEET_FORMATS = ("xlsx", "xls", "ods", "html", "rtf")
_NUMBER = re.compile(r"-?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?")


def read_rows(fmt: str, data: bytes, sheet_name: str = "") -> list[list[Any]]:
    """The rows of sheet `sheet_name` (default: the first) of a `fmt` file."""
    if fmt == "xlsx":
        return _read_xlsx(data, sheet_name)
    if fmt == "xls":
        return _read_xls(data, sheet_name)
    if fmt == "ods":
        return _read_ods(data, sheet_name)
    if fmt == "html":
        return _read_html(data)
    if fmt == "rtf":
        return _read_rtf(data)
    raise ValueError(f"unknown spreadsheet format {fmt!r} (one of {', '.join(SHEET_FORMATS)})")


def write_table(fmt: str, rows: list[list[Any]], sheet_name: str = "Sheet") -> bytes:
    """A `fmt` file of `rows` (the first is the header row when the caller wants one). Text with control
    characters is the caller's to refuse (XLSX and ODS are XML and cannot hold them)."""
    writer = {"xlsx": _write_xlsx, "xls": _write_xls, "ods": _write_ods, "rtf": _write_rtf}.get(fmt)
    if writer is None:
        raise ValueError(f"cannot write spreadsheet format {fmt!r} (xlsx, xls, ods or rtf)")
    return writer(rows, sheet_name)


def cell_range(rows: list[list[Any]], cells: str) -> list[list[Any]]:
    """The part of `rows` inside an A1-notation range ("B2:D10"; "A3" alone: from A3 to the end)."""
    from openpyxl.utils.cell import range_boundaries

    try:
        min_col, min_row, max_col, max_row = range_boundaries(cells.strip().upper())
    except (ValueError, TypeError):
        raise ValueError(f"parameter 'range': {cells!r} is not a cell range like A1:D20") from None
    return [row[(min_col or 1) - 1:max_col] for row in rows[(min_row or 1) - 1:max_row]]


def _number(value: float) -> int | float:
    return int(value) if value.is_integer() and abs(value) < 2**53 else value


def guess(text: str) -> Any:
    """A text cell as SheetJS reads it: a number, a boolean, None when empty, else the text."""
    text = text.strip()
    if not text:
        return None
    if _NUMBER.fullmatch(text):
        return _number(float(text))
    if text.upper() in ("TRUE", "FALSE"):
        return text.upper() == "TRUE"
    return text


def _sheet(names: list[str], wanted: str) -> int:
    if not names:
        raise ValueError("the workbook has no sheet")
    if not wanted:
        return 0
    if wanted not in names:
        raise ValueError(f"parameter 'sheetName': no sheet {wanted!r} (sheets: {', '.join(names)})")
    return names.index(wanted)


def _trim(rows: list[list[Any]]) -> list[list[Any]]:
    """Rows without the trailing empty cells and empty rows the file padded them with."""
    out = [list(r) for r in rows]
    for row in out:
        while row and row[-1] in (None, ""):
            row.pop()
    while out and not out[-1]:
        out.pop()
    return out


# ---------------------------------------------------------------- xlsx


def _read_xlsx(data: bytes, sheet_name: str) -> list[list[Any]]:
    import zipfile

    from openpyxl import load_workbook
    from openpyxl.utils.exceptions import InvalidFileException

    try:
        book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except (zipfile.BadZipFile, InvalidFileException, KeyError, OSError, ValueError) as exc:
        raise ValueError(f"the file is not an XLSX workbook ({str(exc).strip(chr(34))})") from None
    try:
        sheet = book.worksheets[_sheet(book.sheetnames, sheet_name)]
        return [[_value(v) for v in row] for row in sheet.iter_rows(values_only=True)]
    finally:
        book.close()


def _value(value: Any) -> Any:
    """A cell value as JSON: dates and times as ISO text, whole floats as ints."""
    if isinstance(value, (dt.datetime, dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return value.total_seconds()
    if isinstance(value, float):
        return _number(value)
    return value


def _write_xlsx(rows: list[list[Any]], sheet_name: str) -> bytes:
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell

    book = Workbook(write_only=True)
    try:
        sheet = book.create_sheet(sheet_name)
    except ValueError as exc:
        raise ValueError(f"parameter 'sheetName': {exc}") from None

    def cell(value: Any) -> Any:
        made = WriteOnlyCell(sheet, value)
        if isinstance(value, str):
            made.data_type = "s"  # text that starts with "=" stays text, never a formula
        return made

    for values in rows:
        sheet.append([cell(v) for v in values])
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


# ---------------------------------------------------------------- xls (BIFF8)


def _read_xls(data: bytes, sheet_name: str) -> list[list[Any]]:
    import xlrd

    try:
        book = xlrd.open_workbook(file_contents=data)
    except (xlrd.XLRDError, ValueError, IndexError, AssertionError) as exc:
        raise ValueError(f"the file is not an XLS (Excel 97-2003) workbook ({exc})") from None
    sheet = book.sheet_by_index(_sheet(book.sheet_names(), sheet_name))
    rows = []
    for r in range(sheet.nrows):
        row: list[Any] = []
        for cell in sheet.row(r):
            if cell.ctype == xlrd.XL_CELL_NUMBER:
                row.append(_number(cell.value))
            elif cell.ctype == xlrd.XL_CELL_BOOLEAN:
                row.append(bool(cell.value))
            elif cell.ctype == xlrd.XL_CELL_DATE:
                row.append(xlrd.xldate_as_datetime(cell.value, book.datemode).isoformat())
            elif cell.ctype in (xlrd.XL_CELL_EMPTY, xlrd.XL_CELL_BLANK, xlrd.XL_CELL_ERROR):
                row.append(None)
            else:
                row.append(cell.value if cell.value != "" else None)
        rows.append(row)
    return rows


def _write_xls(rows: list[list[Any]], sheet_name: str) -> bytes:
    import xlwt

    if len(rows) > 65536 or any(len(r) > 256 for r in rows):
        raise ValueError("XLS holds at most 65,536 rows of 256 columns; use xlsx for more")
    book = xlwt.Workbook(encoding="utf-8")
    try:
        sheet = book.add_sheet(sheet_name or "Sheet")
    except Exception as exc:  # noqa: BLE001 - xlwt raises plain Exception for a bad sheet name
        raise ValueError(f"parameter 'sheetName': {exc}") from None
    for r, values in enumerate(rows):
        for c, value in enumerate(values):
            if value is None or value == "":
                continue
            if isinstance(value, str) and len(value) > 32767:
                raise ValueError(f"row {r + 1}, column {c + 1}: XLS cells hold at most 32,767 characters")
            sheet.write(r, c, value)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


# ---------------------------------------------------------------- ods (OpenDocument)

_REPEAT_CAP = 10_000  # a file may repeat an empty cell or row up to the sheet's edge: never expand that far


def _read_ods(data: bytes, sheet_name: str) -> list[list[Any]]:
    import zipfile

    from odf.namespaces import OFFICENS, TABLENS
    from odf.opendocument import load
    from odf.table import Table, TableRow

    try:
        doc = load(io.BytesIO(data))
    except (zipfile.BadZipFile, KeyError, ValueError, OSError) as exc:
        raise ValueError(f"the file is not an ODS spreadsheet ({exc})") from None
    tables = doc.spreadsheet.getElementsByType(Table) if doc.spreadsheet else []
    table = tables[_sheet([str(t.getAttrNS(TABLENS, "name") or "") for t in tables], sheet_name)]
    rows: list[list[Any]] = []
    for tr in table.getElementsByType(TableRow):
        row: list[Any] = []
        for cell in tr.childNodes:
            if cell.qname[1] not in ("table-cell", "covered-table-cell"):
                continue
            repeat = min(int(cell.getAttrNS(TABLENS, "number-columns-repeated") or 1), _REPEAT_CAP)
            row += [_ods_value(cell, OFFICENS)] * repeat
        repeat_rows = min(int(tr.getAttrNS(TABLENS, "number-rows-repeated") or 1), _REPEAT_CAP)
        rows += [list(row) for _ in range(repeat_rows)]
    return _trim(rows)


def _ods_value(cell: Any, office: str) -> Any:
    kind = cell.getAttrNS(office, "value-type")
    if kind in ("float", "percentage", "currency"):
        return _number(float(cell.getAttrNS(office, "value")))
    if kind == "boolean":
        return cell.getAttrNS(office, "boolean-value") == "true"
    if kind == "date":
        return cell.getAttrNS(office, "date-value")
    if kind == "time":
        return cell.getAttrNS(office, "time-value")
    text = "\n".join(str(p) for p in cell.childNodes if p.qname[1] == "p")
    return text or None


def _write_ods(rows: list[list[Any]], sheet_name: str) -> bytes:
    from odf.opendocument import OpenDocumentSpreadsheet
    from odf.table import Table, TableCell, TableRow
    from odf.text import P

    doc = OpenDocumentSpreadsheet()
    table = Table(name=sheet_name or "Sheet")
    for values in rows:
        tr = TableRow()
        for value in values:
            if value is None or value == "":
                cell = TableCell()
            elif isinstance(value, bool):
                cell = TableCell(valuetype="boolean", booleanvalue="true" if value else "false")
                cell.addElement(P(text="TRUE" if value else "FALSE"))
            elif isinstance(value, (int, float)):
                cell = TableCell(valuetype="float", value=value)
                cell.addElement(P(text=str(value)))
            else:
                cell = TableCell(valuetype="string")
                cell.addElement(P(text=str(value)))
            tr.addElement(cell)
        table.addElement(tr)
    doc.spreadsheet.addElement(table)
    buffer = io.BytesIO()
    doc.write(buffer)
    return buffer.getvalue()


# ---------------------------------------------------------------- html


def _read_html(data: bytes) -> list[list[Any]]:
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(data.decode("utf-8", "replace"), "html.parser")
    table = soup.find("table")
    if table is None:
        raise ValueError("the file holds no HTML <table>")
    return [[guess(cell.get_text()) for cell in tr.find_all(("td", "th"))] for tr in table.find_all("tr")]


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    return str(value)


# ---------------------------------------------------------------- rtf

_RTF_TOKEN = re.compile(r"\\([a-zA-Z]+)(-?\d+)? ?|\\'([0-9a-fA-F]{2})|\\(.)|([{}])|([^\\{}\r\n]+)|[\r\n]+", re.S)
_RTF_SKIP = frozenset(("fonttbl", "colortbl", "stylesheet", "info", "pict", "header", "footer", "listtable",
                       "listoverridetable", "generator", "rsidtbl", "xmlnstbl", "themedata", "datastore"))


def _read_rtf(data: bytes) -> list[list[Any]]:
    text = data.decode("latin-1")
    if not text.lstrip().startswith("{\\rtf"):
        raise ValueError("the file is not RTF (it does not start with {\\rtf)")
    rows: list[list[Any]] = []
    row: list[Any] = []
    cell: list[str] = []
    skip_depth: int | None = None  # inside a group that holds no text (font table, \* destinations, ...)
    depth = 0
    uc, pending_skip = 1, 0
    for m in _RTF_TOKEN.finditer(text):
        word, arg, hex_byte, symbol, brace, chunk = m.groups()
        if brace == "{":
            depth += 1
            continue
        if brace == "}":
            if skip_depth is not None and depth <= skip_depth:
                skip_depth = None
            depth -= 1
            continue
        if skip_depth is not None:
            continue
        if word is not None:
            if word in _RTF_SKIP:
                skip_depth = depth
            elif word == "cell":
                row.append(guess(_pairs("".join(cell))))
                cell = []
            elif word == "row":
                rows.append(row)
                row, cell = [], []
            elif word in ("par", "line") and cell:
                cell.append("\n")
            elif word == "tab":
                cell.append("\t")
            elif word == "uc":
                uc = int(arg or 1)
            elif word == "u":
                code = int(arg or 0)
                cell.append(chr(code + 65536 if code < 0 else code))
                pending_skip = uc
            continue
        if symbol is not None:
            if symbol == "*":
                skip_depth = depth
            elif symbol in "\\{}":
                cell.append(symbol)
            elif symbol == "~":
                cell.append("\u00a0")
            continue
        piece = bytes([int(hex_byte, 16)]).decode("cp1252", "replace") if hex_byte else chunk
        if piece is None:
            continue
        if pending_skip:
            skipped = min(pending_skip, len(piece))
            piece, pending_skip = piece[skipped:], pending_skip - skipped
        cell.append(piece)
    if not rows:
        raise ValueError("the RTF file holds no table (no \\row)")
    return rows


def _pairs(text: str) -> str:
    """Text with RTF's UTF-16 surrogate halves (two \\u words for one character past U+FFFF) joined."""
    return text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")


def _rtf_text(value: Any) -> str:
    out = []
    for ch in _text(value):
        if ch in "\\{}":
            out.append("\\" + ch)
        elif ch == "\n":
            out.append("\\line ")
        elif ord(ch) > 126:
            code = ord(ch)
            if code > 0xFFFF:  # RTF's \u takes 16 bits: a surrogate pair
                code -= 0x10000
                out.append(f"\\u{(0xD800 + (code >> 10)) - 65536}?\\u{(0xDC00 + (code & 0x3FF)) - 65536}?")
            else:
                out.append(f"\\u{code if code < 32768 else code - 65536}?")
        else:
            out.append(ch)
    return "".join(out)


def _write_rtf(rows: list[list[Any]], sheet_name: str) -> bytes:
    width = max((len(r) for r in rows), default=0)
    columns = "".join(f"\\cellx{1000 * (c + 1)}" for c in range(width))
    lines = ["{\\rtf1\\ansi\\deff0{\\fonttbl{\\f0 Calibri;}}"]
    for row in rows:
        cells = "".join(f"\\pard\\intbl {_rtf_text(v)}\\cell " for v in (*row, *[None] * (width - len(row))))
        lines.append(f"\\trowd\\trgaph100{columns}{cells}\\row")
    lines.append("}")
    return "\n".join(lines).encode("ascii")
