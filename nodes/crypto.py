"""Crypto: hash, HMAC or sign a value or a binary property, or make a UUID or a random string.

hashlib, hmac and secrets; signatures with `cryptography` (PKCS#1 v1.5 for RSA keys, DER ECDSA for EC
keys, as Node's `crypto.createSign` makes them). A value that is not text is hashed as its compact JSON
(`{"a":1}`, `5`, `true`).
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

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

from flowbox.credentials import CredentialType, register
from flowbox.node import Context, Item, N8n, N8nNotes, Param, binary_bytes, node, set_path
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
SIGN_HASHES = {"md5": hashes.MD5, "sha1": hashes.SHA1, "sha224": hashes.SHA224, "sha256": hashes.SHA256,
               "sha384": hashes.SHA384, "sha512": hashes.SHA512, "sha3-256": hashes.SHA3_256,
               "sha3-384": hashes.SHA3_384, "sha3-512": hashes.SHA3_512}
MAX_LENGTH = 1_000_000


def from_n8n(params: dict[str, Any], version: float) -> tuple[dict[str, Any], N8nNotes]:
    """n8n's Crypto v1/v2: hash and hmac of a text `value` or of a binary property (`binaryData`,
    `binaryPropertyName`; `type` MD5 by default, SHA256, SHA384, SHA512, SHA3-*; `encoding` hex/base64) into
    `dataPropertyName`; sign (`algorithm` such as RSA-SHA256, v1's `privateKey`); generate `encodingType` uuid
    (default) or hex (`stringLength`); v2 keeps the hmac secret and the signing key in its `crypto` credential.
    ascii/base64 random strings are not supported."""
    p = Params(params, version)
    action = p.take("action", "hash")
    out: dict[str, Any] = {"outputField": p.take("dataPropertyName", "data")}
    if action in ("hash", "hmac"):
        binary = p.take("binaryData", False)
        name = p.take("binaryPropertyName", "data")
        if binary:
            out.update(binaryData=True, binaryPropertyName=name)
        kind = str(p.take("type", "MD5"))
        algorithm = kind.lower()
        if algorithm not in ALGORITHMS:
            p.unsupported(f"hash type {kind!r} is not supported")
        out.update(action=action, algorithm=algorithm, encoding=p.take("encoding", "hex"))
        value = p.take("value", "")
        if not binary:
            out["value"] = value
        if action == "hmac" and version < 2:
            out["secret"] = p.take("secret", "")
    elif action == "sign":
        algorithm = str(p.take("algorithm", ""))
        hash_name = _sign_hash(algorithm)
        if hash_name is None:
            p.unsupported(f"sign algorithm {algorithm!r} is not supported (its hash must be one of "
                          f"{', '.join(SIGN_HASHES)})")
        out.update(action="sign", signHash=hash_name or "sha256", value=p.take("value", ""),
                   encoding=p.take("encoding", "hex"))
        if version < 2:
            out["privateKey"] = p.take("privateKey", "")
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


def _sign_hash(algorithm: str) -> str | None:
    """The hash of a Node-style signing algorithm name (RSA-SHA256, sha256, ecdsa-with-SHA256, ...), or None."""
    name = algorithm.strip().lower()
    for prefix in ("rsa-", "ecdsa-with-"):
        name = name.removeprefix(prefix)
    name = name.replace("sha3_", "sha3-")
    return name if name in SIGN_HASHES else None


N8N = N8n(types=("n8n-nodes-base.crypto",), versions=(1, 2), convert=from_n8n)
register(CredentialType(
    "crypto", "Crypto", (
        Param("hmacSecret", "string", label="HMAC secret", secret=True, description="Secret of the hmac action"),
        Param("signPrivateKey", "string", label="Private key", secret=True,
              description="PEM private key (RSA or EC) of the sign action")),
    description="The HMAC secret and the signing key of the Crypto node, kept out of the workflow (n8n's crypto)"))


@node(
    n8n=N8N, credentials=["crypto"],
    type="crypto", display_name="Crypto", group="transform", icon="key",
    description="Hash, HMAC or sign a value or a file, or generate a UUID or a random string",
    params=[
        Param("action", "options", default="hash", required=True,
              options=["hash", "hmac", "sign", "uuid", "randomString"]),
        Param("algorithm", "options", default="sha256", options=ALGORITHMS,
              show_if={"action": ["hash", "hmac"]}),
        Param("binaryData", "boolean", default=False, show_if={"action": ["hash", "hmac"]},
              description="Hash the bytes of a binary property instead of a value"),
        Param("binaryPropertyName", "string", default="data", show_if={"binaryData": [True]},
              description="Binary property whose bytes are hashed"),
        Param("value", "string", default="", show_if={"action": ["hash", "hmac", "sign"]},
              description="Text to hash or sign; other values are hashed as compact JSON"),
        Param("secret", "string", default="", show_if={"action": ["hmac"]},
              description="The HMAC key (empty: the 'crypto' credential's HMAC secret)"),
        Param("signHash", "options", default="sha256", options=list(SIGN_HASHES), show_if={"action": ["sign"]},
              description="Hash of the signature: PKCS#1 v1.5 with an RSA key, ECDSA with an EC key"),
        Param("privateKey", "string", default="", show_if={"action": ["sign"]},
              description="PEM private key (RSA or EC); literal \\n sequences are read as line breaks (empty: "
                          "the 'crypto' credential's private key)"),
        Param("encoding", "options", default="hex", options=["hex", "base64"],
              show_if={"action": ["hash", "hmac", "sign"]}),
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
    keys = await ctx.credential("crypto") or {}
    out = []
    for i, item in enumerate(items):
        field = ctx.param("outputField", i)
        out.append(item.derive(set_path(item.json, field, _compute(ctx, item, i, keys))))
    return [out]


def _compute(ctx: Context, item: Item, i: int, keys: dict[str, Any]) -> str:
    action = ctx.param("action", i)
    if action == "uuid":
        return str(uuid.uuid4())
    if action == "randomString":
        return random_string(ctx, i)
    if action == "sign":
        digest = _sign(ctx, i, str(ctx.param("privateKey", i, "") or keys.get("signPrivateKey") or ""))
    elif action in ("hash", "hmac"):
        algorithm = ctx.param("algorithm", i)
        if algorithm not in ALGORITHMS:
            raise ctx.error(f"unknown algorithm {algorithm!r}: use one of {', '.join(ALGORITHMS)}", item_index=i)
        if ctx.param("binaryData", i, False):
            try:
                data = binary_bytes(item, ctx.param("binaryPropertyName", i, "data"))
            except ValueError as exc:
                raise ctx.error(str(exc), item_index=i) from None
        else:
            data = to_bytes(ctx.param("value", i, ""))
        if action == "hash":
            digest = hashlib.new(algorithm.replace("-", "_"), data).digest()
        else:
            secret = ctx.param("secret", i, "") or keys.get("hmacSecret") or ""
            if not secret:
                raise ctx.error("hmac needs a key: set 'secret' or name a 'crypto' credential with an HMAC secret",
                                item_index=i)
            digest = hmac.new(to_bytes(secret), data, algorithm.replace("-", "_")).digest()
    else:
        raise ctx.error(f"unknown action {action!r}", item_index=i)
    if ctx.param("encoding", i) == "base64":
        return base64.b64encode(digest).decode("ascii")
    return digest.hex()


def _sign(ctx: Context, i: int, private_key: str) -> bytes:
    """The signature of `value` with the PEM key: PKCS#1 v1.5 for RSA, DER-encoded ECDSA for EC."""
    hash_type = SIGN_HASHES[ctx.param("signHash", i)]
    if not private_key.strip():
        raise ctx.error("sign needs a key: set 'privateKey' or name a 'crypto' credential with a private key",
                        item_index=i)
    pem = private_key.replace("\\n", "\n").strip().encode()
    try:
        key = serialization.load_pem_private_key(pem, password=None)
    except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
        raise ctx.error(f"parameter 'privateKey' is not a PEM private key without a password: {exc}",
                        item_index=i) from None
    data = to_bytes(ctx.param("value", i, ""))
    if isinstance(key, rsa.RSAPrivateKey):
        return key.sign(data, padding.PKCS1v15(), hash_type())
    if isinstance(key, ec.EllipticCurvePrivateKey):
        return key.sign(data, ec.ECDSA(hash_type()))
    raise ctx.error(f"parameter 'privateKey' is a {type(key).__name__.removeprefix('_')}; signing needs an RSA or "
                    f"EC key", item_index=i)


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
