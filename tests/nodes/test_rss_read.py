"""rssFeedRead through the real engine, fetching feeds from a real local HTTP server."""

from __future__ import annotations

import socket
from typing import Any

RSS = b"""<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/"
     xmlns:dc="http://purl.org/dc/elements/1.1/">
<channel><title>News</title><link>https://news.test/</link><description>d</description>
<item>
  <title>First &amp; foremost</title><link>https://news.test/1</link>
  <guid isPermaLink="false">id-1</guid><pubDate>Tue, 02 Jan 2024 10:30:00 GMT</pubDate>
  <dc:creator>Ada</dc:creator><category>tech</category><category>python</category>
  <description>Short &lt;b&gt;summary&lt;/b&gt;</description>
  <content:encoded><![CDATA[<p>Full <em>text</em>   here.</p>]]></content:encoded>
  <enclosure url="https://news.test/1.mp3" type="audio/mpeg" length="1234"/>
</item>
<item><title>Second</title><link>https://news.test/2</link><description>Plain</description></item>
</channel></rss>"""

ATOM = """<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom"><title>Blog</title><id>urn:blog</id>
<updated>2024-03-01T00:00:00Z</updated>
<entry><title>Ünïcode post</title><link href="https://blog.test/p"/><id>urn:p</id>
<updated>2024-03-01T08:00:00+02:00</updated><author><name>Bob</name></author>
<summary>Hello</summary></entry>
</feed>""".encode()


def rss(url: str) -> dict[str, Any]:
    return {"name": "RSS", "type": "rssFeedRead", "parameters": {"url": url}}


def entries(result: Any) -> list[dict[str, Any]]:
    assert result.status == "success", result.error
    return [item.json for item in result.runs["RSS"][-1].outputs[0]]


def test_rss_entries_in_n8n_shape(run_node, server):
    server.files["news.xml"] = ("application/rss+xml", RSS)
    first, second = entries(run_node(rss(f"{server.url}/files/news.xml")))
    assert first == {
        "title": "First & foremost", "link": "https://news.test/1", "pubDate": "Tue, 02 Jan 2024 10:30:00 GMT",
        "isoDate": "2024-01-02T10:30:00.000Z", "creator": "Ada", "content": "<p>Full <em>text</em>   here.</p>",
        "contentSnippet": "Full text here.", "summary": "Short <b>summary</b>", "guid": "id-1",
        "categories": ["tech", "python"],
        "enclosure": {"url": "https://news.test/1.mp3", "type": "audio/mpeg", "length": "1234"},
    }
    assert second == {"title": "Second", "link": "https://news.test/2", "content": "Plain", "contentSnippet": "Plain"}


def test_atom_feed_and_one_url_per_item(run_node, server):
    server.files["news.xml"] = ("application/rss+xml", RSS)
    server.files["blog.atom"] = ("application/atom+xml", ATOM)
    result = run_node(rss(f"{server.url}/files/{{{{ $json.feed }}}}"), [{"feed": "blog.atom"}, {"feed": "news.xml"}])
    found = entries(result)
    assert [e["title"] for e in found] == ["Ünïcode post", "First & foremost", "Second"]
    assert found[0]["isoDate"] == "2024-03-01T06:00:00.000Z" and found[0]["creator"] == "Bob"
    starts = result.runs["Start"][-1].outputs[0]
    assert [i.source for i in result.runs["RSS"][-1].outputs[0]] == [starts[0], starts[1], starts[1]]


def test_http_errors_and_non_feeds_name_the_item(run_node, server):
    server.files["page.html"] = ("text/html", b"<html><body><p>not a feed</p></body></html>")
    result = run_node(rss(f"{server.url}/files/{{{{ $json.f }}}}"), [{"f": "page.html"}])
    assert result.status == "error"
    assert result.error["message"].startswith(f"item 0: {server.url}/files/page.html is not an RSS or Atom feed")
    result = run_node(rss(f"{server.url}/status/404"))
    assert result.status == "error"
    assert result.error["message"] == f"item 0: GET {server.url}/status/404 failed with status 404 Not Found"


def test_connection_refused_and_bad_urls(run_node):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    result = run_node(rss(f"http://127.0.0.1:{port}/feed"))
    assert result.status == "error" and result.error["message"].startswith(f"item 0: GET http://127.0.0.1:{port}/feed")
    result = run_node(rss("file:///etc/passwd"))
    assert result.status == "error" and "must be an http(s) address" in result.error["message"]
