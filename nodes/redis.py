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

import base64
import json
from typing import Any

from flowbox.credentials import CredentialField, CredentialType, register
from flowbox.errors import describe
from flowbox.node import Context, Item, ItemErrors, Param, node, set_path
from flowbox.nodes._db import CONNECT_TIMEOUT, QueryFailed, connect_failed, need_credential, port_of

OPERATIONS = ("get", "set", "delete", "incr", "push", "pop", "publish", "keys")
KEYED = ["get", "set", "delete", "incr", "push", "pop"]
SCAN_COUNT = 500

register(CredentialType(
    "redis", "Redis", (
        CredentialField("host", "Host", required=True, default="localhost"),
        CredentialField("port", "Port", default="6379"),
        CredentialField("database", "Database number", default="0"),
        CredentialField("user", "User", description="An ACL user (Redis 6+); empty: the default user"),
        CredentialField("password", "Password", kind="password", secret=True),
        CredentialField("tls", "TLS", kind="options", default="false", options=("false", "true"),
                        description="true: connect with TLS (rediss://), checking the server's certificate")),
    description="A Redis server for the redis node and trigger"))


async def connect(ctx: Context) -> Any:
    """A redis.asyncio client for the node's redis credential, PINGed; a node error naming host:port if not."""
    import redis.asyncio
    from redis.asyncio.retry import Retry
    from redis.backoff import NoBackoff
    from redis.exceptions import RedisError

    cred = await need_credential(ctx, "redis")
    host = str(cred.get("host") or "localhost")
    port = port_of(ctx, cred.get("port"), 6379)
    try:
        db = int(str(cred.get("database") or "0").strip())
    except ValueError:
        raise ctx.error(f"the redis credential's database must be a number, got {cred.get('database')!r}") from None
    client = redis.asyncio.Redis(
        host=host, port=port, db=db, username=str(cred.get("user") or "") or None,
        password=str(cred.get("password") or "") or None, ssl=str(cred.get("tls")).lower() == "true",
        socket_connect_timeout=CONNECT_TIMEOUT, socket_timeout=60,
        retry=Retry(NoBackoff(), 0))  # no silent retries: the node's retryOnFail decides
    try:
        await client.ping()
    except (RedisError, OSError) as exc:
        await client.aclose()
        raise connect_failed(ctx, "Redis", host, port, exc, [cred.get("password")]) from None
    return client


@node(
    type="redis", display_name="Redis", group="integration", icon="database",
    description="Get, set, delete, increment, push, pop and publish values in Redis",
    credentials=["redis"],
    params=[
        Param("operation", "options", default="get", required=True, options=OPERATIONS),
        Param("key", "string", default="", required=True, show_if={"operation": KEYED}),
        Param("value", "string", default="", show_if={"operation": ["set", "push", "publish"]},
              description="Text is written as is; any other value (an expression giving a number, an object, "
                          "a list) as JSON"),
        Param("ttl", "number", default=0, min=0, show_if={"operation": ["set", "incr"]},
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
    operation = str(ctx.param("operation", i) or "")
    if operation not in OPERATIONS:
        raise QueryFailed(f"parameter 'operation' must be one of {', '.join(OPERATIONS)}, got {operation!r}")
    decode = bool(ctx.param("jsonDecode", i, True))
    if operation == "keys":
        return await _keys(ctx, client, i, item, decode)
    if operation == "publish":
        channel = str(ctx.param("channel", i) or "")
        if not channel:
            raise QueryFailed("parameter 'channel' is empty")
        await client.publish(channel, _encode(ctx.param("value", i)))
        return [item]
    key = str(ctx.param("key", i) or "")
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
        value = None if raw is None else _decode(raw, decode)
    name = str(ctx.param("propertyName", i) or "value")
    return [item.derive(set_path(item.json, name, value))]


async def _incr(client: Any, key: str, by: Any) -> int | float:
    try:
        amount = float(by)
    except (TypeError, ValueError):
        raise QueryFailed(f"parameter 'incrBy' must be a number, got {by!r}") from None
    if amount.is_integer():
        return int(await client.incrby(key, int(amount)))
    return float(await client.incrbyfloat(key, amount))


async def _keys(ctx: Context, client: Any, i: int, item: Item, decode: bool) -> list[Item]:
    pattern = str(ctx.param("pattern", i) or "*")
    keys = sorted({_text(k) async for k in client.scan_iter(match=pattern, count=SCAN_COUNT)})
    if not ctx.param("getValues", i, True):
        return [Item({"key": k}, None, item) for k in keys]
    return [Item({"key": k, "value": await _read(client, k, decode)}, None, item) for k in keys]


async def _read(client: Any, key: str, decode: bool) -> Any:
    """The key's value by its type (None when missing)."""
    kind = _text(await client.type(key))
    if kind == "none":
        return None
    if kind == "string":
        return _decode(await client.get(key), decode)
    if kind == "hash":
        return {_text(k): _decode(v, decode) for k, v in (await client.hgetall(key)).items()}
    if kind == "list":
        return [_decode(v, decode) for v in await client.lrange(key, 0, -1)]
    if kind == "set":
        return sorted((_decode(v, decode) for v in await client.smembers(key)), key=str)
    if kind == "zset":
        return {_text(m): score for m, score in await client.zrange(key, 0, -1, withscores=True)}
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


def _text(raw: Any) -> str:
    """Bytes from Redis as text: UTF-8, else base64."""
    if not isinstance(raw, bytes):
        return str(raw)
    try:
        return raw.decode()
    except UnicodeDecodeError:
        return base64.b64encode(raw).decode("ascii")


def _decode(raw: Any, parse: bool) -> Any:
    text = _text(raw)
    if parse:
        try:
            return json.loads(text, parse_constant=_not_json)
        except ValueError:
            pass
    return text


def _not_json(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")  # NaN and Infinity stay text
