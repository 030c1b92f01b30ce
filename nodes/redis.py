"""Redis: get, set (with a TTL), delete, incr, push, pop, publish and list keys, one command per item.

One connection per node run (redis.asyncio), checked with PING first so a server that does
not answer is one node error naming host:port. Values written are text as given; any other
JSON value (number, object, list, true) is written as JSON text. Values read are decoded as
UTF-8 (bytes that are not UTF-8 come as base64 text) and, with `jsonDecode` (on by default),
parsed when they are valid JSON ("42" -> 42, '{"a":1}' -> an object). `get` reads a string,
a hash (an object), a list, a set (sorted) or a sorted set (member -> score) by the key's type.
`connect()` is what a Redis trigger opens its connection with. The credential type has no
test request (credential tests are HTTP requests).
"""

from __future__ import annotations

import json
from typing import Any

from flowbox.errors import describe
from flowbox.node import Context, Item, ItemErrors, N8n, N8nNotes, Param, node, set_path
from flowbox.nodes._db import QueryFailed
from flowbox.nodes._n8n import Params, is_expression
from flowbox.nodes._redis import as_text, connect, parse_value

OPERATIONS = ("get", "set", "delete", "incr", "push", "pop", "publish", "keys")
KEYED = ["get", "set", "delete", "incr", "push", "pop"]
SCAN_COUNT = 500


def from_n8n(params: dict[str, Any], version: float) -> tuple[dict[str, Any], N8nNotes]:
    """n8n's Redis v1: get (`propertyName`, the text as stored), set (`expire` + `ttl`), delete, incr (by 1,
    the item `{<key>: value}`), push/pop (`list`, `messageData`, `tail`; pop parses JSON), publish
    (`channel`, `messageData`). get, incr and pop output only the value, as n8n does. info, keys (n8n puts
    every key in one item), a forced keyType other than the key's own and dotNotation off are not supported."""
    p = Params(params, version)
    operation = p.take("operation", "info")
    out: dict[str, Any] = {"operation": operation}
    key_type = p.take("keyType", "automatic")
    if operation in ("get", "set") and key_type != "automatic":
        p.unsupported(f"keyType {key_type!r} is not supported (flowbox reads and writes by the value)")
    if p.options("options", ("dotNotation",)).get("dotNotation") is False:
        p.unsupported("option 'options.dotNotation' off is not supported")
    if operation in ("get", "set", "delete", "incr"):
        out["key"] = p.take("key", "")
    if operation == "get":
        out.update(propertyName=p.take("propertyName", "propertyName"), jsonDecode=False, includeInput=False)
    elif operation in ("set", "incr"):
        if operation == "set":
            out["value"] = p.take("value", "")
            if is_expression(out["value"]):
                p.approximated("a value that is no text is written as JSON text (n8n writes an object as a hash, "
                               "a list as a list)")
        ttl = p.take("ttl", 60)
        out["ttl"] = ttl if p.take("expire", False) else 0
        if operation == "incr":
            if is_expression(out["key"]) or "." in str(out["key"]):
                p.approximated("the output field is the key's name read as a path (a dotted key nests)")
            out.update(incrBy=1, propertyName=out["key"], includeInput=False)
    elif operation in ("push", "pop"):
        out.update(key=p.take("list", ""), side="right" if p.take("tail", False) else "left")
        if operation == "push":
            out["value"] = p.take("messageData", "")
        else:
            out.update(propertyName=p.take("propertyName", "propertyName"), jsonDecode=True, includeInput=False)
    elif operation == "publish":
        out.update(channel=p.take("channel", ""), value=p.take("messageData", ""))
    elif operation != "delete":
        p.unsupported(f"operation {operation!r} is not supported")
        p.ignore("keyPattern", "getValues")
    return p.done(out)


N8N = N8n(types=("n8n-nodes-base.redis",), versions=(1,), convert=from_n8n)


