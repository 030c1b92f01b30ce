"""Markdown: convert between Markdown and HTML (n8n's markdown v1), the result under `destinationKey`.

markdownToHtml uses Python-Markdown (n8n uses showdown): header ids like showdown's (`# Hello World` ->
`id="helloworld"`), GitHub code fences on by default; the options `tables`, `strikethrough`,
`simpleLineBreaks`, `noHeaderId`, `headerLevelStart`, `prefixHeaderId`, `ghCompatibleHeaderId`,
`openLinksInNewWindow`, `completeHTMLDocument`, `ghCodeBlocks`, `simplifiedAutoLink`,
`excludeTrailingPunctuationFromURLs`, `tasklists` are honoured; showdown's other switches are accepted,
have no effect, and say so in the run's log. htmlToMarkdown uses markdownify with node-html-markdown's defaults
(`*` bullets, `_em_`, `**strong**`, ``` fences, ATX headings) and its options. User patterns run under
flowbox's regex time limit.
"""

from __future__ import annotations

import copy
import re
from typing import Any

from flowbox.conditions import REGEX_TIMEOUT
from flowbox.conditions import _regex as compile_pattern
from flowbox.node import Context, Item, ItemErrors, N8n, N8nNotes, Param, node
from flowbox.nodes._n8n import Params
from flowbox.nodes._paths import comma_list, rows, set_field

PATTERN_ROW = (Param("pattern", "string", "", description="RegEx for pattern"),
               Param("replacement", "string", "", description="String replacement"))

HTML_OPTIONS = (
    Param("bulletMarker", "string", "*"),
    Param("codeFence", "string", "```"),
    Param("emDelimiter", "string", "_"),
    Param("globalEscape", "collection", {}, fields=(Param("value", "collection", {}, fields=PATTERN_ROW),),
          description="Replaces the default escaping: text matching pattern becomes replacement"),
    Param("ignore", "string", "", placeholder="e.g. h1, p ...", description="Elements dropped with their content"),
    Param("keepDataImages", "boolean", False, description="Keep images with data: URIs"),
    Param("lineStartEscape", "collection", {}, fields=(Param("value", "collection", {}, fields=PATTERN_ROW),),
          description="Replaces the default escaping at the start of lines"),
    Param("maxConsecutiveNewlines", "number", 3, integer=True, min=1),
    Param("useLinkReferenceDefinitions", "boolean", False, description="Place URLs at the bottom as references"),
    Param("strongDelimiter", "string", "**"),
    Param("codeBlockStyle", "options", "fence", options=("fence", "indented")),
    Param("textReplace", "list", [], fields=PATTERN_ROW, description="Replace matching text of the HTML's text"),
    Param("blockElements", "string", "", placeholder="e.g. p, div, ...",
          description="Elements surrounded with blank lines"),
    Param("layout", "options", "clean", options=("clean", "nodeHtmlMarkdown"),
          description="clean: leading blank space trimmed, ignore and blockElements apply to every element; "
                      "nodeHtmlMarkdown (set on import from n8n): as n8n's converter, whitespace before the "
                      "first block kept as ' ' and a blank line, and ignore/blockElements have no effect on "
                      "h1-h6, ol, ul, li, code, table, a, img"),
)
# node-html-markdown's elements with computed translators: its ignore/blockElements options do not reach them
_NHM_FIXED = frozenset(("h1", "h2", "h3", "h4", "h5", "h6", "ol", "ul", "li", "code", "table", "a", "img"))
_SHOWDOWN_FLAGS = ("backslashEscapesHTMLTags", "customizedHeaderId", "emoji", "encodeEmails", "ghMentions",
                   "requireSpaceBeforeHeadingText", "literalMidWordAsterisks", "literalMidWordUnderscores",
                   "parseImgDimensions", "rawHeaderId", "rawPrefixHeaderId", "smartIndentationFix",
                   "disableForced4SpacesIndentedSublists", "splitAdjacentBlockquotes", "tablesHeaderId")
