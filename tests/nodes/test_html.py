"""html (extractHtmlContent) through the real engine."""

from __future__ import annotations

from typing import Any

import pytest

from flowbox.errors import WorkflowInvalid
from flowbox.node import make_binary

PAGE = """<html><head><title> Shop </title></head><body>
<h1 class="big title">Today's   offers</h1>
<ul id="list">
  <li><a href="/a">Apple</a> <span class="price">1.20</span></li>
  <li><a href="/b">Bread</a> <span class="price">2.50</span></li>
</ul>
<div id="intro"><p>First
   paragraph.</p><p>Second <b>bold</b> one.</p></div>
<form><input name="q" value=" cheese "><textarea name="t">Some text</textarea>
<select name="s"><option value="1">One</option><option value="2" selected>Two</option></select></form>
</body></html>"""


def extract(*rows: dict[str, Any], **params: Any) -> dict[str, Any]:
    return {"name": "HTML", "type": "html", "parameters": {"extractionValues": list(rows), **params}}


def out(result: Any) -> list[dict[str, Any]]:
    assert result.status == "success", result.error
    return [item.json for item in result.runs["HTML"][-1].outputs[0]]


def test_extract_text_html_attributes_and_arrays(run_node):
    node = extract(
        {"key": "title", "cssSelector": "title"},
        {"key": "heading", "cssSelector": "h1"},
        {"key": "names", "cssSelector": "#list a", "returnArray": True},
        {"key": "links", "cssSelector": "#list a", "returnValue": "attribute", "attribute": "href",
         "returnArray": True},
        {"key": "prices.first", "cssSelector": ".price"},
        {"key": "intro", "cssSelector": "#intro"},
        {"key": "introHtml", "cssSelector": "#intro p:last-child", "returnValue": "html"},
        {"key": "classes", "cssSelector": "h1", "returnValue": "attribute", "attribute": "class"},
        {"key": "missing", "cssSelector": ".nope"},
        {"key": "missingAll", "cssSelector": ".nope", "returnArray": True},
    )
    [found] = out(run_node(node, [{"data": PAGE, "other": 1}]))
    assert found == {
        "title": "Shop", "heading": "Today's offers", "names": ["Apple", "Bread"], "links": ["/a", "/b"],
        "prices": {"first": "1.20"}, "intro": "First paragraph. Second bold one.",
        "introHtml": "Second <b>bold</b> one.", "classes": "big title", "missing": None, "missingAll": [],
    }


def test_form_values(run_node):
    node = extract({"key": "q", "cssSelector": "input[name=q]", "returnValue": "value"},
                   {"key": "t", "cssSelector": "textarea", "returnValue": "value"},
                   {"key": "s", "cssSelector": "select", "returnValue": "value"})
    assert out(run_node(node, [{"data": PAGE}])) == [{"q": "cheese", "t": "Some text", "s": "2"}]


def test_raw_text_without_cleanup_or_trim(run_node):
    node = extract({"key": "h", "cssSelector": "h1"}, {"key": "p", "cssSelector": "#intro p"},
                   cleanUpText=False, trimValues=False)
    assert out(run_node(node, [{"data": PAGE}])) == [{"h": "Today's   offers", "p": "First\n   paragraph."}]


def test_from_binary_detects_the_encoding(run_node):
    page = '<html><head><meta charset="iso-8859-1"></head><body><p class="x">Crème brûlée</p></body></html>'
    item = {"json": {}, "binary": {"page": make_binary(page.encode("latin-1"), "p.html")}}
    node = extract({"key": "dessert", "cssSelector": "p.x"}, sourceData="binary", dataPropertyName="page")
    assert out(run_node(node, [item])) == [{"dessert": "Crème brûlée"}]


def test_one_output_item_per_input_item(run_node):
    node = extract({"key": "p", "cssSelector": "p"}, dataPropertyName="body")
    assert out(run_node(node, [{"body": "<p>a</p>"}, {"body": "<p>b</p>"}])) == [{"p": "a"}, {"p": "b"}]


def test_bad_inputs_name_the_item(run_node):
    node = extract({"key": "p", "cssSelector": "p"})
    result = run_node(node, [{"data": "<p>ok</p>"}, {"data": 5}])
    assert result.status == "error"
    assert result.error["message"].startswith("item 1: field 'data' must hold HTML text, got int")
    result = run_node(extract({"key": "p", "cssSelector": "p[unclosed"}), [{"data": "<p/>"}])
    assert result.status == "error" and "item 0: key 'p': invalid CSS selector 'p[unclosed'" in result.error["message"]
    every = run_node(extract({"key": "a", "cssSelector": "a", "returnValue": "attribute"}),
                     [{"data": '<a href="/x" class="b c" data-n="1">x</a>'}])
    assert out(every) == [{"a": {"href": "/x", "class": "b c", "data-n": "1"}}]  # no name: every attribute
    with pytest.raises(WorkflowInvalid, match=r"extractionValues\[0\]\.key' is required"):
        run_node(extract({"cssSelector": "a"}), [{"data": "<p/>"}])


