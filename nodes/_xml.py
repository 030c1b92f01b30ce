"""XML text <-> dicts (xmltodict) for the nodes that read or write XML: xml, convertToFile, extractFromFile."""

from __future__ import annotations

from typing import Any


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
