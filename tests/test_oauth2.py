"""OAuth2 credentials (`flowbox.oauth2`): PKCE, states, token upkeep, httpRequest with oAuth2Api.

`Provider` is a small OAuth2 provider on loopback HTTP (a threaded http.server): /authorize
redirects with a code, /token serves authorization_code (checking the PKCE S256 challenge),
refresh_token (rotating) and client_credentials, /resource answers 401 to an unknown or expired
token. `tests/server/test_oauth2_api.py` drives the same provider through a real server.
"""

from __future__ import annotations

import asyncio
import base64
import collections
import hashlib
import http.server
import json
import secrets
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, parse_qsl, unquote_plus, urlencode, urlsplit

import httpx
import pytest
from support import Harness, serving

from flowbox import oauth2
from flowbox.errors import CredentialError
from flowbox.settings import Settings

CLIENT_ID, CLIENT_SECRET = "flowbox-client", "client-secret-7c1d0e"


class Provider(http.server.ThreadingHTTPServer):
    """A fake OAuth2 provider; `calls` counts /token requests by grant type."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _ProviderHandler)
        self.lock = threading.Lock()
        self.codes: dict[str, dict[str, str]] = {}
        self.access: dict[str, float] = {}  # token -> expiry (time.time())
        self.refresh: set[str] = set()
        self.calls: collections.Counter[str] = collections.Counter()
        self.client_auth: list[str] = []  # "header" or "body", per /token call
        self.lifetimes: list[int] = []  # expires_in of the next tokens issued (then 3600)
        self.resource_tokens: list[str] = []  # tokens /resource accepted
        self.token_delay = 0.0
        self.wrong_challenge = False  # keep another challenge than the one sent: no verifier will match

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def issue(self, refresh: bool) -> dict[str, Any]:
        lifetime = self.lifetimes.pop(0) if self.lifetimes else 3600
        token = "at-" + secrets.token_hex(12)
        self.access[token] = time.time() + lifetime
        out: dict[str, Any] = {"access_token": token, "token_type": "Bearer", "expires_in": lifetime}
        if refresh:
            out["refresh_token"] = "rt-" + secrets.token_hex(12)
            self.refresh.add(out["refresh_token"])
        return out

    def revoke(self, token: str) -> None:
        with self.lock:
            self.access.pop(token, None)


class _ProviderHandler(http.server.BaseHTTPRequestHandler):
    server: Provider

    def log_message(self, *args: Any) -> None:
        pass

    def answer(self, status: int, body: dict[str, Any] | None = None,
               headers: dict[str, str] | None = None) -> None:
        data = json.dumps(body or {}).encode()
        self.send_response(status)
        for name, value in {"Content-Type": "application/json", **(headers or {})}.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:  # noqa: N802
        parts = urlsplit(self.path)
        query = dict(parse_qsl(parts.query))
        if parts.path == "/authorize":
            if query.get("client_id") != CLIENT_ID or query.get("code_challenge_method") != "S256":
                self.answer(400, {"error": "invalid_request"})
                return
            code = "code-" + secrets.token_hex(8)
            challenge = query["code_challenge"]
            if self.server.wrong_challenge:
                challenge = challenge[::-1]
            with self.server.lock:
                self.server.codes[code] = {"challenge": challenge, "redirect": query["redirect_uri"]}
            back = {"code": code, "state": query["state"]}
            self.answer(302, headers={"Location": query["redirect_uri"] + "?" + urlencode(back)})
        elif parts.path == "/resource":
            token = self.headers.get("Authorization", "").removeprefix("Bearer ")
            with self.server.lock:
                ok = self.server.access.get(token, 0) > time.time()
                if ok:
                    self.server.resource_tokens.append(token)
            self.answer(200 if ok else 401, {"ok": ok})
        else:
            self.answer(404)

    def do_POST(self) -> None:  # noqa: N802
        form = dict(parse_qsl(self.rfile.read(int(self.headers.get("Content-Length", 0))).decode()))
        time.sleep(self.server.token_delay)
        basic = self.headers.get("Authorization", "")
        if basic.startswith("Basic "):
            user, _, password = base64.b64decode(basic[6:]).decode().partition(":")
            client = (unquote_plus(user), unquote_plus(password), "header")
        else:
            client = (form.get("client_id", ""), form.get("client_secret", ""), "body")
        grant = form.get("grant_type", "")
        with self.server.lock:
            self.server.calls[grant] += 1
            self.server.client_auth.append(client[2])
            if client[:2] != (CLIENT_ID, CLIENT_SECRET):
                self.answer(401, {"error": "invalid_client"})
                return
            if grant == "authorization_code":
                issued = self.server.codes.pop(form.get("code", ""), None)
                if issued is None or issued["redirect"] != form.get("redirect_uri"):
                    self.answer(400, {"error": "invalid_grant", "error_description": "unknown code"})
                    return
                verifier = form.get("code_verifier", "")
                digest = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=")
                if digest.decode() != issued["challenge"]:
                    self.answer(400, {"error": "invalid_grant",
                                      "error_description": "PKCE verification failed"})
                    return
                self.answer(200, self.server.issue(refresh=True))
            elif grant == "refresh_token":
                if form.get("refresh_token") not in self.server.refresh:
                    self.answer(400, {"error": "invalid_grant", "error_description": "unknown refresh token"})
                    return
                self.server.refresh.discard(form["refresh_token"])  # rotated: a second use would fail
                self.answer(200, self.server.issue(refresh=True))
            elif grant == "client_credentials":
                self.answer(200, self.server.issue(refresh=False))
            else:
                self.answer(400, {"error": "unsupported_grant_type"})


@pytest.fixture
def provider() -> Iterator[Provider]:
    with serving(Provider()) as srv:
        yield srv


def oauth_data(provider: Provider, **extra: Any) -> dict[str, Any]:
    return {"grantType": "authorizationCode", "authUrl": f"{provider.url}/authorize",
            "accessTokenUrl": f"{provider.url}/token", "clientId": CLIENT_ID, "clientSecret": CLIENT_SECRET,
            "scope": "read write", **extra}


def with_services(tmp_path: Path, body: Any) -> None:
    async def main() -> None:
        services = Harness(Settings.load(tmp_path / "data", ui=False))
        await services.start(consume=False, schedule=False, recover=False)
        try:
            await body(services)
        finally:
            await services.stop(timeout=1)

    asyncio.run(main())


async def connect(services: Harness, cred_id: str) -> dict[str, Any]:
    """Connect as a browser would: open the authorize URL, follow the provider's redirect to the callback."""
    url = (await services.oauth2_authorize(cred_id, base_url="http://flowbox.test"))["url"]
    async with httpx.AsyncClient() as browser:
        back = await browser.get(url)
    assert back.status_code == 302, back.text
    location = urlsplit(back.headers["location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == "http://flowbox.test/api/v1/oauth2/callback"
    query = {k: v[0] for k, v in parse_qs(location.query).items()}
    return await services.oauth2_callback(code=query["code"], state=query["state"])


async def stored(services: Harness, cred_id: str) -> dict[str, Any]:
    record = await services.store.get_credential(cred_id)
    return services.vault.decrypt(record.data, record.id)


def http_workflow(url: str, cred_id: str) -> dict[str, Any]:
    return {"name": "oauth", "nodes": [
        {"name": "Start", "type": "manualTrigger", "parameters": {}},
        {"name": "Call", "type": "httpRequest", "parameters": {"url": url, "authentication": "oAuth2Api"},
         "credentials": {"oAuth2Api": cred_id}}],
        "connections": {"Start": {"main": [[{"node": "Call", "type": "main", "index": 0}]]}}}


async def run(services: Harness, provider: Provider, cred_id: str, items: int = 1) -> Any:
    return await services.run_manual(http_workflow(f"{provider.url}/resource", cred_id),
                                     input=[{"n": i} for i in range(items)])


# ---------------------------------------------------------------- units


def test_pkce_challenge_and_authorize_url() -> None:
    # RFC 7636 appendix B
    assert oauth2.code_challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk") == \
        "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
    data = {"authUrl": "https://idp.example/auth?tenant=x", "clientId": "c 1", "scope": "a b"}
    url = oauth2.authorize_url(data, "https://fb.example/api/v1/oauth2/callback", "st", "verifier")
    parts = urlsplit(url)
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    assert url.startswith("https://idp.example/auth?tenant=x&")
    assert query == {"tenant": "x", "response_type": "code", "client_id": "c 1", "state": "st",
                     "scope": "a b",
                     "redirect_uri": "https://fb.example/api/v1/oauth2/callback",
                     "code_challenge": oauth2.code_challenge("verifier"), "code_challenge_method": "S256"}
    with pytest.raises(CredentialError, match="'authUrl'"):
        oauth2.authorize_url({"clientId": "c"}, "r", "s", "v")
    with pytest.raises(CredentialError, match="authorizationCode grant"):
        oauth2.authorize_url({**data, "grantType": "clientCredentials"}, "r", "s", "v")


def test_states_are_random_single_use_and_expire() -> None:
    states = oauth2.PendingStates(ttl=0.2)
    first, verifier = states.new("c1", "r")
    second, _ = states.new("c1", "r")
    assert first != second and len(first) >= 40 and 43 <= len(verifier) <= 128
    assert states.take(first).credential_id == "c1"
    with pytest.raises(CredentialError, match="already used"):
        states.take(first)
    with pytest.raises(CredentialError, match="unknown authorization state"):
        states.take("made-up")
    with pytest.raises(CredentialError, match="unknown"):
        states.take(None)
    time.sleep(0.25)
    with pytest.raises(CredentialError, match="expired"):
        states.take(second)


def test_expiry_margin() -> None:
    def at(seconds: float) -> dict[str, Any]:
        moment = time.time() + seconds
        return {"expiresAt": time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime(moment))}

    assert oauth2.expires_soon(at(30)) and oauth2.expires_soon(at(-5))
    assert not oauth2.expires_soon(at(300)) and not oauth2.expires_soon({}) and not oauth2.expires_soon(
        {"expiresAt": "not a date"})


# ---------------------------------------------------------------- flows through the operations


def test_connect_stores_tokens_encrypted_and_reads_are_masked(tmp_path: Path, provider: Provider) -> None:
    async def body(services: Harness) -> None:
        made = await services.create_credential("IdP", "oAuth2Api", oauth_data(provider))
        connected = await connect(services, made["id"])
        data = await stored(services, made["id"])
        token, refresh = data["accessToken"], data["refreshToken"]
        assert token in provider.access and refresh in provider.refresh
        assert provider.calls == {"authorization_code": 1} and provider.client_auth == ["header"]
        raw = (await services.store.get_credential(made["id"])).data
        for value in (token, refresh, CLIENT_SECRET):
            assert value.encode() not in raw
        shown = [connected, await services.get_credential(made["id"]),
                 (await services.list_credentials()).data]
        for value in (token, refresh, CLIENT_SECRET):
            assert value not in json.dumps(shown)
        assert connected["data"]["accessToken"] == connected["data"]["refreshToken"] == "__flowbox_secret__"
        assert connected["data"]["expiresAt"]
        entries = (await services.list_audit(action="credential.oauth2.connect")).data
        assert [e.target_id for e in entries] == [made["id"]]
        assert token not in repr(entries) and CLIENT_SECRET not in repr(entries)

        # a change that leaves the tokens out keeps them; the state was single use
        await services.update_credential(made["id"], data={**oauth_data(provider, scope="read"),
                                                            "clientSecret": "__flowbox_secret__"})
        assert (await stored(services, made["id"]))["accessToken"] == token
        result = await run(services, provider, made["id"])
        assert result.status == "success", result.error
        assert provider.resource_tokens == [token] and provider.calls["refresh_token"] == 0

    with_services(tmp_path, body)


def test_wrong_verifier_and_reused_code_are_refused_clearly(tmp_path: Path, provider: Provider) -> None:
    async def body(services: Harness) -> None:
        made = await services.create_credential("IdP", "oAuth2Api",
                                                oauth_data(provider, authentication="body"))
        url = (await services.oauth2_authorize(made["id"], base_url="http://flowbox.test"))["url"]
        async with httpx.AsyncClient() as browser:
            location = (await browser.get(url)).headers["location"]
        query = {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}
        tokens = oauth2.tokens_for(services.store, services.vault)
        with pytest.raises(CredentialError) as caught:
            await tokens.connect(made["id"], query["code"], "a-wrong-verifier-" + "x" * 40,
                                 "http://flowbox.test/api/v1/oauth2/callback")
        message = caught.value.message
        assert f"{provider.url}/token answered 400" in message and "PKCE verification failed" in message
        assert CLIENT_SECRET not in message and query["code"] not in message
        assert provider.client_auth == ["body"]  # authentication "body": client id and secret in the form
        assert "accessToken" not in await stored(services, made["id"])
        untested = await services.test_credential(made["id"])
        assert untested["ok"] is False and untested["message"].endswith(
            "connect the credential first (Connect on the Credentials page, or POST "
            "/api/v1/credentials/<id>/oauth2/authorize)")
        with pytest.raises(CredentialError, match="provider refused the authorization: access_denied: no"):
            await services.oauth2_callback(code=None, state=query["state"], error="access_denied",
                                           error_description="no")
        with pytest.raises(CredentialError, match="already used"):  # the refusal spent the state
            await services.oauth2_callback(code=query["code"], state=query["state"])

    with_services(tmp_path, body)


def test_not_connected_fails_the_node_clearly(tmp_path: Path, provider: Provider) -> None:
    async def body(services: Harness) -> None:
        made = await services.create_credential("IdP", "oAuth2Api", oauth_data(provider))
        result = await run(services, provider, made["id"])
        assert result.status == "error" and "connect the credential first" in result.error["message"]
        assert result.error["node"] == "Call" and provider.calls == {}
        # an access token typed in by hand, refused, with no refresh token: a clear error too
        await services.update_credential(made["id"], data={**oauth_data(provider), "accessToken": "by-hand",
                                                            "clientSecret": "__flowbox_secret__"})
        result = await run(services, provider, made["id"])
        assert result.status == "error"
        assert "answered 401 and the token could not be renewed" in result.error["message"]
        assert ("was refused and it has no refresh token: connect the credential again"
                in result.error["message"])
        assert "by-hand" not in result.error["message"]

    with_services(tmp_path, body)


def test_token_is_refreshed_before_it_expires_and_written_back(tmp_path: Path, provider: Provider) -> None:
    async def body(services: Harness) -> None:
        made = await services.create_credential("IdP", "oAuth2Api", oauth_data(provider))
        provider.lifetimes = [30]  # the first token expires within the minute: renewed before use
        await connect(services, made["id"])
        first = await stored(services, made["id"])
        result = await run(services, provider, made["id"], items=12)
        assert result.status == "success", result.error
        assert provider.calls["refresh_token"] == 1  # one refresh for all the items
        after = await stored(services, made["id"])
        assert after["accessToken"] != first["accessToken"] and after["refreshToken"] != first["refreshToken"]
        assert set(provider.resource_tokens) == {after["accessToken"]} and len(provider.resource_tokens) == 12
        assert after["expiresAt"] > first["expiresAt"]
        raw = (await services.store.get_credential(made["id"])).data
        assert after["accessToken"].encode() not in raw

        again = await run(services, provider, made["id"])  # the next execution uses the stored token
        assert again.status == "success" and provider.calls["refresh_token"] == 1
        assert provider.resource_tokens[-1] == after["accessToken"]

    with_services(tmp_path, body)


def test_a_401_refreshes_once_and_retries_for_many_items(tmp_path: Path, provider: Provider) -> None:
    async def body(services: Harness) -> None:
        made = await services.create_credential("IdP", "oAuth2Api", oauth_data(provider))
        await connect(services, made["id"])
        old = (await stored(services, made["id"]))["accessToken"]
        provider.revoke(old)  # the target refuses it from now on, though it is not expired
        provider.token_delay = 0.1  # a slow token endpoint: concurrent items pile up on the refresh
        result = await run(services, provider, made["id"], items=25)
        assert result.status == "success", result.error
        assert len(result.runs["Call"][-1].outputs[0]) == 25
        assert provider.calls["refresh_token"] == 1  # rotated refresh tokens: a second refresh would fail
        new = (await stored(services, made["id"]))["accessToken"]
        assert new != old and set(provider.resource_tokens) == {new} and len(provider.resource_tokens) == 25

    with_services(tmp_path, body)


def test_client_credentials_grant(tmp_path: Path, provider: Provider) -> None:
    async def body(services: Harness) -> None:
        made = await services.create_credential("Machine", "oAuth2Api", oauth_data(
            provider, grantType="clientCredentials", authUrl=None))
        with pytest.raises(CredentialError, match="authorizationCode grant"):
            await services.oauth2_authorize(made["id"])
        result = await run(services, provider, made["id"], items=5)
        assert result.status == "success", result.error
        assert provider.calls == {"client_credentials": 1}
        token = (await stored(services, made["id"]))["accessToken"]
        assert "refreshToken" not in await stored(services, made["id"])
        provider.revoke(token)  # refused: a new client-credentials token, then the request again
        result = await run(services, provider, made["id"])
        assert result.status == "success", result.error
        assert provider.calls == {"client_credentials": 2}
        tested = await services.test_credential(made["id"])
        assert tested["ok"] is True and tested["message"].startswith("got a new access token, valid until")
        assert provider.calls == {"client_credentials": 3}
        tested = await services.test_credential(made["id"], url=f"{provider.url}/resource")
        assert tested["ok"] is True and tested["statusCode"] == 200
        for value in (token, CLIENT_SECRET):
            assert value not in json.dumps(tested)

        wrong = await services.create_credential("Wrong", "oAuth2Api", oauth_data(
            provider, grantType="clientCredentials", clientSecret="nope-not-it"))
        failed = await services.test_credential(wrong["id"])
        assert failed["ok"] is False
        assert failed["message"] == f"token endpoint {provider.url}/token answered 401: invalid_client"

    with_services(tmp_path, body)
