"""XML: convert a field between XML text and JSON (xmltodict).

xmlToJson replaces the item's json with the parsed document: attributes become
`@name` keys, mixed text `#text`, repeated elements lists, empty elements null.
jsonToxml writes the item's json as XML into `dataPropertyName`; a json with one
top-level key whose value is an object uses that key as the root element, any
other json is wrapped in `rootName`. Values come back from XML as text. The xml2js
layout reads and writes XML as n8n's XML node does (xml2js's parser and builder).
"""

from __future__ import annotations

from typing import Any

from flowbox.node import Context, Item, ItemErrors, N8n, N8nNotes, Param, get_path, node
from flowbox.nodes._n8n import Params
from flowbox.nodes._xml import from_xml, to_xml, to_xml2js

_XML2JS_DEFAULTS = {"attrkey": "$", "charkey": "_", "explicitArray": False, "explicitRoot": True,
                    "ignoreAttrs": False, "mergeAttrs": True, "normalize": False, "normalizeTags": False,
                    "trim": False}


def from_n8n(params: dict[str, Any], version: float) -> tuple[dict[str, Any], N8nNotes]:
    """n8n's XML v1: xmlToJson (default; `dataPropertyName`, xml2js's parser options at n8n's defaults) and
    jsonToxml (xml2js's builder: `rootName`, `headless`, `attrkey`, `charkey`, `cdata`), both in xml2js's
    layout. Parser options away from n8n's defaults are not supported."""
    p = Params(params, version)
    mode = p.take("mode", "xmlToJson")
    field = p.take("dataPropertyName", "data")
    if mode == "jsonToxml":
        options = p.options("options", ("rootName", "headless", "attrkey", "charkey", "cdata", "allowSurrogateChars"))
        if options.get("allowSurrogateChars"):
            p.approximated("allowSurrogateChars: text is written as it is and must still be well-formed XML")
        return p.done({"mode": "jsonToxml", "dataPropertyName": field, "layout": "xml2js", "pretty": True,
                       "rootName": options.get("rootName") or "root", "headless": bool(options.get("headless")),
                       "attrkey": options.get("attrkey") or "$", "charkey": options.get("charkey") or "_",
                       "cdata": bool(options.get("cdata"))})
    if mode != "xmlToJson":
        p.unsupported(f"mode {mode!r} is not supported")
        p.ignore("options")
        return p.done({})
    for name, value in p.options("options", tuple(_XML2JS_DEFAULTS)).items():
        if name in _XML2JS_DEFAULTS and _XML2JS_DEFAULTS[name] != value:
            p.unsupported(f"option 'options.{name}' = {value!r} is not supported")
    p.approximated("text is trimmed of leading and trailing spaces (xml2js keeps them)")
    return p.done({"mode": "xmlToJson", "dataPropertyName": field, "layout": "xml2js"})


N8N = N8n(types=("n8n-nodes-base.xml",), versions=(1,), convert=from_n8n)


@node(
    n8n=N8N,
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
        Param("layout", "options", default="xmltodict", options=["xmltodict", "xml2js"],
              description="xmltodict: attributes as @name, text as #text, empty elements null; xml2js (n8n's): "
                          "attributes merged as plain keys, text as _, empty elements \"\"; written with "
                          "attributes under attrkey, text under charkey"),
        Param("attrkey", "string", default="$", show_if={"mode": ["jsonToxml"], "layout": ["xml2js"]},
              description="Key of the object whose entries are the element's attributes"),
        Param("charkey", "string", default="_", show_if={"mode": ["jsonToxml"], "layout": ["xml2js"]},
              description="Key whose value is the element's text"),
        Param("cdata", "boolean", default=False, show_if={"mode": ["jsonToxml"], "layout": ["xml2js"]},
              description="Write text holding <, > or & as CDATA instead of escaping it"),
    ],
)
async def xml(ctx: Context, items: list[Item]) -> list[list[Item]]:
    """One output item per input item."""
    errors = ItemErrors(ctx)
    out: list[Item] = []
    for i, item in enumerate(items):
        field = ctx.param("dataPropertyName", i)
        try:
            if ctx.param("mode", i) == "jsonToxml" and ctx.param("layout", i) == "xml2js":
                text = to_xml2js(item.json, root_name=ctx.param("rootName", i), headless=ctx.param("headless", i),
                                 pretty=ctx.param("pretty", i), attrkey=ctx.param("attrkey", i),
                                 charkey=ctx.param("charkey", i), cdata=ctx.param("cdata", i))
                out.append(item.derive({field: text}))
            elif ctx.param("mode", i) == "jsonToxml":
                doc = item.json
                if len(doc) != 1 or not isinstance(next(iter(doc.values())), dict):
                    doc = {ctx.param("rootName", i): doc}
                text = to_xml(doc, pretty=ctx.param("pretty", i), headless=ctx.param("headless", i))
                out.append(item.derive({field: text}))
            else:
                text = get_path(item.json, field)
                if not isinstance(text, str):
                    got = "nothing" if text is None else type(text).__name__
                    raise ValueError(f"field {field!r} must hold XML text, got {got}")
                parsed = from_xml(text)
                if ctx.param("layout", i, "xmltodict") == "xml2js":
                    parsed = as_xml2js(parsed)
                out.append(item.derive(parsed))
        except ValueError as exc:
            errors.fail(item, i, ValueError(f"item {i}: {exc}"), out)
    return errors.outputs(out)


def as_xml2js(value: Any) -> Any:
    """xmltodict's layout as n8n's xml2js gives it (mergeAttrs, charkey `_`, no explicit arrays):
    `@id` -> `id`, `#text` -> `_`, an empty element "" instead of null."""
    if value is None:
        return ""
    if isinstance(value, list):
        return [as_xml2js(v) for v in value]
    if not isinstance(value, dict):
        return value
    out: dict[str, Any] = {}
    for key, child in value.items():
        if key.startswith("@"):
            out[key[1:]] = child
        elif key == "#text":
            out["_"] = child
        else:
            out[key] = as_xml2js(child)
    return out

