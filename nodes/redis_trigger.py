"""Redis Trigger: while the workflow is active, subscribe to Redis channels (or patterns) and start one
execution per message.

The item is `{"channel", "message"}` (plus `"pattern"` for a pattern subscription); the message
is UTF-8 text (base64 when it is not UTF-8), decoded as JSON when it parses (`jsonParse`, on by
default). The connection is the redis node's (`flowbox.nodes._redis.connect`, credential `redis`).
Redis pub/sub keeps nothing: a message published while the listener is not subscribed (server
down, reconnecting after a failure) is not seen.
"""

from __future__ import annotations

import contextlib
from typing import Any

from flowbox.node import Context, Item, Param, TriggerContext, node
from flowbox.nodes._redis import as_text, connect, parse_value

WAIT = 30.0  # seconds one read waits for a message before it waits again


async def subscribe(ctx: TriggerContext) -> None:
    """Subscribe, then emit one execution per message until cancelled (a lost connection raises)."""
    channels = [c.strip() for c in ctx.param("channels").split(",") if c.strip()]
    if not channels:
        raise ctx.error("parameter 'channels' names no channel")
    pattern = ctx.param("pattern")
    parse = ctx.param("jsonParse", default=True)
    client = await connect(ctx)  # type: ignore[arg-type]
    pubsub: Any = client.pubsub(ignore_subscribe_messages=True)
    try:
        await (pubsub.psubscribe(*channels) if pattern else pubsub.subscribe(*channels))
        ctx.log(f"subscribed to {', '.join(channels)}")
        while True:
            message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=WAIT)
            if message is None or message["type"] not in ("message", "pmessage"):
                continue
            item = {"channel": as_text(message["channel"]), "message": parse_value(message["data"], parse)}
            if pattern:
                item["pattern"] = as_text(message["pattern"])
            await ctx.emit([item])
    finally:
        with contextlib.suppress(Exception):
            await pubsub.aclose()
        with contextlib.suppress(Exception):
            await client.aclose()


@node(
    type="redisTrigger", display_name="Redis Trigger", group="trigger", trigger=True, icon="database",
    description="Start the workflow for each message published on Redis channels (while active)",
    credentials=["redis"], listen=subscribe,
    params=[
        Param("channels", "string", "", required=True, placeholder="orders, news.*",
              description="Channels to subscribe to, comma-separated"),
        Param("pattern", "boolean", False,
              description="Treat the channels as glob patterns (PSUBSCRIBE), e.g. news.*"),
        Param("jsonParse", "boolean", True, description="Decode a message that is valid JSON"),
    ],
)
async def redis_trigger(ctx: Context, items: list[Item]) -> list[list[Item]]:
    return [items]
