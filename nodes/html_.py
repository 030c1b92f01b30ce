"""HTML: extract values from HTML with CSS selectors (beautifulsoup4 + soupsieve), fill an HTML template per
item, or make one HTML table of all items.

extractHtmlContent:

The HTML comes from a json field or a binary property (its encoding detected by
beautifulsoup). Each extraction value names a `key`, a `cssSelector` and what to
return: the element's `text`, its inner `html`, an `attribute`, or a form field's
`value`; the first match, or with `returnArray` every match. The output item holds
the extracted keys (null, or [], when nothing matches).

generateHtmlTemplate: the `html` parameter is a template ({{ }} expressions filled per item); each item
becomes `{"html": ...}`. convertToHtmlTable: one item `{"table": ...}` with a column for every field
any item has, values HTML-escaped, booleans as checkboxes.
"""

from __future__ import annotations

import copy
import html as html_text
import json
import re
from functools import partial
from typing import Any

from flowbox.node import (
    Context,
    Item,
    ItemErrors,
    N8n,
    N8nNotes,
    Param,
    binary_bytes,
    get_path,
    node,
    set_path,
)
from flowbox.nodes._htmltext import html_to_text
from flowbox.nodes._n8n import Params, rows

RETURN_VALUES = ["text", "html", "attribute", "value"]
OPERATIONS = ["extractHtmlContent", "generateHtmlTemplate", "convertToHtmlTable"]
EXTRACT = {"operation": ["extractHtmlContent"]}
_TABLE_OPTIONS = ("capitalize", "caption", "tableAttributes", "headerAttributes", "rowAttributes", "cellAttributes",
                  "customStyling")


def from_n8n(params: dict[str, Any], version: float, *, legacy: bool = False) -> tuple[dict[str, Any], N8nNotes]:
    """n8n's HTML v1-1.2 (every operation; n8n's default is generateHtmlTemplate) and, `legacy`, HTML Extract v1
    (extractHtmlContent only, `options.trimValues`)."""
    p = Params(params, version)
    operation = "extractHtmlContent" if legacy else p.take("operation", "generateHtmlTemplate")
    if operation == "generateHtmlTemplate":
        p.ignore("notice")
        template = str(p.take("html", ""))
        if "{{" in template and not template.startswith("="):  # n8n fills this one's {{ }} itself
            template = "=" + template
        return p.done({"operation": operation, "html": template})
    if operation == "convertToHtmlTable":
        options = p.options("options", _TABLE_OPTIONS)
        p.approximated("cell values are HTML-escaped (n8n inserts them as they are) and the built-in styles are "
                       "flowbox's")
        return p.done({"operation": operation, **{k: options[k] for k in _TABLE_OPTIONS if k in options}})
    if operation != "extractHtmlContent":
        p.unsupported(f"operation {operation!r} is not supported")
        return p.done({})
    options = p.options("options", ("trimValues", "cleanUpText"))
    values = []
    for row in rows(p.take("extractionValues", {}), "values", "extractionValues"):
        if not row.get("returnArray") and row.get("returnValue", "text") == "text" and version < 1.2:
            p.approximated(f"key {row.get('key')!r}: text of the first match (n8n joins the text of every match)")
        values.append({k: row[k] for k in ("key", "cssSelector", "returnValue", "attribute", "skipSelectors",
                                           "returnArray") if k in row})
    return p.done({"operation": operation, "sourceData": p.take("sourceData", "json"),
                   "dataPropertyName": p.take("dataPropertyName", "data"), "extractionValues": values,
                   **_value_options(options, version, legacy)})


def _value_options(options: dict[str, Any], version: float, legacy: bool) -> dict[str, Any]:
    """trimValues and cleanUpText as each version applies them: from v1.2 an option left out is off (n8n tests
    `options.x`), and text is laid out as html-to-text writes it."""
    if version >= 1.2 and not legacy:
        return {"trimValues": bool(options.get("trimValues")), "cleanUpText": bool(options.get("cleanUpText")),
                "textFormat": "htmlToText"}
    return {"trimValues": options.get("trimValues", True),
            "cleanUpText": options.get("cleanUpText", not legacy and version > 1)}