MD_OPTIONS = (
    Param("openLinksInNewWindow", "boolean", False, description='Add target="_blank" to links'),
    Param("completeHTMLDocument", "boolean", False, description="Output <html>, <head> and <body>"),
    Param("ghCodeBlocks", "boolean", True, description="GitHub-style ``` code blocks"),
    Param("ghCompatibleHeaderId", "boolean", False, description="Header ids with dashes, like GitHub"),
    Param("ghMentionsLink", "string", "https://github.com/{u}"),
    Param("headerLevelStart", "number", 1, integer=True, min=1, max=6),
    Param("noHeaderId", "boolean", False),
    Param("prefixHeaderId", "string", "", description="Prefix for generated header ids"),
    Param("simpleLineBreaks", "boolean", False, description="Line breaks become <br>"),
    Param("strikethrough", "boolean", False, description="~~text~~ becomes <del>"),
    Param("tables", "boolean", False, description="Pipe tables"),
    Param("simplifiedAutoLink", "boolean", False, description="Bare URLs become links"),
    Param("excludeTrailingPunctuationFromURLs", "boolean", False,
          description="With simplifiedAutoLink, . ! ? ( ) ending a URL stay outside the link"),
    Param("tasklists", "boolean", False, description="GitHub task lists: - [ ] and - [x] become checkboxes"),
    *(Param(name, "boolean", name == "encodeEmails", description="showdown switch, accepted without effect")
      for name in _SHOWDOWN_FLAGS),
)


def _sub(pattern: str, replacement: str, text: str, what: str) -> str:
    try:
        return compile_pattern(f"/{pattern}/").sub(replacement.replace("$&", r"\g<0>"), text, timeout=REGEX_TIMEOUT)
    except TimeoutError:
        raise ValueError(f"parameter 'options.{what}': regex {pattern!r} took longer than {REGEX_TIMEOUT:g} s") from None
    except ValueError as exc:
        raise ValueError(f"parameter 'options.{what}': {exc}") from None


def _pair(option: Any) -> tuple[str, str] | None:
    value = option.get("value") if isinstance(option, dict) else None
    if isinstance(value, dict) and value.get("pattern"):
        return str(value["pattern"]), str(value.get("replacement") or "")
    return None


def html_to_markdown(html: str, options: dict[str, Any]) -> str:
    """HTML as Markdown, with node-html-markdown's defaults and n8n's options."""
    from bs4 import BeautifulSoup, NavigableString
    from markdownify import MarkdownConverter

    soup = BeautifulSoup(html, "html.parser")
    for el in soup.find_all(("head", "title", "style", "script", "meta", "link", "noscript", "template")):
        el.decompose()  # what a page does not show
    nhm = options.get("layout") == "nodeHtmlMarkdown"
    for tag in comma_list(options.get("ignore")):
        for el in soup.find_all(tag):
            if not (nhm and el.name in _NHM_FIXED):
                el.decompose()
    for tag in comma_list(options.get("blockElements")):
        for el in soup.find_all(tag):
            if not (nhm and el.name in _NHM_FIXED):
                el.name = "p"
    for row in rows(options.get("textReplace"), "values"):
        if row.get("pattern"):
            for text in list(soup.find_all(string=True)):
                new = _sub(str(row["pattern"]), str(row.get("replacement") or ""), str(text), "textReplace")
                if new != text:
                    text.replace_with(NavigableString(new))
    fence = str(options.get("codeFence") or "```")
    indented = options.get("codeBlockStyle") == "indented"
    references: list[str] = []
    em, strong = str(options.get("emDelimiter") or "_"), str(options.get("strongDelimiter") or "**")
    global_escape, line_escape = _pair(options.get("globalEscape")), _pair(options.get("lineStartEscape"))

    class Converter(MarkdownConverter):
        def convert_em(self, el: Any, text: str, parent_tags: Any) -> str:
            return f"{em}{text.strip()}{em}" if text.strip() else ""

        convert_i = convert_em

        def convert_strong(self, el: Any, text: str, parent_tags: Any) -> str:
            return f"{strong}{text.strip()}{strong}" if text.strip() else ""

        convert_b = convert_strong

        def convert_pre(self, el: Any, text: str, parent_tags: Any) -> str:
            if not text:
                return ""
            body = text.strip("\n")
            if indented:
                return "\n\n" + "\n".join("    " + line for line in body.split("\n")) + "\n\n"
            return f"\n\n{fence}{self.options['code_language']}\n{body}\n{fence}\n\n"

        def convert_img(self, el: Any, text: str, parent_tags: Any) -> str:
            if str(el.attrs.get("src") or "").startswith("data:") and not options.get("keepDataImages"):
                return ""
            return super().convert_img(el, text, parent_tags)

        def convert_a(self, el: Any, text: str, parent_tags: Any) -> str:
            href = el.get("href")
            if not options.get("useLinkReferenceDefinitions") or not href or not text.strip():
                return super().convert_a(el, text, parent_tags)
            references.append(href)
            return f"[{text.strip()}][{len(references)}]"

        def escape(self, text: str, parent_tags: Any) -> str:
            if global_escape:
                return _sub(*global_escape, text, "globalEscape")
            return super().escape(text, parent_tags)

    converter = Converter(heading_style="ATX", bullets=str(options.get("bulletMarker") or "*"),
                          escape_misc=False, escape_underscores=global_escape is None,
                          escape_asterisks=global_escape is None)
    raw = converter.convert_soup(soup)
    markdown = re.sub(r"^(?:[ \t]*\n)+", "", raw).rstrip()
    if nhm and re.match(r"[ \t]+\n", raw) and markdown:
        markdown = " \n\n" + markdown  # node-html-markdown: the text before the first block, collapsed
    if line_escape:
        markdown = "\n".join(_sub(f"^(?:{line_escape[0]})", line_escape[1], line, "lineStartEscape")
                             for line in markdown.split("\n"))
    if references:
        markdown += "\n\n" + "\n".join(f"[{n}]: {href}" for n, href in enumerate(references, 1))
    most = int(options.get("maxConsecutiveNewlines") or 3)
    return re.sub("\n{" + str(most + 1) + ",}", "\n" * most, markdown)


