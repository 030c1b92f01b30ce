"""HTML as plain text laid out the way the html-to-text library does by default (n8n's HTML node from v1.2):
only the <body>; blocks on lines of their own with blank lines around paragraphs, headings and lists; headings
in capitals; links as `text [href]`, images as `alt [src]`; list items as ` * item` / `1. item`; whitespace
inside text collapsed; lines wrapped at 80 characters at spaces. Our own reading of its documented output, not
its code."""

from __future__ import annotations

import re
from typing import Any

WRAP = 80
_BLOCKS = {"p": 2, "pre": 2, "blockquote": 2, "ul": 2, "ol": 2, "table": 2, "h1": 3, "h2": 3, "h3": 3,
           "h4": 2, "h5": 2, "h6": 2, "div": 1, "section": 1, "article": 1, "header": 1, "footer": 1,
           "main": 1, "nav": 1, "aside": 1, "form": 1, "address": 1, "figure": 1, "dl": 1, "tr": 1, "li": 1,
           "dt": 1, "dd": 1, "hr": 1, "fieldset": 1, "details": 1, "summary": 1}
_TRAILING = {"h1": 2, "h2": 2, "h3": 2}
_SKIP = {"script", "style", "head", "noscript", "template", "title", "meta", "link"}
_SPACE = re.compile(r"\s+")


class _Out:
    """Lines being written: inline words gather on the current line; blocks ask for line breaks."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.line = ""
        self.breaks = 0  # line breaks owed before the next text (the larger request wins)
        self.started = False

    def text(self, words: str, upper: bool = False, keep: bool = False) -> None:
        if not keep:
            words = _SPACE.sub(" ", words)
            if not self.line or self.line.endswith(" ") or self.breaks:
                words = words.lstrip(" ")
        if not words:
            return
        if upper:
            words = words.upper()
        self._flush_breaks()
        self.line += words

    def newline(self) -> None:
        """End the current line here (<br>)."""
        self._flush_breaks()
        self.lines.append(self.line.rstrip(" "))
        self.line = ""

    def want(self, breaks: int) -> None:
        self.breaks = max(self.breaks, breaks)

    def _flush_breaks(self) -> None:
        if self.breaks and self.started:
            self.lines.append(self.line.rstrip(" "))
            self.lines.extend([""] * (self.breaks - 1))
            self.line = ""
        self.breaks = 0
        self.started = True

    def done(self) -> str:
        if self.started:
            self.lines.append(self.line.rstrip(" "))
        return "\n".join(_wrap(line) for line in self.lines).strip("\n")


def _wrap(line: str) -> str:
    """`line` broken at spaces so that no part passes WRAP characters (a longer word stays whole)."""
    if len(line) <= WRAP:
        return line
    parts, current = [], ""
    for word in line.split(" "):
        if current and len(current) + 1 + len(word) > WRAP:
            parts.append(current)
            current = word
        else:
            current = f"{current} {word}" if current else word
    parts.append(current)
    return "\n".join(parts)


def html_to_text(element: Any, skip: list[str] | None = None) -> str:
    """The text of a BeautifulSoup element (a whole document: its body) in html-to-text's layout; elements
    matching a `skip` selector are left out."""
    from bs4 import NavigableString, Tag

    root = element
    if getattr(element, "name", None) in ("[document]", "html"):
        root = element.find("body") or element
    skipped = {id(found) for selector in skip or [] for found in root.select(selector)}
    out = _Out()

    def walk(node: Any, upper: bool, pre: bool) -> None:
        for child in node.children:
            if isinstance(child, NavigableString):
                if type(child).__name__ in ("Comment", "Doctype", "Declaration", "ProcessingInstruction"):
                    continue
                out.text(str(child), upper, keep=pre)
                continue
            if not isinstance(child, Tag) or id(child) in skipped or child.name in _SKIP:
                continue
            name = child.name
            if name == "br":
                out.newline()
                continue
            block = _BLOCKS.get(name)
            if block:
                out.want(block)
            if name == "hr":
                out.text("-" * 40)
                out.want(1)
                continue
            if name == "img":
                alt, src = child.get("alt") or "", child.get("src") or ""
                out.text(" ".join(filter(None, [alt, f"[{src}]" if src else ""])) + " ")
                continue
            if name == "li":
                parent = child.find_parent(["ul", "ol"])
                if parent is not None and parent.name == "ol":
                    position = len(child.find_previous_siblings("li")) + 1
                    out.text(f"{position}. ", keep=True)
                else:
                    out.text(" * ", keep=True)
            walk(child, upper or name in ("h1", "h2", "h3", "h4", "h5", "h6"), pre or name == "pre")
            if name == "a":
                href = child.get("href") or ""
                if href and not href.startswith("#"):
                    out.text(f" [{href.removeprefix('mailto:')}]")
            if block:
                out.want(_TRAILING.get(name, block))

    walk(root, False, False)
    return out.done()