@node(
    type="html", display_name="HTML", group="transform", icon="file-code",
    description="Extract text, HTML or attributes from HTML with CSS selectors",
    params=[
        Param("operation", "options", default="extractHtmlContent", required=True, options=OPERATIONS),
        Param("html", "string", default="", required=True, show_if={"operation": ["generateHtmlTemplate"]},
              placeholder="<p>Hello {{ $json.name }}</p>", description="The HTML to output, its {{ }} filled per item"),
        Param("sourceData", "options", default="json", options=["json", "binary"], show_if=EXTRACT,
              description="Read the HTML from a json field or from a binary property"),
        Param("dataPropertyName", "string", default="data", required=True, show_if=EXTRACT,
              description="The field (json) or binary property (binary) holding the HTML"),
        Param("extractionValues", "list", default=[], required=True, show_if=EXTRACT, fields=(
            Param("key", "string", default="", required=True, description="Output field (dotted paths nest)"),
            Param("cssSelector", "string", default="", required=True, placeholder="div.price > span"),
            Param("returnValue", "options", default="text", options=RETURN_VALUES),
            Param("attribute", "string", default="", show_if={"returnValue": ["attribute"]}, placeholder="href",
                  description="The attribute to return (empty: every attribute, as an object)"),
            Param("skipSelectors", "string", default="", show_if={"returnValue": ["text"]},
                  placeholder="e.g. img, .ad", description="Elements inside a match whose text is left out"),
            Param("returnArray", "boolean", default=False, description="Return every match as a list"),
        )),
        Param("trimValues", "boolean", default=True, show_if=EXTRACT,
              description="Strip spaces at the start and end of values"),
        Param("cleanUpText", "boolean", default=True, show_if=EXTRACT,
              description="Text: join the text of nested elements with spaces and collapse runs of whitespace"),
        Param("textFormat", "options", default="plain", options=["plain", "htmlToText"], show_if=EXTRACT,
              description="plain: the elements' text; htmlToText (n8n's HTML v1.2): laid out as the html-to-text "
                          "library writes it, blocks on lines, headings in capitals, links as text [url]"),
        *(Param(name, "string", default="", show_if={"operation": ["convertToHtmlTable"]}, description=text)
          for name, text in (("caption", "The table's caption"),
                             ("tableAttributes", "Attributes of <table>, e.g. class=\"report\""),
                             ("headerAttributes", "Attributes of <thead>"), ("rowAttributes", "Attributes of each <tr>"),
                             ("cellAttributes", "Attributes of each <td>"))),
        Param("capitalize", "boolean", default=False, show_if={"operation": ["convertToHtmlTable"]},
              description="Headers from field names: snake_case -> Snake Case"),
        Param("customStyling", "boolean", default=False, show_if={"operation": ["convertToHtmlTable"]},
              description="Leave out the built-in inline styles"),
    ],
    n8n=(N8n(types=("n8n-nodes-base.html",), versions=(1, 1.1, 1.2), convert=from_n8n),
         N8n(types=("n8n-nodes-base.htmlExtract",), versions=(1,), convert=partial(from_n8n, legacy=True))),
)
async def html(ctx: Context, items: list[Item]) -> list[list[Item]]:
    """One output item per input item (the extracted keys, or the filled template); one table of all items."""
    operation = ctx.param("operation")
    if operation == "convertToHtmlTable":
        return [[Item({"table": _table(ctx, items)})]] if items else [[]]
    if operation == "generateHtmlTemplate":
        return [[item.derive({"html": ctx.param("html", i)}, binary=None) for i, item in enumerate(items)]]
    errors = ItemErrors(ctx)
    out: list[Item] = []
    for i, item in enumerate(items):
        try:
            soup = _parse(ctx, item, i)
            found: dict[str, Any] = {}
            for row in _rows(ctx.param("extractionValues", i)):
                found = set_path(found, row["key"], _extract(ctx, soup, row, i))
            out.append(item.derive(found, binary=None))
        except ValueError as exc:
            errors.fail(item, i, ValueError(f"item {i}: {exc}"), out)
    return errors.outputs(out)


def _parse(ctx: Context, item: Item, i: int) -> Any:
    """The item's HTML, parsed keeping all whitespace (as browsers and cheerio do; beautifulsoup would fold
    whitespace-only text to one line break) and with CR LF read as LF."""
    from bs4 import BeautifulSoup
    from bs4.builder import HTMLParserTreeBuilder

    prop = ctx.param("dataPropertyName", i)
    builder = HTMLParserTreeBuilder(preserve_whitespace_tags=_Every())
    if ctx.param("sourceData", i) == "binary":
        return BeautifulSoup(binary_bytes(item, prop), builder=builder)
    value = get_path(item.json, prop)
    if not isinstance(value, str):
        got = "nothing" if value is None else type(value).__name__
        raise ValueError(f"field {prop!r} must hold HTML text, got {got} (sourceData json, dataPropertyName)")
    text = value.replace("\r\n", "\n").replace("\r", "\n")
    text = _AFTER_BODY.sub(r"\1\2</body></html>", text)  # HTML5: space after </body> still belongs to the body
    return BeautifulSoup(text, builder=builder)


_AFTER_BODY = re.compile(r"</body>(\s*)</html>(\s*)$", re.IGNORECASE)


class _Every(frozenset):
    """Every tag keeps its whitespace."""

    def __contains__(self, item: object) -> bool:
        return True


def _html_formatter() -> Any:
    """HTML written back as the page had it: attributes in their order, void elements without a slash."""
    from bs4.formatter import HTMLFormatter

    class Kept(HTMLFormatter):
        def attributes(self, tag: Any) -> Any:
            return list(tag.attrs.items())

    return Kept(void_element_close_prefix=None)


