"""OAuth2 over a real server: authorize URL, the browser's round trip through a local provider to the
public callback, tokens stored encrypted and never shown, refused states, a workflow using the credential."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest
from support import node, serving, workflow
from test_oauth2 import CLIENT_SECRET, Provider, oauth_data

from .conftest import FLOWBOX

MASK = "__flowbox_secret__"
CALLBACK = "/api/v1/oauth2/callback"


@pytest.fixture
def provider() -> Iterator[Provider]:
    with serving(Provider()) as srv:
        yield srv




def owner_key(data_dir: Path) -> str:
    """An owner and an API key made with the CLI: from then on the API needs the key (not the callback)."""
    def cli(*args: str, stdin: str | None = None) -> str:
        done = subprocess.run([FLOWBOX, *args, "--data-dir", str(data_dir)], input=stdin, capture_output=True,
                              text=True, timeout=60)
        assert done.returncode == 0, done.stderr
        return done.stdout.strip()

    cli("user", "create", "owner@example.com", "--role", "owner", "--password-stdin",
        stdin="a long password\n")
    return cli("apikey", "create", "--user", "owner@example.com")


def query_of(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


def authorize(api: httpx.Client, cred_id: str) -> str:
    res = api.post(f"/api/v1/credentials/{cred_id}/oauth2/authorize")
    assert res.status_code == 200, res.text
    return str(res.json()["url"])


def provider_redirect(url: str) -> str:
    """A browser at the provider: the user agrees, the provider redirects back with code and state."""
    back = httpx.get(url)
    assert back.status_code == 302, back.text
    return back.headers["location"]


def test_authorization_code_flow_end_to_end(tmp_path: Path, make_server: Any, provider: Provider) -> None:
    data_dir = tmp_path / "data"
    key = owner_key(data_dir)
    server = make_server(data_dir=data_dir).start()
    browser = httpx.Client(timeout=30)  # no API key: the provider's redirect carries none
    with server.client(headers={"X-API-Key": key}) as api:
        res = api.post("/api/v1/credentials", json={"name": "IdP", "type": "oAuth2Api",
                                                    "data": oauth_data(provider)})
        assert res.status_code == 201, res.text
        cid = res.json()["id"]
        assert browser.post(f"{server.url}/api/v1/credentials/{cid}/oauth2/authorize").status_code == 401

        url = authorize(api, cid)
        params = query_of(url)
        assert url.startswith(f"{provider.url}/authorize?")
        assert params["client_id"] == "flowbox-client" and params["response_type"] == "code"
        assert params["redirect_uri"] == server.url + CALLBACK and params["scope"] == "read write"
        assert params["code_challenge_method"] == "S256" and len(params["code_challenge"]) == 43
        assert len(params["state"]) >= 40 and "code_verifier" not in params

        location = provider_redirect(url)
        assert location.startswith(server.url + CALLBACK + "?")
        done = browser.get(location)
        assert done.status_code == 200, done.text
        assert done.headers["content-type"].startswith("text/html")
        assert "Connected — you can close this window" in done.text

        again = browser.get(location)  # the same state twice
        assert again.status_code == 400 and "already used" in again.text
        made_up = browser.get(f"{server.url}{CALLBACK}?" + urlencode({"code": "c", "state": "made-up"}),
                              headers={"Accept": "application/json"})
        assert made_up.status_code == 400 and made_up.json()["error"]["code"] == "credential_error"
        assert "unknown authorization state" in made_up.json()["error"]["message"]
        denied = browser.get(f"{server.url}{CALLBACK}?" + urlencode(
            {"error": "access_denied", "error_description": "the user said <no>", "state": "x"}))
        assert denied.status_code == 400
        assert "access_denied: the user said &lt;no&gt;" in denied.text  # escaped into the page

        tokens = set(provider.access) | provider.refresh
        assert len(tokens) == 2 and provider.calls == {"authorization_code": 1}
        shown = [api.get(f"/api/v1/credentials/{cid}"), api.get("/api/v1/credentials")]
        masked = shown[0].json()["data"]
        assert masked["accessToken"] == masked["refreshToken"] == masked["clientSecret"] == MASK

        run = api.post("/api/v1/workflows", json=workflow(
            node("Start", "manualTrigger"),
            {**node("Call", "httpRequest", url=f"{provider.url}/resource", authentication="oAuth2Api"),
             "credentials": {"oAuth2Api": cid}}))
        done_run = api.post(f"/api/v1/workflows/{run.json()['id']}/run", json={"wait": True}).json()
        assert done_run["status"] == "success", done_run
        assert provider.resource_tokens == list(set(provider.access))
        tested = api.post(f"/api/v1/credentials/{cid}/test")
        assert tested.json()["ok"] is True and provider.calls["refresh_token"] == 1
        audit = api.get("/api/v1/audit", params={"action": "credential.oauth2.connect"})
        assert [e["targetId"] for e in audit.json()["data"]] == [cid]
        shown += [api.get("/api/v1/executions"), tested, audit, done]
        tokens |= set(provider.access) | provider.refresh
        for response in shown:
            for secret in [*tokens, CLIENT_SECRET]:
                assert secret not in response.text, (secret, response.request.url)

    browser.close()
    server.stop()
    files = [p for p in data_dir.rglob("*") if p.is_file() and p.name != "encryption.key"] + [server.log]
    assert any(p.name == "flowbox.db" for p in files)
    for path in files:  # the database row (and WAL, queue, logs) never holds a token in clear
        raw = path.read_bytes()
        for secret in [*tokens, CLIENT_SECRET]:
            assert secret.encode() not in raw, (secret, path)


def test_wrong_pkce_verifier_is_a_clear_error_page(server: Any, provider: Provider) -> None:
    provider.wrong_challenge = True
    with server.client() as api:
        cid = api.post("/api/v1/credentials", json={"name": "IdP", "type": "oAuth2Api",
                                                    "data": oauth_data(provider)}).json()["id"]
        done = httpx.get(provider_redirect(authorize(api, cid)))
        assert done.status_code == 400 and "Not connected" in done.text
        expected = f"{provider.url}/token answered 400: invalid_grant: PKCE verification failed"
        assert expected in done.text
        assert provider.calls == {"authorization_code": 1} and not provider.access
        assert "accessToken" not in api.get(f"/api/v1/credentials/{cid}").json()["data"]
        other = api.post("/api/v1/credentials", json={"name": "B", "type": "httpBearerAuth",
                                                      "data": {"token": "t"}})
        res = api.post(f"/api/v1/credentials/{other.json()['id']}/oauth2/authorize")
        assert res.status_code == 400 and "not oAuth2Api" in res.json()["error"]["message"]
