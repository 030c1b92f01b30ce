"""The Settings page's Users section in a real browser, signed in as the owner: disable a member (her API key
is refused at once), enable her, reset her password, delete another member with a transfer-to pick."""

from __future__ import annotations

import subprocess
import time
from typing import Any

from server.conftest import FLOWBOX, Server

PASSWORD = "a long password"


def cli(server: Server, *args: str, stdin: str | None = None) -> str:
    done = subprocess.run([FLOWBOX, *args, "--data-dir", str(server.data_dir)], input=stdin, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def field(page: Any, test_id: str) -> Any:
    return page.locator(f'input[data-testid="{test_id}"], [data-testid="{test_id}"] input')


def test_owner_disables_enables_resets_and_deletes_users(browser_page: Any, shot: Any,
                                                         flowbox_server: Server) -> None:
    page, url = browser_page, flowbox_server.url
    for email, role in (("owner@example.com", "owner"), ("ann@example.com", "member"), ("bob@example.com", "member")):
        cli(flowbox_server, "user", "create", email, "--role", role, "--password-stdin", stdin=PASSWORD + "\n")
    ann_key = {"X-API-Key": cli(flowbox_server, "apikey", "create", "--user", "ann@example.com")}
    with flowbox_server.client() as http:
        deadline = time.monotonic() + 5  # the server sees users made by the CLI within a second
        while http.get("/api/v1/workflows").status_code != 401:
            assert time.monotonic() < deadline
            time.sleep(0.1)
        assert http.get("/api/v1/workflows", headers=ann_key).status_code == 200

    page.goto(f"{url}/login")
    page.get_by_test_id("email").fill("owner@example.com")
    page.get_by_test_id("password").fill(PASSWORD)
    page.get_by_test_id("submit").click()
    page.wait_for_url(f"{url}/")
    page.goto(f"{url}/settings")
    ann = page.get_by_test_id("user-ann@example.com")
    ann.wait_for()
    assert page.get_by_test_id("user-owner@example.com").get_by_text("you").count() == 1
    assert page.get_by_test_id("disable-owner@example.com").count() == 0  # not offered for yourself
    shot("users-1-settings")

    page.get_by_test_id("disable-ann@example.com").click()
    page.locator(".q-dialog").get_by_role("button", name="Disable").click()
    ann.get_by_test_id("disabled-badge").wait_for()
    page.get_by_test_id("enable-ann@example.com").wait_for()
    shot("users-2-ann-disabled")
    with flowbox_server.client() as http:
        assert http.get("/api/v1/workflows", headers=ann_key).status_code == 401  # at once
        refused = http.post("/api/v1/login", json={"email": "ann@example.com", "password": PASSWORD})
        assert refused.status_code == 403 and "disabled" in refused.text

    page.get_by_test_id("enable-ann@example.com").click()
    page.get_by_test_id("disable-ann@example.com").wait_for()
    assert ann.get_by_test_id("disabled-badge").count() == 0
    page.get_by_test_id("password-ann@example.com").click()
    field(page, "new-password").fill("her fresh password")
    page.get_by_test_id("password-save").click()
    page.get_by_text("New password set for ann@example.com").wait_for()
    with flowbox_server.client() as http:
        assert http.post("/api/v1/login", json={"email": "ann@example.com",
                                                "password": "her fresh password"}).status_code == 200

    page.get_by_test_id("delete-bob@example.com").click()
    dialog = page.locator(".q-dialog")
    dialog.get_by_text("owner@example.com").wait_for()  # the transfer-to pick defaults to the signed-in owner
    page.wait_for_timeout(400)  # let the dialog finish fading in for the screenshot
    shot("users-3-delete-dialog")
    page.get_by_test_id("delete-user-ok").click()
    page.get_by_test_id("user-bob@example.com").wait_for(state="detached")
    shot("users-4-bob-deleted")
    with flowbox_server.client() as http:
        assert http.post("/api/v1/login", json={"email": "bob@example.com", "password": PASSWORD}).status_code == 401
    assert not [e for e in page.errors if "Content Security Policy" in e], page.errors
