"""rssFeedReadTrigger against a local HTTP server whose feed changes, under a real Runtime (SQLite):
first activation emits nothing, then only new entries, across a restart with no repeats or skips."""

from __future__ import annotations

import asyncio
import http.server
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from support import Harness, serving
from trigger_support import listener_state, run_services, trigger_outputs

from flowbox.engine.runner import EngineServices, Runner
from flowbox.workflow import load_workflow


class Feed(http.server.ThreadingHTTPServer):
    """Serves `body` at /feed (any other path: 404) and counts the fetches."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), FeedHandler)
        self.body = b""
        self.content_type = "application/rss+xml"
        self.fetches = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_port}/feed"

    def rss(self, *entries: tuple[str, str | None]) -> None:
        """An RSS 2.0 feed of (guid, pubDate) entries, listed newest first as feeds do."""
        items = "".join(
            f"<item><title>Post {guid}</title><link>https://blog.example/{guid}</link><guid>{guid}</guid>"
            + (f"<pubDate>{date}</pubDate>" if date else "")
            + f"<description>&lt;p&gt;About {guid}&lt;/p&gt;</description></item>"
            for guid, date in entries)
        self.body = (f'<?xml version="1.0"?><rss version="2.0"><channel><title>Blog</title>'
                     f"<link>https://blog.example/</link>{items}</channel></rss>").encode()


class FeedHandler(http.server.BaseHTTPRequestHandler):
    server: Feed

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        found = self.path == "/feed"
        body = self.server.body if found else b"no such page"
        if found:
            self.server.fetches += 1
        self.send_response(200 if found else 404)
        self.send_header("Content-Type", self.server.content_type if found else "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def feed() -> Iterator[Feed]:
    with serving(Feed()) as srv:
        yield srv


def rss_workflow(url: str) -> dict[str, Any]:
    return {"name": "feed", "settings": {"timezone": "UTC"}, "connections": {},
            "nodes": [{"name": "T", "type": "rssFeedReadTrigger", "position": [0, 0],
                       "parameters": {"feedUrl": url, "every": 0.1}}]}


MON = "Mon, 03 Mar 2025 10:00:00 GMT"
TUE = "Tue, 04 Mar 2025 10:00:00 GMT"
WED = "Wed, 05 Mar 2025 10:00:00 GMT"


def guids(run: list[dict[str, Any]]) -> list[str]:
    return [item["guid"] for item in run]


def test_only_new_entries_start_executions_across_a_restart(tmp_path: Path, feed: Feed) -> None:
    feed.rss(("b", TUE), ("a", MON))
    data_dir = tmp_path / "data"
    ids: list[str] = []

    async def first(services: Harness) -> None:
        record = await services.create_workflow(rss_workflow(feed.url))
        ids.append(record.id)
        await services.activate(record.id)
        await listener_state(services, record.id, lambda s: feed.fetches >= 3)  # polled, and polled again
        assert (await services.list_executions(workflow_id=record.id)).data == []  # activation emits nothing
        saved = await services.store.get_static_data(record.id, "T")
        assert saved == {"lastDate": "2025-03-04T10:00:00Z", "seen": ["b", "a"]}

        feed.rss(("c", WED), ("b", TUE), ("a", MON))
        [run] = await trigger_outputs(services, record.id, 1)
        assert run == [{"title": "Post c", "link": "https://blog.example/c", "guid": "c", "pubDate": WED,
                        "isoDate": "2025-03-05T10:00:00Z", "creator": None, "content": "<p>About c</p>",
                        "contentSnippet": "About c", "categories": []}]
        # two more: one dated like the newest seen, one without a date; and "a" drops off the feed
        feed.rss(("e", None), ("d", WED), ("c", WED), ("b", TUE))
        runs = await trigger_outputs(services, record.id, 2)
        assert guids(runs[1]) == ["e", "d"]  # undated first, then by date (oldest first)

    run_services(data_dir, first)
    # while the server is down: one new entry, and an old one ("a", older than the cursor) comes back
    feed.rss(("f", "Thu, 06 Mar 2025 10:00:00 GMT"), ("e", None), ("d", WED), ("c", WED), ("a", MON))

    async def second(services: Harness) -> None:
        (wid,) = ids
        runs = await trigger_outputs(services, wid, 3)
        assert [guids(r) for r in runs] == [["c"], ["e", "d"], ["f"]]
        fetched = feed.fetches
        await listener_state(services, wid, lambda s: feed.fetches >= fetched + 2)
        assert len((await services.list_executions(workflow_id=wid)).data) == 3

    run_services(data_dir, second)


def test_a_feed_that_fails_is_retried_and_logged(tmp_path: Path, feed: Feed) -> None:
    async def body(services: Harness) -> None:
        record = await services.create_workflow(rss_workflow(feed.url.replace("/feed", "/gone")))
        await services.activate(record.id)
        state = await listener_state(services, record.id, lambda s: s["restarts"] >= 1)
        assert state["lastError"] == f"the feed {feed.url.replace('/feed', '/gone')} answered 404 Not Found"

    run_services(tmp_path / "data", body)


def run_alone(url: str) -> Any:
    """A manual run of a workflow that is just the trigger (no input items)."""

    async def go() -> Any:
        services = EngineServices()
        try:
            return await Runner(load_workflow(rss_workflow(url)), services=services).run([])
        finally:
            await services.close()

    return asyncio.run(go())


def test_manual_run_outputs_the_latest_atom_entry(feed: Feed) -> None:
    feed.content_type = "application/atom+xml"
    feed.body = b"""<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom"><title>Atom blog</title><id>urn:blog</id>
<updated>2025-03-05T10:00:00Z</updated>
<entry><title>Newest</title><id>urn:post:2</id><link href="https://blog.example/2"/>
  <published>2025-03-05T10:00:00+01:00</published><updated>2025-03-05T10:00:00+01:00</updated>
  <author><name>Ann</name></author><category term="news"/><category term="flowbox"/>
  <summary>Short &amp; sweet</summary><content type="html">&lt;p&gt;Full &lt;b&gt;text&lt;/b&gt;&lt;/p&gt;</content></entry>
<entry><title>Older</title><id>urn:post:1</id><link href="https://blog.example/1"/>
  <updated>2025-03-01T10:00:00Z</updated></entry>
</feed>"""
    result = run_alone(feed.url)
    assert result.status == "success", result.error
    [item] = [i.json for i in result.runs["T"][0].outputs[0]]
    assert item == {"title": "Newest", "link": "https://blog.example/2", "guid": "urn:post:2",
                    "pubDate": "2025-03-05T10:00:00+01:00", "isoDate": "2025-03-05T09:00:00Z", "creator": "Ann",
                    "content": "<p>Full <b>text</b></p>", "contentSnippet": "Short & sweet",
                    "categories": ["news", "flowbox"]}


def test_bad_urls_and_non_feeds_are_clear_errors(feed: Feed) -> None:
    feed.content_type = "text/plain"
    feed.body = b"just some text, no feed here"
    result = run_alone(feed.url)
    assert result.status == "error" and result.error["message"].startswith(f"{feed.url} is not an RSS or Atom feed")
    assert "must be an http:// or https:// URL" in run_alone("ftp://example.com/feed").error["message"]
