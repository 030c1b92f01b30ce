"""Editor sessions: the login cookie, CSRF, and the HTTP headers every editor page carries.

A login (`/login` form or `POST /api/v1/login`) gives the browser one cookie,
`flowbox_session`: 32 random bytes, `HttpOnly`, `SameSite=Lax`, `Path=/`, `Secure` when
the request came over https. The store keeps only its sha256 (`SessionRecord.id`), the user
and a per-session CSRF token; a session lasts `SESSION_DAYS`. Logging out deletes it.

CSRF: the cookie alone never authorises a state-changing API call. A request authenticated
by the cookie with an unsafe method (POST, PUT, PATCH, DELETE) must also carry the
session's token in `X-CSRF-Token` (the editor's own forms put it in a hidden `csrf` field).
The login form itself uses a double-submit cookie (`flowbox_login_csrf`). On top, an
`Origin` header that names another site is refused for unsafe requests and websockets
(`same_origin`), which also shuts cross-site websocket hijacking of the editor.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import urlsplit

COOKIE = "flowbox_session"
LOGIN_CSRF_COOKIE = "flowbox_login_csrf"
CSRF_HEADER = "x-csrf-token"
SESSION_DAYS = 14
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

# Sent with every editor page, the login pages and the API docs. NiceGUI renders with inline scripts and
# Vue templates compiled in the browser, hence 'unsafe-inline' / 'unsafe-eval' for scripts; everything is
# served from this origin (the editor works offline), nothing may frame it.
SECURITY_HEADERS: tuple[tuple[bytes, bytes], ...] = (
    (b"content-security-policy",
     b"default-src 'self'; script-src 'self' 'unsafe-inline' 'unsafe-eval'; style-src 'self' 'unsafe-inline'; "
     b"img-src 'self' data: blob:; font-src 'self' data:; connect-src 'self' ws: wss:; object-src 'none'; "
     b"base-uri 'self'; form-action 'self'; frame-ancestors 'none'"),
    (b"x-frame-options", b"DENY"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
    (b"permissions-policy", b"camera=(), microphone=(), geolocation=(), payment=()"),
    (b"cross-origin-opener-policy", b"same-origin"),
)


def new_token() -> str:
    """A fresh random token (a session cookie, a CSRF token)."""
    return secrets.token_urlsafe(32)


def token_id(token: str) -> str:
    """What the store keeps of a session token."""
    return hashlib.sha256(token.encode()).hexdigest()


def tokens_match(a: str | None, b: str | None) -> bool:
    """Constant-time equality of two tokens; a missing one never matches."""
    return bool(a) and bool(b) and hmac.compare_digest(str(a), str(b))


def read_cookie(cookie_header: str | None, name: str = COOKIE) -> str | None:
    """The value of cookie `name` in a `Cookie` header, or None. Parsed leniently (split on ";"): a
    malformed cookie set by someone else must not hide ours."""
    for part in (cookie_header or "").split(";"):
        key, sep, value = part.strip().partition("=")
        if sep and key == name and value:
            return value.strip('"')
    return None


def set_cookie(name: str, value: str, *, max_age: int, secure: bool, http_only: bool = True) -> str:
    """A `Set-Cookie` header value (max_age 0 deletes the cookie)."""
    parts = [f"{name}={value}", "Path=/", f"Max-Age={max_age}", "SameSite=Lax"]
    if http_only:
        parts.append("HttpOnly")
    if secure:
        parts.append("Secure")
    return "; ".join(parts)


def session_cookie(token: str, *, secure: bool) -> str:
    return set_cookie(COOKIE, token, max_age=SESSION_DAYS * 86400, secure=secure)


def clear_session_cookie(*, secure: bool) -> str:
    return set_cookie(COOKIE, "", max_age=0, secure=secure)


def header(headers: Iterable[tuple[bytes, bytes]], name: bytes) -> str | None:
    """One header of an ASGI scope (`name` in lower case), or None."""
    for key, value in headers:
        if key == name:
            return value.decode("latin-1")
    return None


def is_https(scope: Mapping[str, Any]) -> bool:
    """Whether the browser reached us over https (directly, or through a proxy saying so)."""
    if scope.get("scheme") in ("https", "wss"):
        return True
    return (header(scope.get("headers", ()), b"x-forwarded-proto") or "").lower() == "https"


def same_origin(scope: Mapping[str, Any]) -> bool:
    """False when the request carries an `Origin` naming another host than the one it was sent to.
    (No Origin — curl, scripts, same-origin GETs — is not a cross-site browser request.)"""
    headers = scope.get("headers", ())
    origin = header(headers, b"origin")
    if not origin:
        return True
    host = header(headers, b"host") or ""
    return urlsplit(origin).netloc.lower() == host.lower()


def safe_next(target: str | None) -> str:
    """Where to go after logging in: a local path only (never another site), `/` by default."""
    if (not target or not target.startswith("/") or target.startswith("//") or "\\" in target
            or any(c.isspace() or ord(c) < 32 or ord(c) == 127 for c in target)):
        return "/"
    return target
