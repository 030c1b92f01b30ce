"""OAuth2 for `oAuth2Api` credentials: authorization code with PKCE (S256), and client credentials.

Connecting (authorization code): `CredentialVault.oauth2_authorize` makes a random `state` and a PKCE
verifier (`PendingStates`) and answers the provider's authorize URL. The provider sends the browser
back to `CALLBACK_PATH` with `code` and `state`; `CredentialVault.oauth2_callback` takes the state (single
use, `STATE_TTL` seconds, bound to one credential) and `Tokens.connect` exchanges the code, with the
verifier, for tokens.

Using: a node gets an oauth2 credential as a `Session` (the decrypted data, a dict) whose `token()`
gives a usable access token. `Tokens` replaces a token within `REFRESH_MARGIN` seconds of its expiry,
or one the target refused (401): with the refresh token, or a new client-credentials token. One
renewal at a time per credential (the others wait and take its result), written back encrypted so
the next execution starts with it.

The token data lives in the credential's encrypted data: `accessToken` and `refreshToken` (secret:
masked on every read) and `expiresAt` (ISO 8601 UTC, not secret). No token, code, verifier or client
secret is logged or put into an error message.
"""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import hashlib
import secrets
import time
import weakref
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, quote_plus, urlencode

from flowbox.credentials import MASK, TYPES, Vault, reveal
from flowbox.errors import CredentialError

TYPE = "oAuth2Api"
CALLBACK_PATH = "/api/v1/oauth2/callback"
STATE_TTL = 600.0  # seconds an authorization may take, from Connect to the callback
REFRESH_MARGIN = 60.0  # a token expiring within this many seconds is renewed before use
TOKEN_TIMEOUT = 30.0
TOKEN_FIELDS = ("accessToken", "refreshToken", "expiresAt")
_SECRET_KEYS = ("clientSecret", "accessToken", "refreshToken", "client_secret", "code", "code_verifier",
                "refresh_token")


def redirect_uri(base_url: str) -> str:
    """The callback URL the provider sends the browser to, under the server's public base URL."""
    return base_url.rstrip("/") + CALLBACK_PATH


def code_challenge(verifier: str) -> str:
    """PKCE S256: base64url(SHA-256(verifier)) without padding (RFC 7636 §4.2)."""
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).decode("ascii").rstrip("=")


def _need(data: dict[str, Any], *names: str) -> None:
    for name in names:
        if not data.get(name):
            raise CredentialError(f"the {TYPE} credential needs field {name!r}", field=f"data.{name}")


def authorize_url(data: dict[str, Any], redirect: str, state: str, verifier: str) -> str:
    """The provider's authorize URL for an authorization-code grant with PKCE (S256)."""
    if data.get("grantType", "authorizationCode") != "authorizationCode":
        raise CredentialError(f"Connect is for the authorizationCode grant; this credential uses "
                              f"{data.get('grantType')} (test it to get a token)", field="data.grantType")
    _need(data, "authUrl", "clientId")
    params = {"response_type": "code", "client_id": str(data["clientId"]), "redirect_uri": redirect,
              "state": state, "code_challenge": code_challenge(verifier), "code_challenge_method": "S256"}
    if data.get("scope"):
        params["scope"] = str(data["scope"])
    url = str(data["authUrl"])
    return url + ("&" if "?" in url else "?") + urlencode(params)


def expires_soon(data: dict[str, Any], margin: float = REFRESH_MARGIN) -> bool:
    """Whether the access token expires within `margin` seconds (a token with no known expiry does not)."""
    value = data.get("expiresAt")
    if not value:
        return False
    try:
        moment = dt.datetime.fromisoformat(str(value))
    except ValueError:
        return False
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return moment.timestamp() - time.time() <= margin


# ---------------------------------------------------------------- the token endpoint


