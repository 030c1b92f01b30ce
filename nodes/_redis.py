"""What the redis node and the redis trigger share: the `redis` credential, the connection, reading values."""

from __future__ import annotations

import base64
import json
from typing import Any

from flowbox.credentials import CredentialType, register
from flowbox.node import Context, Param
from flowbox.nodes._db import CONNECT_TIMEOUT, connect_failed, need_credential, port_of

register(CredentialType(
    "redis", "Redis", (
        Param("host", "string", label="Host", required=True, default="localhost"),
        Param("port", "string", label="Port", default="6379"),
        Param("database", "string", label="Database number", default="0"),
        Param("user", "string", label="User", description="An ACL user (Redis 6+); empty: the default user"),
        Param("password", "string", label="Password", secret=True),
        Param("tls", "options", label="TLS", default="false", options=("false", "true"),
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


def as_text(raw: Any) -> str:
    """Bytes from Redis as text: UTF-8, else base64."""
    if not isinstance(raw, bytes):
        return str(raw)
    try:
        return raw.decode()
    except UnicodeDecodeError:
        return base64.b64encode(raw).decode("ascii")


def parse_value(raw: Any, parse: bool) -> Any:
    text_ = as_text(raw)
    if parse:
        try:
            return json.loads(text_, parse_constant=_not_json)
        except ValueError:
            pass
    return text_


def _not_json(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")  # NaN and Infinity stay text
