"""Crypto: hash or HMAC a value, or make a UUID or a random string (hashlib, hmac, secrets).

A value that is not text is hashed as its compact JSON (`{"a":1}`, `5`, `true`).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import string
import uuid
from typing import Any

from flowbox.node import Context, Item, N8n, N8nNotes, Param, node, set_path
from flowbox.nodes._n8n import Params

ALGORITHMS = ["md5", "sha1", "sha256", "sha384", "sha512", "sha3-256", "sha3-384", "sha3-512"]
CHARSETS = {
    "alphanumeric": string.ascii_letters + string.digits,
    "alphabetic": string.ascii_letters,
    "numeric": string.digits,
    "hex": "0123456789abcdef",
    "lowercase": string.ascii_lowercase + string.digits,
    "uppercase": string.ascii_uppercase + string.digits,
    "urlsafe": string.ascii_letters + string.digits + "-_",
}
MAX_LENGTH = 1_000_000


def from_n8n(params: dict[str, Any], version: float) -> tuple[dict[str, Any], N8nNotes]:
    """n8n's Crypto v1/v2: hash and hmac of a text `value` (`type` MD5 by default, SHA256, SHA384, SHA512,
    SHA3-*; `encoding` hex/base64) into `dataPropertyName`; generate `encodingType` uuid (default) or hex
    (`stringLength`). Binary input, sign, ascii/base64 random strings and v2's hmac secret (kept in a
    credential) are not supported."""
    p = Params(params, version)
    action = p.take("action", "hash")
    out: dict[str, Any] = {"outputField": p.take("dataPropertyName", "data")}
    if action in ("hash", "hmac"):
        if p.take("binaryData", False):
            p.unsupported("hashing binary data is not supported")
        p.ignore("binaryPropertyName")
        kind = str(p.take("type", "MD5"))
        algorithm = kind.lower()
        if algorithm not in ALGORITHMS:
            p.unsupported(f"hash type {kind!r} is not supported")
        out.update(action=action, algorithm=algorithm, value=p.take("value", ""), encoding=p.take("encoding", "hex"))
        if action == "hmac" and version >= 2:
            p.unsupported("hmac with the secret in a 'crypto' credential (Crypto v2) is not supported")
        elif action == "hmac":
            out["secret"] = p.take("secret", "")
    elif action == "generate":
        kind = p.take("encodingType", "uuid")
        if kind == "uuid":
            out["action"] = "uuid"
        elif kind == "hex":
            out.update(action="randomString", charset="hex", length=p.take("stringLength", 32))
        else:
            p.unsupported(f"generate encodingType {kind!r} is not supported")
    else:
        p.unsupported(f"action {action!r} is not supported")
    return p.done(out)


N8N = N8n(types=("n8n-nodes-base.crypto",), versions=(1, 2), convert=from_n8n)


@node(
    n8n=N8N,
    type="crypto", display_name="Crypto", group="transform", icon="key",
    description="Hash or HMAC a value, or generate a UUID or a random string",
    params=[
        Param("action", "options", default="hash", required=True,
              options=["hash", "hmac", "uuid", "randomString"]),
        Param("algorithm", "options", default="sha256", options=ALGORITHMS,
              show_if={"action": ["hash", "hmac"]}),
        Param("value", "string", default="", show_if={"action": ["hash", "hmac"]},
              description="Text to hash; other values are hashed as compact JSON"),
        Param("secret", "string", default="", required=True, show_if={"action": ["hmac"]}),
        Param("encoding", "options", default="hex", options=["hex", "base64"],
              show_if={"action": ["hash", "hmac"]}),
        Param("length", "number", default=32, min=1, max=MAX_LENGTH, integer=True, show_if={"action": ["randomString"]}),
        Param("charset", "options", default="alphanumeric", options=[*CHARSETS, "custom"],
              show_if={"action": ["randomString"]}),
        Param("characters", "string", default="", show_if={"charset": ["custom"]},
              description="The characters to draw from (charset custom)"),
        Param("outputField", "string", default="data", required=True,
              description="Field of the item to write the result to (dotted paths nest)"),
    ],
)
async def crypto(ctx: Context, items: list[Item]) -> list[list[Item]]:
    """Write one result per item to `outputField` of a copy of the item."""
    out = []
    for i, item in enumerate(items):
        field = ctx.param("outputField", i)
        out.append(item.derive(set_path(item.json, field, _compute(ctx, i))))
    return [out]


def _compute(ctx: Context, i: int) -> str:
    action = ctx.param("action", i)
    if action == "uuid":
        return str(uuid.uuid4())
    if action == "randomString":
        return random_string(ctx, i)
    algorithm = ctx.param("algorithm", i)
    if algorithm not in ALGORITHMS:
        raise ctx.error(f"unknown algorithm {algorithm!r}: use one of {', '.join(ALGORITHMS)}", item_index=i)
    data = to_bytes(ctx.param("value", i, ""))
    if action == "hash":
        digest = hashlib.new(algorithm.replace("-", "_"), data).digest()
    elif action == "hmac":
        digest = hmac.new(to_bytes(ctx.param("secret", i, "")), data, algorithm.replace("-", "_")).digest()
    else:
        raise ctx.error(f"unknown action {action!r}", item_index=i)
    if ctx.param("encoding", i) == "base64":
        return base64.b64encode(digest).decode("ascii")
    return digest.hex()


def random_string(ctx: Context, i: int) -> str:
    """`length` characters drawn with `secrets` from the chosen charset."""
    charset = ctx.param("charset", i)
    chars = ctx.param("characters", i) if charset == "custom" else CHARSETS.get(charset, "")
    if not chars:
        raise ctx.error("charset custom needs 'characters'" if charset == "custom"
                        else f"unknown charset {charset!r}", item_index=i)
    try:
        length = ctx.param("length", i)
    except (TypeError, ValueError):
        raise ctx.error(f"parameter 'length' must be a whole number, got {ctx.param('length', i)!r}",
                        item_index=i) from None
    if not 1 <= length <= MAX_LENGTH:
        raise ctx.error(f"parameter 'length' must be between 1 and {MAX_LENGTH:,}, got {length}", item_index=i)
    return "".join(secrets.choice(chars) for _ in range(length))


def to_bytes(value: Any) -> bytes:
    """Text as UTF-8; anything else as compact JSON."""
    if isinstance(value, bytes):
        return value
    if isinstance(value, str):
        return value.encode()
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=str).encode()
