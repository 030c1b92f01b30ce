"""Users, passwords, API keys and roles (DESIGN §8).

Passwords are hashed with scrypt (stdlib `hashlib.scrypt`, a random 16-byte salt, the
cost parameters stored with the hash: `scrypt$n$r$p$salt$hash`) and compared in constant
time. API keys are `fbk_` + 32 random url-safe bytes; the store keeps only their sha256
and a short display prefix, so a key is shown once, when it is created
(`flowbox apikey create --user EMAIL`). A key belongs to a user and acts with that user's
role. Roles rank owner > admin > member; a route asks for a minimum role.

WHEN AUTHENTICATION IS ENFORCED: once at least one user exists in the store. On a fresh
install with no users the API stays open, as before this module existed; such a server
can only be reached from loopback, since `flowbox serve` refuses a non-loopback bind
(unless FLOWBOX_INSECURE_BIND=1). Creating the first user (`flowbox user create EMAIL
--role owner --password-stdin`) closes every door at once. `flowbox.accounts.Accounts` caches "users
exist": true is kept for good (the only user cannot be deleted, see below); false is
re-checked at most once a second, so an owner created by the CLI while the server runs
takes effect within a second.

REMOVING PEOPLE: owners and admins change roles, disable and enable users, reset passwords
and delete users (`PATCH /api/v1/users/{id}`, `POST .../password`, `DELETE ...?transferTo=`,
`flowbox user ...`, the Settings page; all in `flowbox.accounts`). As with API keys, an admin acts
on themselves and on lower roles (members) and never makes owners; an owner acts on anyone
(so a departed owner can be removed by another). A disabled user cannot
sign in, and disabling or deleting ends their sessions and API keys at once (in this
process; other server processes trust a verified key or session for up to
`Accounts.KEY_CACHE_TTL`), and a disabled user's key or session is refused even if one is
left. Resetting a password ends that user's other sessions. The store refuses to demote,
disable or delete the last enabled owner, or to delete the only user (409).

Every Litestar route except the ones in `PUBLIC` (health, readiness, metrics, the API
root and the OpenAPI docs) is guarded by `flowbox.api.auth.guard`: no or an unknown
`X-API-Key` -> 401 `unauthorized`, a role below the route's `opt["role"]` -> 403
`forbidden`. `tests/test_auth.py` walks every registered route to keep it so. Webhooks
(`/webhook*`) are a separate ASGI app and are not guarded here: a webhook's path is its
secret, as in n8n.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from typing import Any

from flowbox.errors import FlowboxError

ROLES = ("member", "admin", "owner")  # lowest first
RANK = {role: i for i, role in enumerate(ROLES)}

API_KEY_HEADER = "x-api-key"
KEY_PREFIX = "fbk_"
DISPLAY_PREFIX_LEN = 12  # "fbk_" + 8 characters: enough to tell keys apart, useless to an attacker

# Routes anyone may call (paths as Litestar registers them); everything else needs a key.
PUBLIC = frozenset({"/healthz", "/readyz", "/metrics", "/api", "/api/v1/oauth2/callback",
                    "/login", "/logout", "/setup", "/api/v1/login"})  # the login forms check for themselves
PUBLIC_PREFIXES = ("/api/docs",)  # the OpenAPI schema and its renderers

MIN_PASSWORD = 8
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**15, 8, 1  # ~32 MiB and ~50-100 ms per hash


class AuthError(FlowboxError):
    """A refused user or key operation (bad email, weak password, unknown role)."""

    code = "invalid_request"


def is_public(path: str) -> bool:
    """Whether a registered route path is open to anyone."""
    return path in PUBLIC or path.startswith(PUBLIC_PREFIXES)


def has_role(role: str | None, required: str) -> bool:
    """Whether `role` is at least `required` (an unknown role has none)."""
    return role in RANK and RANK[role] >= RANK[required]


# ------------------------------------------------------------------ passwords

def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _scrypt(password: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(password.encode(), salt=salt, n=n, r=r, p=p, maxmem=256 * r * n + (1 << 20), dklen=32)


def hash_password(password: str) -> str:
    """`scrypt$n$r$p$salt$hash` for `password` with a fresh random salt."""
    salt = secrets.token_bytes(16)
    digest = _scrypt(password, salt, SCRYPT_N, SCRYPT_R, SCRYPT_P)
    return f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${_b64(salt)}${_b64(digest)}"


def verify_password(password: str, stored: str | None) -> bool:
    """Whether `password` matches `stored` (constant-time; a malformed or missing hash never matches, but
    still costs one hash so that unknown users take as long as known ones)."""
    try:
        scheme, n, r, p, salt, digest = (stored or "").split("$")
        if scheme != "scrypt":
            raise ValueError(scheme)
        expected = _unb64(digest)
        actual = _scrypt(password, _unb64(salt), int(n), int(r), int(p))
    except (ValueError, TypeError):
        _scrypt(password, b"\0" * 16, SCRYPT_N, SCRYPT_R, SCRYPT_P)
        return False
    return hmac.compare_digest(actual, expected)


def check_password(password: Any) -> str:
    if not isinstance(password, str) or len(password) < MIN_PASSWORD:
        raise AuthError(f"a password needs at least {MIN_PASSWORD} characters", field="password")
    return password


def check_email(email: Any) -> str:
    text = email.strip().lower() if isinstance(email, str) else ""
    local, at, domain = text.partition("@")
    if not (local and at and domain) or any(c.isspace() for c in text):
        raise AuthError(f"not an email address: {email!r}", field="email")
    return text


def check_role(role: Any) -> str:
    if role not in RANK:
        raise AuthError(f"role must be one of {', '.join(reversed(ROLES))}, got {role!r}", field="role")
    return str(role)


# ------------------------------------------------------------------ API keys

def new_api_key() -> str:
    """A new key: `fbk_` + 32 random bytes, url-safe base64."""
    return KEY_PREFIX + secrets.token_urlsafe(32)


def hash_api_key(key: str) -> str:
    """What the store keeps of a key (the key has 256 random bits: a plain sha256 is enough)."""
    return hashlib.sha256(key.encode()).hexdigest()


@dataclass(frozen=True)
class Principal:
    """Who is calling: a user, and the key or session they came with."""

    user_id: str
    email: str
    role: str
    key_id: str | None = None
    csrf: str | None = None  # set when they came with an editor session cookie (`flowbox.sessions`)
    session_id: str | None = None  # that session's id (the sha256 of its token)

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.user_id, "email": self.email, "role": self.role, "keyId": self.key_id,
                "session": self.csrf is not None}


def user_json(user: Any) -> dict[str, Any]:
    """A user as JSON (never the password hash)."""
    created = user.created_at.isoformat().replace("+00:00", "Z") if user.created_at else None
    return {"id": user.id, "email": user.email, "role": user.role, "disabled": user.disabled, "createdAt": created}


def key_json(key: Any) -> dict[str, Any]:
    """An API key as JSON (its prefix only)."""
    created = key.created_at.isoformat().replace("+00:00", "Z") if key.created_at else None
    return {"id": key.id, "userId": key.user_id, "prefix": key.prefix, "name": key.name, "createdAt": created}


# ------------------------------------------------------------------ operations on a store (`flowbox.accounts`)

async def create_user(store: Any, email: Any, role: Any, password: Any) -> Any:
    """A new user with a hashed password (Conflict when the email is taken)."""
    import asyncio

    email, role, password = check_email(email), check_role(role), check_password(password)
    password_hash = await asyncio.to_thread(hash_password, password)
    return await store.create_user(email, role, password_hash)


async def create_api_key(store: Any, email: str, name: str = "") -> tuple[str, Any]:
    """A new key for the user with `email` (NotFound otherwise, Conflict when they are disabled):
    `(key, record)`; the key is not kept."""
    from flowbox.errors import Conflict

    user = await store.get_user_by_email(email)
    if user.disabled:
        raise Conflict(f"{user.email} is disabled: enable them before making them an API key", user=user.email)
    key = new_api_key()
    record = await store.create_api_key(user.id, key[:DISPLAY_PREFIX_LEN], hash_api_key(key), name)
    return key, record
