"""RSS Feed Trigger: while the workflow is active, poll an RSS or Atom feed and start one execution
with the entries that are new since the last check (oldest first).

The feed is fetched with the shared HTTP client and parsed by feedparser. The cursor, in the
node's static data, is the newest entry date seen (`lastDate`) and the ids (guid, else link)
of the entries seen lately: an entry is new when its id was not seen and it is not older than
`lastDate`. As in n8n, the first check after the node starts listening emits nothing, it only
records where the feed is; a manual run (no input) outputs the feed's first (latest) entry.

Each item is shaped like n8n's: `title`, `link`, `guid`, `pubDate`, `isoDate`, `creator`,
`content`, `contentSnippet`, `categories`.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import html
import re
from typing import Any

from flowbox.node import POLL_SECONDS, Context, Item, Param, TriggerContext, node, polling

MAX_SEEN = 500
TIMEOUT = 30.0
ACCEPT = "application/rss+xml, application/atom+xml, application/xml;q=0.9, text/xml;q=0.9, */*;q=0.5"


async def read_feed(ctx: Context | TriggerContext) -> list[Any]:
    """The entries of the feed at `feedUrl`, in feed order; a clear node error when it cannot be read."""
    import feedparser

    url = ctx.param("feedUrl").strip()
    if not re.match(r"https?://", url):
        raise ctx.error(f"parameter 'feedUrl' must be an http:// or https:// URL, got {url!r}")
    try:
        response = await ctx.http.get(url, headers={"Accept": ACCEPT}, timeout=TIMEOUT)
    except Exception as exc:  # noqa: BLE001 - any transport failure, in words
        raise ctx.error(f"cannot fetch the feed {url}: {type(exc).__name__}: {exc}") from None
    if response.status_code >= 400:
        raise ctx.error(f"the feed {url} answered {response.status_code} {response.reason_phrase}")
    parsed = await asyncio.to_thread(feedparser.parse, response.content)
    if parsed.bozo and not parsed.entries and not parsed.feed:
        raise ctx.error(f"{url} is not an RSS or Atom feed: {parsed.get('bozo_exception')}")
    return list(parsed.entries)


def entry_id(entry: Any) -> str:
    return str(entry.get("id") or entry.get("link") or entry.get("title") or "")


def entry_date(entry: Any) -> str | None:
    """The entry's published (else updated) time as UTC ISO 8601 with Z, or None."""
    moment = entry.get("published_parsed") or entry.get("updated_parsed")
    if not moment:
        return None
    return dt.datetime(*moment[:6], tzinfo=dt.UTC).isoformat().replace("+00:00", "Z")


def entry_json(entry: Any) -> dict[str, Any]:
    """An entry as an n8n-shaped item."""
    contents = entry.get("content") or []
    content = contents[0].get("value") if contents else entry.get("summary")
    snippet = html.unescape(re.sub(r"<[^>]+>", "", entry.get("summary") or content or "")).strip()
    return {"title": entry.get("title"), "link": entry.get("link"), "guid": entry.get("id"),
            "pubDate": entry.get("published") or entry.get("updated"), "isoDate": entry_date(entry),
            "creator": entry.get("author"), "content": content, "contentSnippet": snippet,
            "categories": [t.get("term") for t in entry.get("tags") or [] if t.get("term")]}


async def new_entries(ctx: TriggerContext) -> list[Item]:
    """The entries not seen before, oldest first; moves the cursor in `ctx.static`."""
    entries = await read_feed(ctx)
    ids = [entry_id(e) for e in entries]
    dates = [d for d in map(entry_date, entries) if d]
    static = ctx.static
    first = "seen" not in static
    last = static.get("lastDate")
    seen = set(static.get("seen") or ())
    fresh = [e for e, i in zip(entries, ids, strict=True)
             if i not in seen and (last is None or (entry_date(e) or last) >= last)]
    static["lastDate"] = max([d for d in (last, *dates) if d], default=None)
    static["seen"] = list(dict.fromkeys([*ids, *(static.get("seen") or ())]))[:MAX_SEEN]
    if first:  # as n8n: activation only records where the feed is
        return []
    fresh.reverse()  # feeds list newest first
    fresh.sort(key=lambda e: entry_date(e) or "")
    return [Item(entry_json(e)) for e in fresh]


@node(
    type="rssFeedReadTrigger", display_name="RSS Feed Trigger", group="trigger", trigger=True, icon="rss",
    description="Start the workflow when an RSS or Atom feed has new entries (polls while active)",
    listen=polling(new_entries),
    params=[
        Param("feedUrl", "string", "", required=True, placeholder="https://example.com/feed.xml"),
        POLL_SECONDS,
    ],
)
async def rss_feed_read_trigger(ctx: Context, items: list[Item]) -> list[list[Item]]:
    if items:
        return [items]
    entries = await read_feed(ctx)
    return [[Item(entry_json(entries[0]))] if entries else []]
