"""Credentials: their types (declared like nodes), encryption at rest, and masking (DESIGN §7, §8).

A credential type says which fields a credential has, which of them are secret, how
it signs an HTTP request (header, query, basic, bearer, oauth2) and, optionally, a
request that tests it. Types live in `TYPES`; a module adds one with `register()`.

The `Vault` encrypts a credential's JSON with AES-256-GCM (`cryptography`'s AESGCM).
A stored blob is

    b"FB1" | key id (8 bytes) | nonce (12 random bytes) | ciphertext + 16-byte tag

with the credential's id and the 11-byte header as associated data, so a blob cannot
be moved to another row or another key id unnoticed. The key id is
HKDF-SHA256(key, info="flowbox key id")[:8]: it names the key without revealing it,
which lets `flowbox rotate-key` (and a vault holding an old and a new key) pick the
right one.

The key comes from `FLOWBOX_ENCRYPTION_KEY` when set: 32 bytes in (urlsafe or
standard) base64, or else a passphrase of at least 16 characters stretched with
scrypt (n=2**15, r=8, p=1, fixed salt "flowbox-credentials-v1", so the same
passphrase always gives the same key). Otherwise it is `<data-dir>/encryption.key`
(32 random bytes, urlsafe base64), created with mode 0600 on first use.
`encryption.key.new`, written by `flowbox rotate-key` before it re-encrypts, is also
loaded for decryption, so a rotation interrupted half way never locks data out.

The API and the editor only ever see `mask(data, type)`: every non-empty secret field
is replaced by `MASK`; an update that sends `MASK` back keeps the stored value.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import logging
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from flowbox.errors import ConfigError, CredentialError
from flowbox.node import Param

logger = logging.getLogger("flowbox")

MASK = "__flowbox_secret__"
KEY_ENV = "FLOWBOX_ENCRYPTION_KEY"
KEY_FILE = "encryption.key"
NEW_KEY_FILE = "encryption.key.new"
MAGIC = b"FB1"
KEY_ID_LEN = 8
NONCE_LEN = 12
HEADER_LEN = len(MAGIC) + KEY_ID_LEN
_SCRYPT_SALT = b"flowbox-credentials-v1"
MIN_PASSPHRASE = 16


class Secret(str):
    """A string whose repr hides it (starlette's `Secret` idea), for decrypted secret values.

    It is still a `str` (`str(s)`, f-strings, `==` and sending it work); only `repr()`,
    and so dicts and lists printed or logged with it, show `Secret('**********')`.
    """

    __slots__ = ()

    def __repr__(self) -> str:
        return f"{type(self).__name__}('**********')"


# ---------------------------------------------------------------- types


def field_schema(field: Param) -> dict[str, Any]:
    """A credential field as `/api/v1/credential-types` shows it (a secret text field is a "password")."""
    out: dict[str, Any] = {"name": field.name, "displayName": field.label or field.name,
                           "type": "password" if field.secret and field.kind == "string" else field.kind,
                           "required": field.required, "secret": field.secret, "default": field.default,
                           "description": field.description}
    if field.options:
        out["options"] = list(field.options)
    return out


@dataclass(frozen=True)
class CredentialTest:
    """A request that tests a credential: signed with it, it must answer with a status below 400.

    `url` may name fields as `{field}` (filled from the credential's non-secret fields).
    """

    url: str
    method: str = "GET"


SIGNS = ("header", "query", "basic", "bearer", "oauth2", "none")


@dataclass(frozen=True)
class CredentialType:
    """A kind of credential, declared like a node type."""

    name: str
    display_name: str
    fields: tuple[Param, ...]  # `secret` ones are encrypted, masked on read and never logged
    sign: str = "none"  # one of SIGNS: how `sign_request` adds it to a request
    test: CredentialTest | None = None
    description: str = ""

    def __post_init__(self) -> None:
        if self.sign not in SIGNS:
            raise ValueError(f"credential type {self.name}: sign must be one of {', '.join(SIGNS)}")

    def field(self, name: str) -> Param | None:
        return next((f for f in self.fields if f.name == name), None)

    @property
    def secret_fields(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.fields if f.secret)

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "displayName": self.display_name, "description": self.description,
                "sign": self.sign, "testable": self.test is not None,
                "fields": [field_schema(f) for f in self.fields]}

    def sign_request(self, data: dict[str, Any], headers: dict[str, str], query: dict[str, Any]) -> None:
        """Add the credential to a request's headers or query (as the httpRequest node does)."""
        def text(key: str) -> str:
            value = data.get(key)
            return "" if value is None else str(value)

        if self.sign == "header":
            headers[text("name") or "Authorization"] = text("value")
        elif self.sign == "query":
            query[text("name")] = text("value")
        elif self.sign == "basic":
            token = base64.b64encode(f"{text('user')}:{text('password')}".encode()).decode("ascii")
            headers["Authorization"] = f"Basic {token}"
        elif self.sign == "bearer":
            headers["Authorization"] = f"Bearer {text('token')}"
        elif self.sign == "oauth2":
            if not text("accessToken"):
                raise CredentialError(f"the {self.name} credential has no access token")
            headers["Authorization"] = f"Bearer {text('accessToken')}"

    def validate(self, data: Any) -> dict[str, Any]:
        """`data` checked against the fields: a dict, every required field non-empty, no unknown field.

        Raises CredentialError with `field` set to the offending field (`data.<name>`).
        """
        if not isinstance(data, dict):
            raise CredentialError("credential data must be a JSON object", field="data")
        unknown = sorted(set(data) - {f.name for f in self.fields})
        if unknown:
            raise CredentialError(f"{self.name} has no field {unknown[0]!r} (fields: "
                                  f"{', '.join(f.name for f in self.fields)})", field=f"data.{unknown[0]}")
        out: dict[str, Any] = {}
        for f in self.fields:
            value = data.get(f.name, f.default)
            if f.required and (value is None or value == ""):
                raise CredentialError(f"{self.name} needs field {f.name!r}", field=f"data.{f.name}")
            if f.options and value not in (None, "") and value not in f.options:
                raise CredentialError(f"field {f.name!r} must be one of {', '.join(f.options)}",
                                      field=f"data.{f.name}")
            if f.kind in ("string", "options") and value is not None and not isinstance(value, str):
                value = str(value)
            if value is not None:
                out[f.name] = value
        return out


TYPES: dict[str, CredentialType] = {}


def register(ctype: CredentialType) -> CredentialType:
    """Add a credential type (a service node's module may declare its own); a taken name is an error."""
    if ctype.name in TYPES and TYPES[ctype.name] != ctype:
        raise ValueError(f"credential type {ctype.name!r} is already declared")
    TYPES[ctype.name] = ctype
    return ctype


def get_type(name: str) -> CredentialType:
    ctype = TYPES.get(name)
    if ctype is None:
        raise CredentialError(f"unknown credential type {name!r} (known: {', '.join(sorted(TYPES))})", field="type")
    return ctype


register(CredentialType(
    "httpHeaderAuth", "Header Auth", (
        Param("name", "string", label="Header name", required=True, default="Authorization"),
        Param("value", "string", label="Header value", required=True, secret=True)),
    sign="header", description="Sends a header (name: value) with every request"))
register(CredentialType(
    "httpQueryAuth", "Query Auth", (
        Param("name", "string", label="Query parameter", required=True),
        Param("value", "string", label="Value", required=True, secret=True)),
    sign="query", description="Adds a query parameter (name=value) to every request"))
register(CredentialType(
    "httpBasicAuth", "Basic Auth", (
        Param("user", "string", label="User", required=True),
        Param("password", "string", label="Password", required=True, secret=True)),
    sign="basic", description="HTTP Basic authentication"))
register(CredentialType(
    "httpBearerAuth", "Bearer Token", (
        Param("token", "string", label="Token", required=True, secret=True),),
    sign="bearer", description="Authorization: Bearer <token>"))
register(CredentialType(  # the flows and token upkeep are in flowbox.oauth2
    "oAuth2Api", "OAuth2 API", (
        Param("grantType", "options", label="Grant type", default="authorizationCode",
              options=("authorizationCode", "clientCredentials"),
              description="authorizationCode (PKCE S256): click Connect; clientCredentials: no user involved"),
        Param("authUrl", "string", label="Authorization URL", description="Needed for authorizationCode"),
        Param("accessTokenUrl", "string", label="Access token URL", required=True),
        Param("clientId", "string", label="Client ID", required=True),
        Param("clientSecret", "string", label="Client secret", secret=True),
        Param("scope", "string", label="Scope", description="Space-separated scopes"),
        Param("authentication", "options", label="Authentication", default="header", options=("header", "body"),
              description="Send the client ID and secret as a Basic auth header or in the token request's body"),
        Param("accessToken", "string", label="Access token", secret=True,
              description="Filled by Connect (or a client-credentials request); sent as Authorization: Bearer"),
        Param("refreshToken", "string", label="Refresh token", secret=True, description="Filled by Connect"),
        Param("expiresAt", "string", label="Access token expiry", description="ISO 8601 UTC; renewed a minute before")),
    sign="oauth2", description="OAuth2: requests carry an access token, refreshed before it expires"))


def mask(data: dict[str, Any], ctype: CredentialType | str) -> dict[str, Any]:
    """`data` with every non-empty secret field replaced by `MASK` (what the API and the editor show)."""
    ctype = get_type(ctype) if isinstance(ctype, str) else ctype
    secret = set(ctype.secret_fields)
    return {k: (MASK if k in secret and v not in (None, "") else v) for k, v in data.items()}


def merge(new: dict[str, Any], old: dict[str, Any], ctype: CredentialType) -> dict[str, Any]:
    """An update's data: a secret field sent back as `MASK` keeps its stored value."""
    return {k: (old.get(k) if v == MASK and k in ctype.secret_fields else v) for k, v in new.items()}


def reveal(data: dict[str, Any], ctype: CredentialType | None) -> dict[str, Any]:
    """Decrypted data for a node: secret values wrapped in `Secret` so a repr of the dict hides them."""
    secret = set(ctype.secret_fields) if ctype else set()
    return {k: (Secret(v) if k in secret and isinstance(v, str) else v) for k, v in data.items()}


# ---------------------------------------------------------------- keys and the vault


def key_id(key: bytes) -> bytes:
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.kdf.hkdf import HKDF

    return HKDF(algorithm=hashes.SHA256(), length=KEY_ID_LEN, salt=None, info=b"flowbox key id").derive(key)


def parse_key(text: str) -> bytes:
    """A key as given in FLOWBOX_ENCRYPTION_KEY or `--new-key`: base64 of 32 bytes, else a passphrase (scrypt)."""
    text = text.strip()
    for decode in (base64.urlsafe_b64decode, base64.b64decode):
        with contextlib.suppress(binascii.Error, ValueError):
            raw = decode(text + "=" * (-len(text) % 4))
            if len(raw) == 32:
                return raw
    if len(text) < MIN_PASSPHRASE:
        raise ConfigError(f"the encryption key must be 32 bytes in base64 or a passphrase of at least "
                          f"{MIN_PASSPHRASE} characters (got {len(text)} characters)")
    from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

    return Scrypt(salt=_SCRYPT_SALT, length=32, n=2**15, r=8, p=1).derive(text.encode())


def new_key_text() -> str:
    """A fresh random key as text (urlsafe base64 of 32 bytes)."""
    return base64.urlsafe_b64encode(os.urandom(32)).decode("ascii")


def write_key_file(path: Path, text: str) -> None:
    """Write a key file with mode 0600 atomically: a 0600 temp file, then renamed into place."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.write(fd, (text + "\n").encode("ascii"))
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)


def _read_key_file(path: Path) -> bytes:
    mode = path.stat().st_mode & 0o777
    if mode & 0o077:
        logger.warning("key file %s is readable by others (mode %o); chmod 600 it", path, mode)
    return parse_key(path.read_text("ascii"))


def load_key_file(data_dir: Path) -> bytes:
    """`<data_dir>/encryption.key`, created (mode 0600, 32 random bytes) when missing."""
    path = Path(data_dir) / KEY_FILE
    if not path.exists():
        Path(data_dir).mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{KEY_FILE}.{os.getpid()}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            os.write(fd, (new_key_text() + "\n").encode("ascii"))
            os.fsync(fd)
        finally:
            os.close(fd)
        try:
            os.link(tmp, path)  # fails when another process created it first: then use theirs
            logger.info("created encryption key %s (mode 0600): back it up, credentials need it", path)
        except FileExistsError:
            pass
        finally:
            os.unlink(tmp)
    return _read_key_file(path)


class Vault:
    """Encrypts and decrypts credential data. The first key encrypts; every key decrypts its own blobs."""

    def __init__(self, key: bytes, *, old_keys: Iterable[bytes] = (), source: str = "") -> None:
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        if len(key) != 32:
            raise ConfigError("an encryption key must be 32 bytes")
        self.source = source
        self.key_id = key_id(key)
        self._ciphers = {self.key_id: AESGCM(key)}
        for old in old_keys:
            self._ciphers.setdefault(key_id(old), AESGCM(old))

    def __repr__(self) -> str:
        return f"Vault(key_id={self.key_id.hex()}, source={self.source!r})"

    @classmethod
    def from_settings(cls, data_dir: Path, env: dict[str, str] | None = None) -> Vault:
        """The key from FLOWBOX_ENCRYPTION_KEY, else `<data_dir>/encryption.key` (created when missing)."""
        env = os.environ if env is None else env
        extra = Path(data_dir) / NEW_KEY_FILE
        old = [_read_key_file(extra)] if extra.exists() else []
        text = env.get(KEY_ENV)
        if text:
            return cls(parse_key(text), old_keys=old, source=KEY_ENV)
        return cls(load_key_file(Path(data_dir)), old_keys=old, source=str(Path(data_dir) / KEY_FILE))

    def encrypt(self, data: dict[str, Any], credential_id: str) -> bytes:
        header = MAGIC + self.key_id
        nonce = os.urandom(NONCE_LEN)
        return header + nonce + self._ciphers[self.key_id].encrypt(nonce, orjson.dumps(data),
                                                                   header + credential_id.encode())

    def decrypt(self, blob: bytes, credential_id: str) -> dict[str, Any]:
        from cryptography.exceptions import InvalidTag

        blob = bytes(blob)
        if len(blob) < HEADER_LEN + NONCE_LEN + 16 or not blob.startswith(MAGIC):
            raise CredentialError(f"credential {credential_id!r} is not in a format this flowbox knows",
                                  id=credential_id)
        kid = blob[len(MAGIC):HEADER_LEN]
        cipher = self._ciphers.get(kid)
        if cipher is None:
            raise CredentialError(
                f"credential {credential_id!r} was encrypted with another key (key id {kid.hex()}, this server "
                f"has {self.key_id.hex()}): set {KEY_ENV} or restore {KEY_FILE} to the key it was saved with",
                id=credential_id)
        try:
            plain = cipher.decrypt(blob[HEADER_LEN:HEADER_LEN + NONCE_LEN], blob[HEADER_LEN + NONCE_LEN:],
                                   blob[:HEADER_LEN] + credential_id.encode())
        except InvalidTag:
            raise CredentialError(f"credential {credential_id!r} cannot be decrypted: it was altered or "
                                  f"belongs to another record", id=credential_id) from None
        data = orjson.loads(plain)
        if not isinstance(data, dict):
            raise CredentialError(f"credential {credential_id!r} holds no JSON object", id=credential_id)
        return data

    def reencrypt(self, blob: bytes, credential_id: str, new: Vault) -> bytes:
        """`blob` decrypted with this vault and encrypted with `new`'s key (for rotation)."""
        return new.encrypt(self.decrypt(blob, credential_id), credential_id)


@dataclass
class CheckResult:
    """The outcome of testing a credential (never holds a secret)."""

    ok: bool
    message: str
    status_code: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "message": self.message, "statusCode": self.status_code}


def scrub(text: str, data: dict[str, Any], ctype: CredentialType) -> str:
    """`text` with every secret value of `data` replaced by MASK (for error messages)."""
    for name in ctype.secret_fields:
        value = data.get(name)
        if isinstance(value, str) and value:
            text = text.replace(value, MASK)
    return text