def test_a_template_per_item_and_one_table_of_all_items(run_node):
    page = run_node({"name": "HTML", "type": "html", "parameters": {
        "operation": "generateHtmlTemplate", "html": "<p>Hello {{ $json.name }}</p>"}}, [{"name": "Ann"}, {"name": "Bo"}])
    assert [item.json for item in page.runs["HTML"][-1].outputs[0]] == [{"html": "<p>Hello Ann</p>"},
                                                                        {"html": "<p>Hello Bo</p>"}]
    table = run_node({"name": "HTML", "type": "html", "parameters": {
        "operation": "convertToHtmlTable", "customStyling": True, "capitalize": True, "caption": "People",
        "tableAttributes": 'class="t"'}}, [{"first_name": "<Ann>", "ok": True}, {"first_name": "Bo", "age": 3}])
    out = [item.json for item in table.runs["HTML"][-1].outputs[0]]
    assert out == [{"table": '<table class="t"><caption>People</caption><thead><tr><th>First Name</th><th>Ok</th>'
                             '<th>Age</th></tr></thead><tbody><tr><td>&lt;Ann&gt;</td><td><input type="checkbox" '
                             'checked="checked"/></td><td></td></tr><tr><td>Bo</td><td></td><td>3</td></tr>'
                             '</tbody></table>'}]


def test_n8n_html_and_html_extract_nodes_import_and_run(tmp_path, capsys):
    from n8n_support import n8n_node, n8n_workflow, outputs, run_json

    data = n8n_workflow(
        n8n_node("Start", "manualTrigger"),
        n8n_node("Page", "set", 3.4, {"assignments": {"assignments": [
            {"id": "1", "name": "data", "value": "<ul><li> a </li><li>b</li></ul><a href='/x'>x</a>", "type": "string"},
            {"id": "2", "name": "who", "value": "Ann", "type": "string"}]}}),
        n8n_node("Extract", "html", 1.2, {"operation": "extractHtmlContent", "extractionValues": {"values": [
            {"key": "items", "cssSelector": "li", "returnArray": True},
            {"key": "link", "cssSelector": "a", "returnValue": "attribute", "attribute": "href"}]}}),
        n8n_node("Legacy", "htmlExtract", 1, {"extractionValues": {"values": [
            {"key": "first", "cssSelector": "li"}]}}),
        connections={"Start": {"main": [[{"node": "Page", "type": "main", "index": 0}]]},
                     "Page": {"main": [[{"node": "Extract", "type": "main", "index": 0},
                                        {"node": "Legacy", "type": "main", "index": 0},
                                        {"node": "Template", "type": "main", "index": 0}]]}})
    data["nodes"].append(n8n_node("Template", "html", 1.2, {"html": "<b>{{ $json.who.toUpperCase() }}</b>"}))
    result = run_json(capsys, tmp_path, data)
    assert outputs(result, "Extract")[0] == {"items": ["a", "b"], "link": "/x"}
    assert outputs(result, "Legacy")[0] == {"first": "a"}
    assert outputs(result, "Template")[0] == {"html": "<b>ANN</b>"}


def test_skip_selectors_leave_their_text_out_and_the_page_whole(run_node):
    result = run_node(extract({"key": "list", "cssSelector": "#list", "skipSelectors": "span.price, .none"},
                              {"key": "prices", "cssSelector": ".price", "returnArray": True}), [{"data": PAGE}])
    assert out(result) == [{"list": "Apple Bread", "prices": ["1.20", "2.50"]}]


def test_html_to_text_lays_out_blocks_links_images_and_lists(run_node):
    """textFormat htmlToText (n8n's HTML v1.2): only the body, a blank line around paragraphs, headings and
    lists, headings in capitals, `text [href]`, `alt [src]`, list prefixes, <br> line breaks, 80-column lines."""
    node = extract({"key": "all", "cssSelector": "html"}, {"key": "bare", "cssSelector": "html", "skipSelectors": "a, ul"},
                   textFormat="htmlToText", trimValues=False, cleanUpText=False)
    words = " ".join(f"word{n}" for n in range(20))
    page = (f'<html><head><title>Hidden</title></head><body>\n<h2>Shop   news</h2>\n<p>Line one<br>line two</p>'
            f'<ul><li>Apple</li><li>Bread</li></ul><ol><li>first</li><li>second</li></ol>'
            f'<p>See <a href="https://shop.test/offers">offers</a> and <img src="/logo.png" alt="our logo"></p>'
            f'<div><p>{words}</p></div></body></html>')
    [found] = out(run_node(node, [{"data": page}]))
    assert found["all"] == ("SHOP NEWS\n\nLine one\nline two\n\n * Apple\n * Bread\n\n1. first\n2. second\n\n"
                            "See offers [https://shop.test/offers] and our logo [/logo.png]\n\n"
                            + " ".join(f"word{n}" for n in range(13)) + "\n"
                            + " ".join(f"word{n}" for n in range(13, 20)))
    assert found["bare"].startswith("SHOP NEWS\n\nLine one\nline two\n\n1. first")
    assert "offers" not in found["bare"]


def test_inner_html_keeps_the_pages_whitespace_and_attribute_order(run_node):
    node = extract({"key": "inner", "cssSelector": "div", "returnValue": "html"}, trimValues=False)
    page = '<div>\n\t<img src="/a.png" alt="A" />\r\n\t<p class="x" id="y">t</p>\n</div>'
    assert out(run_node(node, [{"data": page}])) == [{"inner": '\n\t<img src="/a.png" alt="A">\n\t'
                                                               '<p class="x" id="y">t</p>\n'}]
