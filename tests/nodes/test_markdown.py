"""markdown through the real engine: both directions, n8n's defaults and options, destination paths, bad input."""

from __future__ import annotations

from typing import Any

HTML = ('<h1>Title</h1><p>Some <em>em</em> and <strong>bold</strong> <a href="https://x.y">link</a></p>'
        '<ul><li>one</li><li>two</li></ul><pre><code>x = 1\n</code></pre>'
        '<img src="data:image/gif;base64,R0lG"><p>a_b</p>')


def md(**params: Any) -> dict[str, Any]:
    return {"name": "Markdown", "type": "markdown", "parameters": params}


def out(result: Any) -> list[dict[str, Any]]:
    assert result.status == "success", result.error
    return [item.json for item in result.runs["Markdown"][-1].outputs[0]]


def test_html_to_markdown_with_node_html_markdown_defaults(run_node):
    [item] = out(run_node(md(mode="htmlToMarkdown", html="{{ $json.page }}"), [{"page": HTML, "keep": 1}]))
    assert item == {"page": HTML, "keep": 1, "data": (
        "# Title\n\nSome _em_ and **bold** [link](https://x.y)\n\n* one\n* two\n\n```\nx = 1\n```\n\na\\_b")}


def test_html_to_markdown_options(run_node):
    options = {"bulletMarker": "-", "emDelimiter": "*", "strongDelimiter": "__", "codeFence": "~~~",
               "keepDataImages": True, "ignore": "h1", "useLinkReferenceDefinitions": True}
    [item] = out(run_node(md(mode="htmlToMarkdown", html=HTML, options=options)))
    assert item["data"] == ("Some *em* and __bold__ [link][1]\n\n- one\n- two\n\n~~~\nx = 1\n~~~\n\n"
                            "![](data:image/gif;base64,R0lG)\n\na\\_b\n\n[1]: https://x.y")
    indented = out(run_node(md(mode="htmlToMarkdown", html="<pre><code>a\nb</code></pre>",
                               options={"codeBlockStyle": "indented"})))
    assert indented[0]["data"] == "    a\n    b"


def test_html_text_replace_and_block_elements(run_node):
    options = {"textReplace": [{"pattern": "colou?r", "replacement": "hue"}], "blockElements": "span"}
    [item] = out(run_node(md(mode="htmlToMarkdown", html="<span>color</span><span>colour</span>", options=options)))
    assert item["data"] == "hue\n\nhue"


PAGE = "<html> <head><title>T</title></head> <body> <div> <h1>Title</h1> <p>text</p> </div> </body> </html>"


def test_html_to_markdown_layout_of_node_html_markdown(run_node):
    """n8n's converter (layout set on import): the blank text before the first block stays as ' ' and a blank
    line, and `ignore` does not reach headings; flowbox's own layout trims and ignores them."""
    [clean] = out(run_node(md(mode="htmlToMarkdown", html=PAGE, options={"ignore": "h1"})))
    assert clean["data"] == "text"
    [nhm] = out(run_node(md(mode="htmlToMarkdown", html=PAGE, options={"ignore": "h1, p",
                                                                       "layout": "nodeHtmlMarkdown"})))
    assert nhm["data"] == " \n\n# Title"
    [tight] = out(run_node(md(mode="htmlToMarkdown", html="<h1>Title</h1>", options={"layout": "nodeHtmlMarkdown"})))
    assert tight["data"] == "# Title"


def test_markdown_to_html_like_showdown(run_node):
    text = "# Hello World\n\nSome *em* and **bold**.\n\n```\ncode\n```\n\n# Hello World"
    [item] = out(run_node(md(mode="markdownToHtml", markdown=text, destinationKey="out.html")))
    assert item == {"out": {"html": (
        '<h1 id="helloworld">Hello World</h1>\n<p>Some <em>em</em> and <strong>bold</strong>.</p>\n'
        '<pre><code>code\n</code></pre>\n<h1 id="helloworld-1">Hello World</h1>')}}


def test_markdown_to_html_options(run_node):
    text = "## Hi there\n\n~~gone~~ [l](https://x.y)\nnext\n\n| a | b |\n|---|---|\n| 1 | 2 |"
    options = {"strikethrough": True, "tables": True, "openLinksInNewWindow": True, "simpleLineBreaks": True,
               "headerLevelStart": 2, "ghCompatibleHeaderId": True, "prefixHeaderId": "s-"}
    [item] = out(run_node(md(mode="markdownToHtml", markdown=text, options=options)))
    html = item["data"]
    assert html.startswith('<h3 id="s-hi-there">Hi there</h3>')
    assert '<del>gone</del> <a href="https://x.y" rel="noopener noreferrer" target="_blank">l</a><br>\nnext</p>' in html
    assert "<th>a</th>" in html and "<td>2</td>" in html
    plain = out(run_node(md(mode="markdownToHtml", markdown="# A\n\n~~x~~", options={"noHeaderId": True})))
    assert plain[0]["data"] == "<h1>A</h1>\n<p>~~x~~</p>"
    full = out(run_node(md(mode="markdownToHtml", markdown="x", options={"completeHTMLDocument": True})))
    assert full[0]["data"].startswith("<!DOCTYPE HTML>\n<html>") and "<body>\n<p>x</p>\n</body>" in full[0]["data"]


def test_a_bad_replacement_pattern_names_the_option_and_item(run_node):
    result = run_node(md(mode="htmlToMarkdown", html="<p>x</p>", options={"textReplace": [{"pattern": "(", "replacement": ""}]}))
    assert result.status == "error" and result.error["node"] == "Markdown"
    assert result.error["message"].startswith("item 0: parameter 'options.textReplace'")


def test_markdown_task_lists_and_bare_links(run_node):
    text = "- [ ] todo\n- [x] done\n\nsee https://x.y/z. or www.q.r"
    options = {"tasklists": True, "simplifiedAutoLink": True, "excludeTrailingPunctuationFromURLs": True}
    [item] = out(run_node(md(mode="markdownToHtml", markdown=text, options=options)))
    assert '<li class="task-list-item"><input disabled="" type="checkbox"> todo</li>' in item["data"]
    assert '<input checked="" disabled="" type="checkbox"> done' in item["data"]
    assert ('<p>see <a href="https://x.y/z">https://x.y/z</a>. or <a href="http://www.q.r">www.q.r</a></p>'
            in item["data"])
    [plain] = out(run_node(md(mode="markdownToHtml", markdown=text)))
    assert "<li>[ ] todo</li>" in plain["data"] and "<a" not in plain["data"]


def test_a_whole_page_round_trip_drops_the_head_and_makes_ellipses(run_node):
    page = ("<!doctype html> <html> <head> <title>My Page</title> <meta charset=\"utf-8\" /> <style> body { margin: 0; }"
            " </style> </head> <body> <div> <h1>Big Title</h1> <p>Some text.</p> <p><a href=\"https://e.com/x\">"
            "Read more...</a></p> </div> </body> </html>")
    [item] = out(run_node(md(mode="htmlToMarkdown", html=page)))
    assert item["data"] == "# Big Title\n\nSome text.\n\n[Read more...](https://e.com/x)"
    [back] = out(run_node(md(mode="markdownToHtml", markdown=item["data"])))
    assert back["data"] == ('<h1 id="bigtitle">Big Title</h1>\n<p>Some text.</p>\n'
                            '<p><a href="https://e.com/x">Read more\u2026</a></p>')
