"""Editor logins over real HTTP: the first-start owner form, the session cookie, CSRF, the editor's door,
login and webhook rate limits, security headers (a real `flowbox serve` with the editor)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import httpx
import pytest
from support import node, workflow

from flowbox import sessions

from .conftest import Server

PASSWORD = "a long password"
UI_DIR = Path(__file__).parents[2] / "ui"


def form_csrf(response: httpx.Response) -> str:
    match = re.search(r'name="csrf" value="([^"]+)"', response.text)
    assert match, response.text[:500]
    return match.group(1)


def setup_owner(client: httpx.Client, email: str = "owner@example.com") -> httpx.Response:
    page = client.get("/setup")
    assert page.status_code == 200, page.text
    return client.post("/setup", data={"email": email, "password": PASSWORD, "confirm": PASSWORD,
                                       "csrf": form_csrf(page)})


def login_json(client: httpx.Client, email: str = "owner@example.com", password: str = PASSWORD) -> str:
    answer = client.post("/api/v1/login", json={"email": email, "password": password})
    assert answer.status_code == 200, answer.text
    return str(answer.json()["csrfToken"])


@pytest.fixture
def editor(make_server: Any) -> Server:
    return make_server(ui=True).start()


def editor_pages() -> list[str]:
    """Every page the editor registers (`@ui.page(...)` in ui/), with its path parameters filled in."""
    paths = set()
    for source in UI_DIR.glob("*.py"):
        paths.update(re.findall(r'@ui\.page\("([^"]+)"', source.read_text()))
    assert len(paths) >= 7, paths
    return sorted(re.sub(r"\{[^}]+\}", "x", p) for p in paths)


def test_first_start_setup_form_makes_the_owner_and_signs_in(editor: Server) -> None:
    with editor.client() as client:
        open_page = client.get("/")
        assert open_page.status_code == 200  # no owner yet: open (loopback only), with a banner saying so
        assert "No owner account yet" in open_page.text
        page = client.get("/setup")
        assert 'name="password"' in page.text and "Set up the owner account" in page.text
        forged = client.post("/setup", data={"email": "x@example.com", "password": PASSWORD, "confirm": PASSWORD,
                                             "csrf": "not-the-cookie"})
        assert forged.status_code == 403
        differ = client.post("/setup", data={"email": "x@example.com", "password": PASSWORD, "confirm": "other",
                                             "csrf": form_csrf(client.get("/setup"))})
        assert differ.status_code == 400 and "differ" in differ.text
        made = setup_owner(client)
        assert made.status_code == 303 and made.headers["location"] == "/"
        cookie = made.headers["set-cookie"]
        assert cookie.startswith(f"{sessions.COOKIE}=") and "HttpOnly" in cookie and "SameSite=Lax" in cookie
        assert "Path=/" in cookie
        home = client.get("/")
        assert home.status_code == 200 and "owner@example.com" in home.text
        assert client.get("/setup").headers["location"] == "/login"  # only while no user exists
    with editor.client() as stranger:
        assert stranger.get("/").status_code == 303
        second = stranger.post("/setup", data={"email": "evil@example.com", "password": PASSWORD,
                                               "confirm": PASSWORD, "csrf": "x"})
        assert second.status_code in (303, 403)
        assert stranger.post("/api/v1/login", json={"email": "evil@example.com", "password": PASSWORD}
                             ).status_code == 401


def test_every_editor_page_needs_a_session(editor: Server) -> None:
    with editor.client() as client:
        setup_owner(client)
    with editor.client() as anonymous:
        for path in editor_pages():
            answer = anonymous.get(path)
            assert answer.status_code == 303, (path, answer.status_code)
            assert answer.headers["location"] == "/login?next=" + path, path
        socket = anonymous.get("/_nicegui_ws/socket.io/", params={"EIO": "4", "transport": "polling"})
        assert socket.status_code == 401
        upload = anonymous.post("/_nicegui/client/x/upload/y", content=b"x")
        assert upload.status_code == 401
        login = anonymous.get("/login", params={"next": "/executions"})
        assert login.status_code == 200 and 'value="/executions"' in login.text
        assert anonymous.get("/login", params={"next": "https://evil.example/"}).text.count('value="/"') == 1
        csrf = login_json(anonymous)
        for path in editor_pages():
            assert anonymous.get(path).status_code == 200, path
        assert anonymous.post("/api/v1/logout", headers={"X-CSRF-Token": csrf}).status_code == 204
        assert anonymous.get("/").status_code == 303  # the cookie is dead
        assert anonymous.get("/api/v1/workflows").status_code == 401


def test_session_cookie_needs_csrf_token_for_changes(editor: Server) -> None:
    with editor.client() as client:
        setup_owner(client)
        csrf = login_json(client)
        assert client.get("/api/v1/workflows").status_code == 200  # reads need no token
        wf = workflow(node("Start", "manualTrigger"), name="csrf")
        without = client.post("/api/v1/workflows", json=wf)
        assert without.status_code == 403 and "CSRF" in without.json()["error"]["message"]
        wrong = client.post("/api/v1/workflows", json=wf, headers={"X-CSRF-Token": "guess"})
        assert wrong.status_code == 403
        foreign = client.post("/api/v1/workflows", json=wf,
                              headers={"X-CSRF-Token": csrf, "Origin": "https://evil.example"})
        assert foreign.status_code == 403
        made = client.post("/api/v1/workflows", json=wf,
                           headers={"X-CSRF-Token": csrf, "Origin": editor.url})
        assert made.status_code == 201, made.text
        # an editor page request from another site (a websocket or form post) is refused outright
        cross = client.post("/_nicegui/client/x/upload/y", headers={"Origin": "https://evil.example"})
        assert cross.status_code == 403
        # the login form itself: double-submit cookie
        assert client.post("/login", data={"email": "owner@example.com", "password": PASSWORD,
                                           "csrf": "no"}).status_code == 403


def test_login_rate_limits_answer_429_with_retry_after(editor: Server) -> None:
    with editor.client() as client:
        setup_owner(client)
    with editor.client() as client:
        for _ in range(5):
            assert client.post("/api/v1/login", json={"email": "owner@example.com", "password": "wrong password"}
                               ).status_code == 401
        locked = client.post("/api/v1/login", json={"email": "owner@example.com", "password": PASSWORD})
        assert locked.status_code == 429  # the right password, but this account had too many failures
        assert int(locked.headers["retry-after"]) >= 1
        assert locked.json()["error"]["code"] == "rate_limited"
        page = client.get("/login")
        html_form = client.post("/login", data={"email": "owner@example.com", "password": PASSWORD,
                                                "csrf": form_csrf(page)})
        assert html_form.status_code == 429 and "retry-after" in html_form.headers
        statuses = [client.post("/api/v1/login", json={"email": f"u{i}@example.com", "password": "x" * 9}
                                ).status_code for i in range(6)]
        assert statuses[-1] == 429  # per address: 10 attempts, then one every 6 s


def test_security_headers_on_editor_and_login_pages(editor: Server) -> None:
    with editor.client() as client:
        for path in ("/", "/setup"):
            headers = client.get(path).headers
            assert "frame-ancestors 'none'" in headers["content-security-policy"], path
            assert headers["x-frame-options"] == "DENY"
            assert headers["x-content-type-options"] == "nosniff"
            assert headers["referrer-policy"] == "same-origin"
        setup_owner(client)
        for path in ("/login", "/", "/workflow/x"):
            assert client.get(path).headers.get("x-frame-options") == "DENY", path


def test_webhooks_are_rate_limited_per_client(make_server: Any) -> None:
    server = make_server(env={"FLOWBOX_WEBHOOK_RATE_LIMIT": "5"}).start()
    wf = workflow(node("Hook", "webhook", path="limited", respond="immediately"), name="limited")
    wf["active"] = True
    with server.client() as client:
        assert client.post("/api/v1/workflows", json=wf).status_code == 201
        statuses = [client.post("/webhook/limited", json={"i": i}).status_code for i in range(25)]
        assert statuses[:10] == [200] * 10  # a burst of twice the rate
        assert 429 in statuses
        refused = client.post("/webhook/limited", json={})
        assert refused.status_code == 429 and int(refused.headers["retry-after"]) >= 1
        assert refused.json()["error"]["code"] == "rate_limited"
        metrics = client.get("/metrics").text
        assert 'status="429"' in metrics


def test_a_lan_bind_works_once_an_owner_exists(tmp_path: Path, make_server: Any) -> None:
    import subprocess

    from .conftest import FLOWBOX

    data = tmp_path / "lan"
    made = subprocess.run([FLOWBOX, "user", "create", "owner@example.com", "--role", "owner", "--password-stdin",
                           "--data-dir", str(data)], input=PASSWORD + "\n", capture_output=True, text=True,
                          timeout=60)
    assert made.returncode == 0, made.stderr
    server = make_server(env={"FLOWBOX_HOST": "0.0.0.0"}, data_dir=data).start()
    with server.client() as client:
        assert client.get("/api/v1/workflows").status_code == 401
        assert client.get("/healthz").status_code == 200


def test_webhooks_never_see_the_editor_login_and_cannot_act_as_flowbox(editor: Server) -> None:
    """Webhooks share the editor's origin: the session cookie is kept out of executions, their answers are
    sandboxed (a served page cannot script flowbox) and cannot set flowbox's cookies."""
    with editor.client() as client:
        setup_owner(client)
        csrf = login_json(client)
        respond = {"name": "Reply", "type": "respondToWebhook", "position": [200, 0], "parameters": {
            "body": "<script>fetch('/api/v1/users')</script>",
            "headers": {"Content-Type": "text/html", "Set-Cookie": "flowbox_session=planted; Path=/"}}}
        wf = workflow(node("Hook", "webhook", path="page", method="GET", respond="respondNode"), name="page")
        wf["nodes"].append(respond)
        wf["connections"] = {"Hook": {"main": [[{"node": "Reply", "type": "main", "index": 0}]]}}
        wf["active"] = True
        made = client.post("/api/v1/workflows", json=wf, headers={"X-CSRF-Token": csrf})
        assert made.status_code == 201, made.text
        page = client.get("/webhook/page", headers={"Cookie": client.headers.get("cookie", "")})
        assert page.status_code == 200, page.text
        assert page.headers["content-security-policy"].startswith("sandbox")
        assert page.headers["x-content-type-options"] == "nosniff"
        assert "flowbox_session" not in page.headers.get("set-cookie", "")
        runs = client.get("/api/v1/executions", params={"workflowId": made.json()["id"]}).json()["data"]
        execution = client.get(f"/api/v1/executions/{runs[0]['id']}").json()
        assert sessions.COOKIE not in str(execution["nodes"]["Hook"])
        # a cross-site page cannot sign a browser in (login CSRF)
        foreign = client.post("/api/v1/login", json={"email": "owner@example.com", "password": PASSWORD},
                              headers={"Origin": "https://evil.example"})
        assert foreign.status_code == 403


def test_session_helpers_are_strict_about_redirects_and_lenient_about_cookies() -> None:
    assert sessions.safe_next("/executions?x=1") == "/executions?x=1"
    for bad in ("https://evil.example/", "//evil.example", "/\t/evil.example/x", "/\\evil", "/a\r\nb", None, ""):
        assert sessions.safe_next(bad) == "/", bad
    header = 'zz={"a": 1}; flowbox_session=tok123; other=1'
    assert sessions.read_cookie(header) == "tok123"
    assert sessions.read_cookie("flowbox_sessionx=1") is None