def _showdown_id(title: str, options: dict[str, Any], seen: dict[str, int]) -> str:
    prefix = str(options.get("prefixHeaderId") or "")
    text = prefix + title
    if options.get("ghCompatibleHeaderId"):
        slug = re.sub(r"""[&+$,/:;=?@"#{}|^~\[\]`\\*)(%.!'<>]""", "", text.replace(" ", "-")).lower()
    else:
        slug = re.sub(r"[^\w]", "", text, flags=re.ASCII).lower()
    if slug in seen:
        seen[slug] += 1
        return f"{slug}-{seen[slug] - 1}"
    seen[slug] = 1
    return slug


def markdown_to_html(text: str, options: dict[str, Any]) -> str:
    """Markdown as an HTML fragment (or a whole document), following showdown's options."""
    import xml.etree.ElementTree as etree

    import markdown
    from markdown.extensions import Extension
    from markdown.inlinepatterns import InlineProcessor, SimpleTagInlineProcessor
    from markdown.treeprocessors import Treeprocessor

    seen: dict[str, int] = {}
    shift = int(options.get("headerLevelStart") or 1) - 1

    class Headings(Treeprocessor):
        def run(self, root: Any) -> None:
            for el in root.iter():
                if len(el.tag) == 2 and el.tag[0] == "h" and el.tag[1] in "123456":
                    if not options.get("noHeaderId"):
                        el.set("id", _showdown_id("".join(el.itertext()), options, seen))
                    el.tag = f"h{min(6, int(el.tag[1]) + shift)}"
                elif el.tag == "a" and options.get("openLinksInNewWindow"):
                    el.set("rel", "noopener noreferrer")
                    el.set("target", "_blank")
                elif el.tag == "li" and options.get("tasklists") and (el.text or "")[:4] in ("[ ] ", "[x] ", "[X] "):
                    box = etree.Element("input", {"type": "checkbox", "disabled": ""})
                    if el.text[1] != " ":
                        box.set("checked", "")
                    box.tail = " " + el.text[4:]
                    el.text = ""
                    el.insert(0, box)
                    el.set("class", "task-list-item")

    class Ellipsis(InlineProcessor):
        def handleMatch(self, m: Any, data: str) -> tuple[str, int, int]:
            return "\u2026", m.start(0), m.end(0)

    class BareLinks(InlineProcessor):
        def handleMatch(self, m: Any, data: str) -> tuple[Any, int, int]:
            url = m.group(1)
            if options.get("excludeTrailingPunctuationFromURLs"):
                url = url.rstrip(".!?()")
            link = etree.Element("a", {"href": f"http://{url}" if url.startswith("www.") else url})
            link.text = url
            return link, m.start(0), m.start(0) + len(url)

    class Showdown(Extension):
        def extendMarkdown(self, md: Any) -> None:
            md.treeprocessors.register(Headings(md), "showdown_headings", 1)
            md.inlinePatterns.register(Ellipsis(r"\.\.\.", md), "ellipsis", 4)  # showdown's default
            if options.get("strikethrough"):
                md.inlinePatterns.register(SimpleTagInlineProcessor(r"(~~)(.+?)~~", "del"), "del", 40)
            if options.get("simplifiedAutoLink"):
                md.inlinePatterns.register(BareLinks(r"(?<![<(\"'=])\b((?:https?://|www\.)[^\s<]+)", md), "bare", 5)

    extensions: list[Any] = [Showdown()]
    if options.get("ghCodeBlocks", True):
        extensions.append("fenced_code")
    if options.get("tables"):
        extensions.append("tables")
    if options.get("simpleLineBreaks"):
        extensions.append("nl2br")
    html = markdown.markdown(text, extensions=extensions, output_format="html")
    if options.get("completeHTMLDocument"):
        html = f'<!DOCTYPE HTML>\n<html>\n<head>\n<meta charset="utf-8">\n</head>\n<body>\n{html}\n</body>\n</html>'
    return html