async def token_request(data: dict[str, Any], form: dict[str, str]) -> dict[str, Any]:
    """POST `form` to the credential's token URL, the client authenticated as its `authentication` says.

    Returns the new token fields (`accessToken`, `refreshToken` when given, `expiresAt` or None).
    A refusal is a CredentialError naming the URL, the status and the provider's error code.
    """
    import httpx

    _need(data, "accessTokenUrl", "clientId")
    url, client_id = str(data["accessTokenUrl"]), str(data["clientId"])
    client_secret = str(data.get("clientSecret") or "")
    headers = {"Accept": "application/json"}
    if data.get("authentication", "header") == "header" and client_secret:
        pair = f"{quote_plus(client_id)}:{quote_plus(client_secret)}"  # RFC 6749 §2.3.1
        headers["Authorization"] = "Basic " + base64.b64encode(pair.encode()).decode("ascii")
    else:
        form = {**form, "client_id": client_id, **({"client_secret": client_secret} if client_secret else {})}
    try:
        async with httpx.AsyncClient(timeout=TOKEN_TIMEOUT) as client:
            response = await client.post(url, data=form, headers=headers)
    except httpx.HTTPError as exc:
        raise CredentialError(f"token endpoint {url} could not be reached: {type(exc).__name__}") from None
    body = _token_body(response)
    if response.status_code >= 400 or not body.get("access_token"):
        reason = ": ".join(str(body[k]) for k in ("error", "error_description") if body.get(k))
        if not reason:
            reason = "no access_token in the answer" if response.status_code < 400 else response.reason_phrase
        text = f"token endpoint {url} answered {response.status_code}: {reason}"
        for key, value in {**data, **form}.items():  # a provider may echo what it was sent
            if key in _SECRET_KEYS and value:
                text = text.replace(str(value), MASK)
        raise CredentialError(text[:500], status=response.status_code)
    expires = body.get("expires_in")
    try:
        moment = dt.datetime.fromtimestamp(time.time() + float(expires), dt.UTC)
        expires_at: str | None = moment.isoformat(timespec="seconds")
    except (TypeError, ValueError, OverflowError):
        expires_at = None
    out = {"accessToken": str(body["access_token"]), "expiresAt": expires_at}
    if body.get("refresh_token"):
        out["refreshToken"] = str(body["refresh_token"])
    return out


def _token_body(response: Any) -> dict[str, Any]:
    """A token response's fields: JSON, or form-encoded (some providers' default)."""
    try:
        body = response.json()
    except ValueError:
        body = dict(parse_qsl(response.text))
    return body if isinstance(body, dict) else {}


# ---------------------------------------------------------------- authorizations under way


@dataclass
class Pending:
    credential_id: str
    verifier: str
    redirect_uri: str
    expires: float
    used: bool = False


class PendingStates:
    """Authorizations under way, by `state`: random, single use, `ttl` seconds, bound to one credential.

    Kept in this process's memory: enough for one server process (the callback comes back to
    the server that answered Connect), and a restart only means clicking Connect again.
    """

    def __init__(self, ttl: float = STATE_TTL) -> None:
        self.ttl = ttl
        self._pending: dict[str, Pending] = {}

    def new(self, credential_id: str, redirect: str) -> tuple[str, str]:
        """A fresh (state, PKCE verifier) for `credential_id`."""
        now = time.monotonic()
        for key in [k for k, p in self._pending.items() if p.expires < now]:
            del self._pending[key]
        state, verifier = secrets.token_urlsafe(32), secrets.token_urlsafe(64)
        self._pending[state] = Pending(credential_id, verifier, redirect, now + self.ttl)
        return state, verifier

    def take(self, state: str | None) -> Pending:
        """The authorization `state` names, used up; CredentialError if unknown, used or expired."""
        pending = self._pending.get(state or "")
        minutes = f"{self.ttl / 60:g} minutes"
        if pending is None:
            raise CredentialError(f"unknown authorization state: start again with Connect (an authorization "
                                  f"lasts {minutes} and does not survive a restart)", field="state")
        if pending.used:
            raise CredentialError("this authorization was already used: start again with Connect",
                                  field="state")
        pending.used = True  # kept until it expires, so a replay is told apart from a made-up state
        if pending.expires < time.monotonic():
            raise CredentialError(f"this authorization expired (after {minutes}): start again with Connect",
                                  field="state")
        return pending


# ---------------------------------------------------------------- keeping tokens valid


