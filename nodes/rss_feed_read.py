"""RSS Read: fetch an RSS or Atom feed (the shared HTTP client) and output one item per entry (feedparser).

Entries take the shape n8n users know: title, link, pubDate, isoDate, creator,
content, contentSnippet (the text without markup), guid, categories, enclosure;
fields the feed does not have are left out.
"""

from __future__ import annotations

import calendar
import datetime as dt
import io
import re
from typing import Any

from flowbox.node import Context, Item, ItemErrors, N8n, N8nNotes, Param, node
from flowbox.nodes._n8n import Params

TIMEOUT = 60.0


def from_n8n(params: dict[str, Any], version: float) -> tuple[dict[str, Any], N8nNotes]:
    """n8n's RSS Read v1-v1.2: `url`; `options.ignoreSSL` and `options.customFields` are not supported."""
    p = Params(params, version)
    options = p.options("options", ("ignoreSSL", "customFields"))
    for name in ("ignoreSSL", "customFields"):
        if options.get(name):
            p.unsupported(f"option 'options.{name}' is not supported")
    if version < 1.1:
        p.approximated("RSS Read v1 reads the feed once (the first item's URL); flowbox reads it for every input "
                       "item, the same output when one item comes in")
    p.approximated("entries are read by feedparser into rss-parser's field names; a field only one of them knows "
                   "may differ")
    return p.done({"url": p.take("url", "")})


N8N = N8n(types=("n8n-nodes-base.rssFeedRead",), versions=(1, 1.1, 1.2), convert=from_n8n)


@node(
    n8n=N8N,
    type="rssFeedRead", display_name="RSS Read", group="integration", icon="rss",
    description="Read the entries of an RSS or Atom feed",
    params=[Param("url", "string", default="", required=True, placeholder="https://example.com/feed.xml",
                  description="Address of the feed")],
)
async def rss_feed_read(ctx: Context, items: list[Item]) -> list[list[Item]]:
    """One output item per feed entry, for every input item's URL."""
    errors = ItemErrors(ctx)
    out: list[Item] = []
    for i, item in enumerate(items):
        url = ctx.param("url", i).strip()
        try:
            out.extend(Item(entry, None, item) for entry in await read_feed(ctx, url))
        except ValueError as exc:
            errors.fail(item, i, ValueError(f"item {i}: {exc}"), out)
    return errors.outputs(out)


async def read_feed(ctx: Context, url: str) -> list[dict[str, Any]]:
    """The entries of the feed at `url`; ValueError saying what went wrong."""
    import feedparser
    import httpx

    if not url:
        raise ValueError("parameter 'url' is empty")
    if not url.lower().startswith(("http://", "https://")):
        raise ValueError(f"parameter 'url' must be an http(s) address, got {url!r}")
    try:
        response = await ctx.http.get(url, timeout=TIMEOUT)
    except httpx.TimeoutException:
        raise ValueError(f"GET {url}: no response within {TIMEOUT:g} s") from None
    except httpx.HTTPError as exc:
        raise ValueError(f"GET {url}: {exc or type(exc).__name__}") from None
    if response.status_code >= 400:
        raise ValueError(f"GET {url} failed with status {response.status_code} {response.reason_phrase}")
    feed = feedparser.parse(io.BytesIO(response.content),
                            response_headers={"content-type": response.headers.get("content-type", "")})
    if not feed.entries and (feed.bozo or not feed.version):
        reason = feed.get("bozo_exception") or "no RSS or Atom document found"
        raise ValueError(f"{url} is not an RSS or Atom feed: {reason}")
    return [entry_json(e) for e in feed.entries]


def entry_json(entry: Any) -> dict[str, Any]:
    """One feedparser entry in n8n's RSS Read shape."""
    content = entry.get("content")
    html = content[0].get("value") if content else entry.get("summary")
    stamp = entry.get("published_parsed") or entry.get("updated_parsed")
    enclosures = entry.get("enclosures") or []
    out = {
        "title": entry.get("title"),
        "link": entry.get("link"),
        "pubDate": entry.get("published") or entry.get("updated"),
        "isoDate": _iso(stamp),
        "creator": entry.get("author"),
        "content": html,
        "contentSnippet": _text(html) if html else None,
        "summary": entry.get("summary") if content else None,
        "guid": entry.get("id"),
        "categories": [t.get("term") for t in entry.get("tags") or [] if t.get("term")] or None,
        "enclosure": {k: enclosures[0].get(k) for k in ("url", "type", "length") if enclosures[0].get(k)}
        if enclosures else None,
    }
    return {k: v for k, v in out.items() if v not in (None, "")}


def _iso(stamp: Any) -> str | None:
    if not stamp:
        return None
    moment = dt.datetime.fromtimestamp(calendar.timegm(stamp), dt.UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _text(html: str) -> str:
    from bs4 import BeautifulSoup

    return re.sub(r"\s+", " ", BeautifulSoup(html, "html.parser").get_text(" ")).strip()