def from_n8n(params: dict[str, Any], version: float) -> tuple[dict[str, Any], N8nNotes]:
    """n8n's Markdown v1 (same names). A showdown switch flowbox does not honour, turned away from its
    default, would change the HTML: unsupported."""
    p = Params(params, version)
    out = p.same(("mode", "html", "markdown", "destinationKey"),
                 collections={"options": [o.name for o in (*HTML_OPTIONS, *MD_OPTIONS)]})
    options = out.get("options", {})
    replace = options.get("textReplace")
    if isinstance(replace, dict):  # n8n's fixedCollection: {"values": [{pattern, replacement}]}
        options["textReplace"] = list(replace.get("values") or [])
    if "layout" in options:
        p.unsupported("option 'options.layout' is flowbox's, not n8n's")
    if out.get("mode", "htmlToMarkdown") == "htmlToMarkdown":
        out["options"] = options = {**options, "layout": "nodeHtmlMarkdown"}
    for name in _SHOWDOWN_FLAGS:
        if name in options and bool(options[name]) != (name == "encodeEmails"):
            p.unsupported(f"option 'options.{name}' (showdown) is not supported")
    if out.get("mode", "htmlToMarkdown") == "markdownToHtml":
        p.approximated("Markdown is rendered by Python-Markdown, not showdown: common Markdown gives the same "
                       "HTML, edge cases may differ in whitespace")
    else:
        p.approximated("HTML is converted by markdownify with node-html-markdown's defaults: common HTML gives "
                       "the same Markdown, edge cases may differ in whitespace")
    return p.done(out)


N8N = N8n(types=("n8n-nodes-base.markdown",), versions=(1,), convert=from_n8n)

@node(n8n=N8N, type="markdown", display_name="Markdown", group="transform", icon="article",
      description="Convert data between Markdown and HTML",
      params=[
          Param("mode", "options", "htmlToMarkdown", options=("markdownToHtml", "htmlToMarkdown"), required=True),
          Param("html", "string", "", required=True, show_if={"mode": ["htmlToMarkdown"]},
                description="The HTML to convert to Markdown"),
          Param("markdown", "string", "", required=True, show_if={"mode": ["markdownToHtml"]},
                description="The Markdown to convert to HTML"),
          Param("destinationKey", "string", "data", required=True,
                description="The field to put the output in; dotted paths nest (level1.level2.newKey)"),
          Param("options", "collection", {}, fields=(*HTML_OPTIONS, *MD_OPTIONS),
                description="htmlToMarkdown: node-html-markdown's options; markdownToHtml: showdown's"),
      ])
async def markdown_node(ctx: Context, items: list[Item]) -> list[list[Item]]:
    mode = ctx.param("mode")
    out: list[Item] = []
    errors = ItemErrors(ctx)
    for i, item in enumerate(items):
        try:
            options = ctx.param("options", i) or {}
            key = ctx.param("destinationKey", i)
            if mode == "htmlToMarkdown":
                result = html_to_markdown(ctx.param("html", i), options)
            else:
                result = markdown_to_html(ctx.param("markdown", i), options)
                ignored = [f for f in _SHOWDOWN_FLAGS if options.get(f) and f != "encodeEmails"]
                if ignored and i == 0:
                    ctx.log(f"showdown options without effect in flowbox: {', '.join(ignored)}")
            data = copy.deepcopy(item.json)
            set_field(data, key, result)
        except ValueError as exc:
            errors.fail(item, i, ValueError(f"item {i}: {exc}"), out)
            continue
        out.append(item.derive(data))
    return errors.outputs(out)