def _rows(value: Any) -> list[dict[str, Any]]:
    """The extraction values: a list of rows (or n8n's {"values": [...]}), each checked."""
    if isinstance(value, dict):
        value = value.get("values", [value])
    if not isinstance(value, list) or not value:
        raise ValueError("parameter 'extractionValues' needs at least one row {key, cssSelector}")
    for n, row in enumerate(value):
        if not isinstance(row, dict) or not row.get("key") or not row.get("cssSelector"):
            raise ValueError(f"parameter 'extractionValues' row {n} needs a 'key' and a 'cssSelector'")
        if row.get("returnValue", "text") not in RETURN_VALUES:
            raise ValueError(f"parameter 'extractionValues' row {n}: returnValue must be one of "
                             f"{', '.join(RETURN_VALUES)}, got {row.get('returnValue')!r}")
    return value


def _extract(ctx: Context, soup: Any, row: dict[str, Any], i: int) -> Any:
    selector = str(row["cssSelector"])
    try:
        matches = soup.select(selector)
    except Exception as exc:  # soupsieve.SelectorSyntaxError and friends
        raise ValueError(f"key {row['key']!r}: invalid CSS selector {selector!r}: {exc}") from None
    values = [_value(ctx, el, row, i) for el in matches]
    if row.get("returnArray") in (True, "true"):
        return values
    return values[0] if values else None


def _value(ctx: Context, el: Any, row: dict[str, Any], i: int) -> Any:
    kind = row.get("returnValue") or "text"
    if kind == "attribute":
        def joined(v: Any) -> Any:
            return " ".join(v) if isinstance(v, list) else v  # class="a b" comes as a list

        value = joined(el.get(str(row["attribute"]))) if row.get("attribute") else {
            k: joined(v) for k, v in el.attrs.items()}
    elif kind == "html":
        value = el.decode_contents(formatter=_html_formatter())
    elif kind == "value":
        value = _form_value(el)
    elif ctx.param("textFormat", i) == "htmlToText":
        skip = [part.strip() for part in str(row.get("skipSelectors") or "").split(",") if part.strip()]
        value = html_to_text(el, skip)
        if ctx.param("cleanUpText", i) is not False:  # n8n: line breaks dropped, then runs of space collapsed
            value = re.sub(r"\s+", " ", re.sub(r"\r\n|\n|\r", "", value))
    else:
        skip = [part.strip() for part in str(row.get("skipSelectors") or "").split(",") if part.strip()]
        if skip:
            el = copy.copy(el)  # a copy: the page stays whole for the other extraction values
            for selector in skip:
                for found in el.select(selector):
                    found.decompose()
        value = re.sub(r"\s+", " ", el.get_text(" ")) if ctx.param("cleanUpText", i) is not False else el.get_text()
    if isinstance(value, str) and ctx.param("trimValues", i) is not False:
        value = value.strip()
    return value


def _form_value(el: Any) -> Any:
    """What a form field submits: input value, textarea text, the selected option(s) of a select."""
    if el.name == "textarea":
        return el.get_text()
    if el.name == "select":
        options = el.find_all("option")
        chosen = [o for o in options if o.has_attr("selected")] or options[:1]
        picked = [o.get("value", o.get_text()) for o in chosen]
        return picked if el.has_attr("multiple") else (picked[0] if picked else None)
    return el.get("value")


_STYLES = ("style='border-collapse:collapse; font-family:system-ui,sans-serif'",  # flowbox's own look
           "style='text-align:left; color:#666; border-bottom:2px solid #ddd'",
           "style='padding:6px 16px 6px 0; border-bottom:1px solid #eee'")


def _table(ctx: Context, items: list[Item]) -> str:
    """Every item a row, every field any item has a column (in the order first seen)."""
    headers = list(dict.fromkeys(key for item in items for key in item.json))
    table_style, header_style, cell_style = ("", "", "") if ctx.param("customStyling") else _STYLES

    def attrs(*parts: Any) -> str:
        return "".join(f" {part}" for part in parts if part)

    def cell(value: Any) -> str:
        if isinstance(value, bool):
            return '<input type="checkbox" checked="checked"/>' if value else '<input type="checkbox"/>'
        if value is None:
            return ""
        if isinstance(value, (dict, list)):
            return html_text.escape(json.dumps(value, ensure_ascii=False))
        return html_text.escape(str(value))

    def header(name: str) -> str:
        if ctx.param("capitalize"):
            name = " ".join(word[:1].upper() + word[1:] for word in name.split("_") if word)
        return html_text.escape(name)

    out = [f"<table{attrs(table_style, ctx.param('tableAttributes'))}>"]
    if caption := ctx.param("caption"):
        out.append(f"<caption>{html_text.escape(caption)}</caption>")
    out.append(f"<thead{attrs(header_style, ctx.param('headerAttributes'))}><tr>"
               + "".join(f"<th>{header(h)}</th>" for h in headers) + "</tr></thead><tbody>")
    for i, item in enumerate(items):
        td = f"<td{attrs(cell_style, ctx.param('cellAttributes', i))}>"
        out.append(f"<tr{attrs(ctx.param('rowAttributes', i))}>"
                   + "".join(f"{td}{cell(item.json.get(h))}</td>" for h in headers) + "</tr>")
    out.append("</tbody></table>")
    return "".join(out)