@node(
    n8n=N8N,
    type="redis", display_name="Redis", group="integration", icon="database",
    description="Get, set, delete, increment, push, pop and publish values in Redis",
    credentials=["redis"],
    params=[
        Param("operation", "options", default="get", required=True, options=OPERATIONS),
        Param("key", "string", default="", required=True, show_if={"operation": KEYED}),
        Param("value", "string", default="", show_if={"operation": ["set", "push", "publish"]},
              description="Text is written as is; any other value (an expression giving a number, an object, "
                          "a list) as JSON"),
        Param("ttl", "number", default=0, min=0, integer=True, show_if={"operation": ["set", "incr"]},
              description="Seconds until the key expires (0: it does not)"),
        Param("incrBy", "number", default=1, show_if={"operation": ["incr"]},
              description="The amount to add (negative subtracts; a fraction uses INCRBYFLOAT)"),
        Param("side", "options", default="left", options=("left", "right"), show_if={"operation": ["push", "pop"]},
              description="The end of the list: LPUSH/LPOP or RPUSH/RPOP"),
        Param("channel", "string", default="", required=True, show_if={"operation": ["publish"]}),
        Param("pattern", "string", default="*", show_if={"operation": ["keys"]},
              description="Glob pattern of the keys (read with SCAN, not KEYS): one output item per key"),
        Param("getValues", "boolean", default=True, show_if={"operation": ["keys"]},
              description="Read each key's value too"),
        Param("propertyName", "string", default="value", show_if={"operation": ["get", "incr", "pop"]},
              description="The output field that receives the value (a dotted path nests)"),
        Param("includeInput", "boolean", default=True, show_if={"operation": ["get", "incr", "pop"]},
              description="Keep the input item's fields next to the value (off: the item holds only the value, "
                          "as n8n's Redis node outputs it)"),
        Param("jsonDecode", "boolean", default=True, show_if={"operation": ["get", "pop", "keys"]},
              description="Parse values that are valid JSON; off: values stay text"),
    ],
)
async def redis_node(ctx: Context, items: list[Item]) -> list[list[Item]]:
    """Run the operation once per item; a failing item follows the node's onError setting."""
    from redis.exceptions import RedisError

    client = await connect(ctx)
    out: list[Item] = []
    errors = ItemErrors(ctx)
    try:
        for i, item in enumerate(items):
            try:
                out.extend(await _run(ctx, client, i, item))
            except Exception as exc:  # one item failing follows onError; the others still run
                text = str(exc) if isinstance(exc, RedisError) and str(exc) else describe(exc)
                errors.fail(item, i, QueryFailed(f"item {i}: {text}"), out)
    finally:
        await client.aclose()
    return errors.outputs(out)


async def _run(ctx: Context, client: Any, i: int, item: Item) -> list[Item]:
    operation = ctx.param("operation", i) or ""
    if operation not in OPERATIONS:
        raise QueryFailed(f"parameter 'operation' must be one of {', '.join(OPERATIONS)}, got {operation!r}")
    decode = ctx.param("jsonDecode", i, True)
    if operation == "keys":
        return await _keys(ctx, client, i, item, decode)
    if operation == "publish":
        channel = ctx.param("channel", i)
        if not channel:
            raise QueryFailed("parameter 'channel' is empty")
        await client.publish(channel, _encode(ctx.param("value", i)))
        return [item]
    key = ctx.param("key", i)
    if not key:
        raise QueryFailed("parameter 'key' is empty")
    left = ctx.param("side", i) != "right"
    if operation == "get":
        value: Any = await _read(client, key, decode)
    elif operation == "set":
        ttl = _seconds(ctx.param("ttl", i))
        await client.set(key, _encode(ctx.param("value", i)), ex=ttl or None)
        return [item]
    elif operation == "delete":
        await client.delete(key)
        return [item]
    elif operation == "incr":
        value = await _incr(client, key, ctx.param("incrBy", i, 1))
        ttl = _seconds(ctx.param("ttl", i))
        if ttl:
            await client.expire(key, ttl)
    elif operation == "push":
        push = client.lpush if left else client.rpush
        await push(key, _encode(ctx.param("value", i)))
        return [item]
    else:
        raw = await (client.lpop(key) if left else client.rpop(key))
        value = None if raw is None else parse_value(raw, decode)
    name = ctx.param("propertyName", i)
    base = item.json if ctx.param("includeInput", i, True) else {}
    return [item.derive(set_path(base, name, value))]


async def _incr(client: Any, key: str, by: Any) -> int | float:
    try:
        amount = float(by)
    except (TypeError, ValueError):
        raise QueryFailed(f"parameter 'incrBy' must be a number, got {by!r}") from None
    if amount.is_integer():
        return int(await client.incrby(key, int(amount)))
    return float(await client.incrbyfloat(key, amount))


async def _keys(ctx: Context, client: Any, i: int, item: Item, decode: bool) -> list[Item]:
    pattern = ctx.param("pattern", i)
    keys = sorted({as_text(k) async for k in client.scan_iter(match=pattern, count=SCAN_COUNT)})
    if not ctx.param("getValues", i, True):
        return [Item({"key": k}, None, item) for k in keys]
    return [Item({"key": k, "value": await _read(client, k, decode)}, None, item) for k in keys]


async def _read(client: Any, key: str, decode: bool) -> Any:
    """The key's value by its type (None when missing)."""
    kind = as_text(await client.type(key))
    if kind == "none":
        return None
    if kind == "string":
        return parse_value(await client.get(key), decode)
    if kind == "hash":
        return {as_text(k): parse_value(v, decode) for k, v in (await client.hgetall(key)).items()}
    if kind == "list":
        return [parse_value(v, decode) for v in await client.lrange(key, 0, -1)]
    if kind == "set":
        return sorted((parse_value(v, decode) for v in await client.smembers(key)), key=str)
    if kind == "zset":
        return {as_text(m): score for m, score in await client.zrange(key, 0, -1, withscores=True)}
    raise QueryFailed(f"key {key!r} holds a {kind}, which get cannot read")


def _seconds(value: Any) -> int:
    try:
        seconds = float(value or 0)
    except (TypeError, ValueError):
        raise QueryFailed(f"parameter 'ttl' must be a number of seconds, got {value!r}") from None
    if seconds < 0:
        raise QueryFailed(f"parameter 'ttl' must be 0 or more, got {value!r}")
    return int(seconds + 0.999)


def _encode(value: Any) -> str:
    if value is None:
        return ""
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
