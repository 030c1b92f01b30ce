"""XML: convert a field between XML text and JSON (xmltodict).

xmlToJson replaces the item's json with the parsed document: attributes become
`@name` keys, mixed text `#text`, repeated elements lists, empty elements null.
jsonToxml writes the item's json as XML into `dataPropertyName`; a json with one
top-level key whose value is an object uses that key as the root element, any
other json is wrapped in `rootName`. Values come back from XML as text.
"""

from __future__ import annotations

from typing import Any

from flowbox.node import Context, Item, ItemErrors, Param, get_path, node


@node(
    type="xml", display_name="XML", group="transform", icon="code",
    description="Convert a field between XML text and JSON",
    params=[
        Param("mode", "options", default="xmlToJson", required=True, options=["xmlToJson", "jsonToxml"]),
        Param("dataPropertyName", "string", default="data", required=True,
              description="Field holding the XML (xmlToJson) or receiving it (jsonToxml)"),
        Param("rootName", "string", default="root", show_if={"mode": ["jsonToxml"]},
              description="Root element when the json does not have exactly one top-level object key"),
        Param("headless", "boolean", default=False, show_if={"mode": ["jsonToxml"]},
              description="Leave out the <?xml ...?> declaration"),
        Param("pretty", "boolean", default=False, show_if={"mode": ["jsonToxml"]},
              description="Indent the XML"),
    ],
)
async def xml(ctx: Context, items: list[Item]) -> list[list[Item]]:
    """One output item per input item."""
    errors = ItemErrors(ctx)
    out: list[Item] = []
    for i, item in enumerate(items):
        field = str(ctx.param("dataPropertyName", i) or "data")
        try:
            if ctx.param("mode", i) == "jsonToxml":
                doc = item.json
                if len(doc) != 1 or not isinstance(next(iter(doc.values())), dict):
                    doc = {str(ctx.param("rootName", i) or "root"): doc}
                text = to_xml(doc, pretty=bool(ctx.param("pretty", i)), headless=bool(ctx.param("headless", i)))
                out.append(item.derive({field: text}))
            else:
                text = get_path(item.json, field)
                if not isinstance(text, str):
                    got = "nothing" if text is None else type(text).__name__
                    raise ValueError(f"field {field!r} must hold XML text, got {got}")
                parsed = from_xml(text)
                out.append(item.derive(parsed))
        except ValueError as exc:
            errors.fail(item, i, ValueError(f"item {i}: {exc}"), out)
    return errors.outputs(out)


def to_xml(doc: dict[str, Any], *, pretty: bool = False, headless: bool = False) -> str:
    """`doc` (one root key) as XML text; ValueError when it cannot be well-formed XML."""
    import xmltodict

    try:
        text = xmltodict.unparse(doc, pretty=pretty, indent="  ", full_document=not headless)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"cannot be written as XML: {exc}") from None
    from_xml(text, what="the XML written")  # xmltodict writes what it is given: check it is well-formed
    return text


def from_xml(text: str | bytes, what: str = "the XML") -> dict[str, Any]:
    """Parse XML text into a dict; ValueError with the parser's line and column when it is malformed."""
    from xml.parsers.expat import ExpatError

    import xmltodict

    try:
        return xmltodict.parse(text)
    except ExpatError as exc:
        raise ValueError(f"{what} is not well-formed: {exc}") from None
