"""XML text <-> dicts for the nodes that read or write XML (xml, convertToFile, extractFromFile): xmltodict, and
xml2js's Builder layout for n8n's XML node."""

from __future__ import annotations

from typing import Any

from flowbox.nodes._paths import js_string


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


XML2JS_DECLARATION = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
_TEXT_ESCAPES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", "\r": "&#xD;"})
_ATTR_ESCAPES = str.maketrans({"&": "&amp;", "<": "&lt;", '"': "&quot;", "\t": "&#x9;", "\n": "&#xA;",
                               "\r": "&#xD;"})


class _Element:
    """An element being built: its attributes and its children (elements, text, or raw CDATA markup)."""

    __slots__ = ("attrs", "children", "name")

    def __init__(self, name: str) -> None:
        self.name = name
        self.attrs: dict[str, str] = {}
        self.children: list[_Element | str | tuple[str]] = []

    def add(self, name: str) -> _Element:
        child = _Element(name)
        self.children.append(child)
        return child


def to_xml2js(doc: Any, *, root_name: str = "root", headless: bool = False, pretty: bool = True,
              attrkey: str = "$", charkey: str = "_", cdata: bool = False) -> str:
    """`doc` as xml2js's Builder writes it (n8n's XML node): a json of one key names the root element unless
    `root_name` is set to another name; `attrkey` objects are attributes, `charkey` text; a list repeats its
    key's element; null and "" give an empty element; pretty means two-space indents, one line per element."""
    if isinstance(doc, dict) and len(doc) == 1 and root_name == "root":
        root_name, doc = next(iter(doc.items()))
    root = _Element(str(root_name))

    def text(element: _Element, value: Any) -> None:
        value = js_string(value)
        element.children.append((f"<![CDATA[{value.replace(']]>', ']]]]><![CDATA[>')}]]>",)
                                if cdata and any(c in value for c in "<&>") else value)

    def render(element: _Element, value: Any) -> _Element:
        if isinstance(value, list):
            for child in value:
                for key, entry in (child.items() if isinstance(child, dict) else ()):
                    render(element.add(str(key)), entry)
        elif isinstance(value, dict):
            for key, child in value.items():
                if key == attrkey:
                    for attr, attr_value in (child.items() if isinstance(child, dict) else ()):
                        if attr_value is not None:  # xmlbuilder leaves a null attribute out
                            element.attrs[str(attr)] = js_string(attr_value)
                elif key == charkey:
                    text(element, child)
                elif isinstance(child, list):
                    for entry in child:
                        if isinstance(entry, str):
                            text(element.add(str(key)), entry)
                        else:
                            render(element.add(str(key)), entry)
                elif child is None or isinstance(child, dict):
                    render(element.add(str(key)), child)
                else:
                    text(element.add(str(key)), child)
        elif value is not None:
            text(element, value)
        return element

    lines: list[str] = [] if headless else [XML2JS_DECLARATION]
    _write(render(root, doc), 0, lines, "  " if pretty else "")
    written = ("\n" if pretty else "").join(lines)
    from_xml(written, what="the XML written")
    return written


def _write(element: _Element, level: int, lines: list[str], indent: str) -> None:
    """Append `element`'s lines: empty as `<a/>`, one text child inline, else its children one level in."""
    pad = indent * level
    attrs = "".join(f' {k}="{v.translate(_ATTR_ESCAPES)}"' for k, v in element.attrs.items())
    kids = element.children
    if all(isinstance(c, str) and c == "" for c in kids):
        lines.append(f"{pad}<{element.name}{attrs}/>")
    elif indent and len(kids) == 1 and not isinstance(kids[0], _Element):
        lines.append(f"{pad}<{element.name}{attrs}>{_markup(kids[0])}</{element.name}>")
    else:
        lines.append(f"{pad}<{element.name}{attrs}>")
        for child in kids:
            if isinstance(child, _Element):
                _write(child, level + 1, lines, indent)
            else:
                lines.append(f"{indent * (level + 1)}{_markup(child)}")
        lines.append(f"{pad}</{element.name}>")


def _markup(child: str | tuple[str]) -> str:
    return child[0] if isinstance(child, tuple) else child.translate(_TEXT_ESCAPES)
