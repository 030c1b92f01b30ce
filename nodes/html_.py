"""HTML: extract values from HTML with CSS selectors (beautifulsoup4 + soupsieve).

The HTML comes from a json field or a binary property (its encoding detected by
beautifulsoup). Each extraction value names a `key`, a `cssSelector` and what to
return: the element's `text`, its inner `html`, an `attribute`, or a form field's
`value`; the first match, or with `returnArray` every match. The output item holds
the extracted keys (null, or [], when nothing matches).
"""

from __future__ import annotations

import re
from typing import Any

from flowbox.node import Context, Item, ItemErrors, Param, binary_bytes, get_path, node, set_path

RETURN_VALUES = ["text", "html", "attribute", "value"]


@node(
    type="html", display_name="HTML", group="transform", icon="file-code",
    description="Extract text, HTML or attributes from HTML with CSS selectors",
    params=[
        Param("operation", "options", default="extractHtmlContent", required=True, options=["extractHtmlContent"]),
        Param("sourceData", "options", default="json", options=["json", "binary"],
              description="Read the HTML from a json field or from a binary property"),
        Param("dataPropertyName", "string", default="data", required=True,
              description="The field (json) or binary property (binary) holding the HTML"),
        Param("extractionValues", "list", default=[], required=True, fields=(
            Param("key", "string", default="", required=True, description="Output field (dotted paths nest)"),
            Param("cssSelector", "string", default="", required=True, placeholder="div.price > span"),
            Param("returnValue", "options", default="text", options=RETURN_VALUES),
            Param("attribute", "string", default="", show_if={"returnValue": ["attribute"]}, placeholder="href"),
            Param("returnArray", "boolean", default=False, description="Return every match as a list"),
        )),
        Param("trimValues", "boolean", default=True, description="Strip spaces at the start and end of values"),
        Param("cleanUpText", "boolean", default=True,
              description="Text: join the text of nested elements with spaces and collapse runs of whitespace"),
    ],
)
async def html(ctx: Context, items: list[Item]) -> list[list[Item]]:
    """One output item per input item, holding the extracted keys."""
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
    from bs4 import BeautifulSoup

    prop = ctx.param("dataPropertyName", i)
    if ctx.param("sourceData", i) == "binary":
        return BeautifulSoup(binary_bytes(item, prop), "html.parser")
    value = get_path(item.json, prop)
    if not isinstance(value, str):
        got = "nothing" if value is None else type(value).__name__
        raise ValueError(f"field {prop!r} must hold HTML text, got {got} (sourceData json, dataPropertyName)")
    return BeautifulSoup(value, "html.parser")


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
        if row.get("returnValue") == "attribute" and not row.get("attribute"):
            raise ValueError(f"parameter 'extractionValues' row {n}: returnValue attribute needs 'attribute'")
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
        value = el.get(str(row["attribute"]))
        value = " ".join(value) if isinstance(value, list) else value  # class="a b" comes as a list
    elif kind == "html":
        value = el.decode_contents()
    elif kind == "value":
        value = _form_value(el)
    elif ctx.param("cleanUpText", i) is not False:
        value = re.sub(r"\s+", " ", el.get_text(" "))
    else:
        value = el.get_text()
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