class Tokens:
    """Obtains, renews and stores the tokens of oauth2 credentials (one per store: `tokens_for`)."""

    def __init__(self, store: Any, vault: Vault) -> None:
        self._store = weakref.ref(store)  # `tokens_for` keys on the store: no strong reference back
        self.vault = vault
        self._locks: dict[str, asyncio.Lock] = {}

    @property
    def store(self) -> Any:
        store = self._store()
        if store is None:
            raise CredentialError("the credential store is closed")
        return store

    def lock(self, id: str) -> asyncio.Lock:
        """The lock one credential's token renewals take turns on."""
        return self._locks.setdefault(id, asyncio.Lock())

    async def load(self, id: str) -> tuple[Any, dict[str, Any]]:
        record = await self.store.get_credential(id)
        return record, self.vault.decrypt(record.data, record.id)

    async def _save(self, id: str, fresh: dict[str, Any], *, replace: bool = False) -> dict[str, Any]:
        """Write `fresh` token fields into the stored credential (re-read, so other edits are kept)."""
        _, data = await self.load(id)
        if replace:  # a new connection: nothing of the old tokens is kept
            data = {k: v for k, v in data.items() if k not in TOKEN_FIELDS}
        data.update(fresh)
        data = {k: v for k, v in data.items() if not (k in TOKEN_FIELDS and v is None)}
        await self.store.update_credential(id, data=self.vault.encrypt(data, id))
        return data

    async def connect(self, id: str, code: str, verifier: str, redirect: str) -> dict[str, Any]:
        """Exchange an authorization code (with its PKCE verifier) and store the tokens; the new data."""
        async with self.lock(id):
            _, data = await self.load(id)
            fresh = await token_request(data, {"grant_type": "authorization_code", "code": code,
                                               "redirect_uri": redirect, "code_verifier": verifier})
            return await self._save(id, fresh, replace=True)

    async def valid(self, id: str, refused: str | None = None, *, renew: bool = False) -> dict[str, Any]:
        """The credential's data with an access token to use: the stored one unless it is missing, expires
        soon, is `refused` (the target answered 401 to it) or `renew` is set; else a new one, stored.

        Renewals of one credential take turns, and one that finds the token already replaced (by the
        renewal it waited for) uses that: many items refused at once cause a single refresh.
        """
        async with self.lock(id):
            _, data = await self.load(id)
            token = data.get("accessToken")
            if token and token != refused and not renew and not expires_soon(data):
                return data
            return await self._save(id, await _renew(data, refused=bool(token) and token == refused))


async def _renew(data: dict[str, Any], *, refused: bool) -> dict[str, Any]:
    """New token fields: a client-credentials token, or the refresh token traded for a new access token."""
    if data.get("grantType") == "clientCredentials":
        form = {"grant_type": "client_credentials"}
        if data.get("scope"):
            form["scope"] = str(data["scope"])
        return await token_request(data, form)
    if data.get("refreshToken"):
        form = {"grant_type": "refresh_token", "refresh_token": str(data["refreshToken"])}
        return await token_request(data, form)
    if data.get("accessToken"):
        why = "was refused" if refused else "expired"
        raise CredentialError(f"the {TYPE} credential's access token {why} and it has no refresh token: "
                              "connect the credential again")
    raise CredentialError(f"the {TYPE} credential has no token yet: connect the credential first (Connect on "
                          "the Credentials page, or POST /api/v1/credentials/<id>/oauth2/authorize)")


_BY_STORE: weakref.WeakKeyDictionary[Any, Tokens] = weakref.WeakKeyDictionary()


def tokens_for(store: Any, vault: Vault) -> Tokens:
    """The `Tokens` of `store`, so executions and the API share one lock per credential."""
    tokens = _BY_STORE.get(store)
    if tokens is None:
        tokens = _BY_STORE[store] = Tokens(store, vault)
    return tokens


class Session(dict[str, Any]):
    """An oauth2 credential as a node gets it: its decrypted data (secrets wrapped in `Secret`), plus
    `token()`, which keeps the access token valid."""

    def __init__(self, data: dict[str, Any], tokens: Tokens, id: str) -> None:
        super().__init__(data)
        self.id = id
        self._tokens = tokens

    async def token(self, refused: str | None = None) -> str:
        """An access token to send: the current one, unless it expires within a minute or the target
        refused it (`refused`, after a 401): then a renewed one (stored for the next execution too)."""
        current = self.get("accessToken")
        if current and refused is None and not expires_soon(self):
            return str(current)
        fresh = await self._tokens.valid(self.id, refused=refused)
        self.update(reveal(fresh, TYPES.get(TYPE)))
        return str(self["accessToken"])
