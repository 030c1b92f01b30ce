"""Owner setup, sign-in and sign-out in a real browser; API keys from the Settings page; the editor keeps
working under its security headers (CSP) with no console errors."""

from __future__ import annotations

from typing import Any

from server.conftest import Server

PASSWORD = "a long password"


def test_setup_owner_sign_in_create_key_sign_out(browser_page: Any, shot: Any, flowbox_server: Server) -> None:
    page = browser_page
    page.goto(f"{flowbox_server.url}/")
    page.get_by_test_id("setup-banner").wait_for()
    page.get_by_text("Set up the owner account").click()
    page.wait_for_url("**/setup")
    page.get_by_test_id("email").fill("owner@example.com")
    page.get_by_test_id("password").fill(PASSWORD)
    page.get_by_test_id("confirm").fill(PASSWORD)
    shot("setup-owner")
    page.get_by_test_id("submit").click()
    page.wait_for_url(f"{flowbox_server.url}/")
    page.get_by_test_id("user-menu").wait_for()
    assert page.get_by_test_id("setup-banner").count() == 0

    page.goto(f"{flowbox_server.url}/settings")
    page.locator('input[data-testid="api-key-name"], [data-testid="api-key-name"] input').fill("from the browser")
    page.get_by_test_id("create-api-key").click()
    key = page.locator('input[data-testid="new-api-key"], [data-testid="new-api-key"] input').input_value()
    assert key.startswith("fbk_")
    shot("api-key-created")
    with flowbox_server.client() as http:
        me = http.get("/api/v1/me", headers={"X-API-Key": key})
        assert me.status_code == 200 and me.json()["user"]["email"] == "owner@example.com"
    page.keyboard.press("Escape")

    page.get_by_test_id("user-menu").click()
    page.get_by_test_id("sign-out").click()
    page.wait_for_url("**/login")
    page.goto(f"{flowbox_server.url}/executions")
    page.wait_for_url("**/login?next=/executions")
    page.get_by_test_id("email").fill("owner@example.com")
    page.get_by_test_id("password").fill("wrong password")
    page.get_by_test_id("submit").click()
    page.get_by_test_id("error").wait_for()
    assert "wrong email or password" in page.get_by_test_id("error").inner_text().lower()
    page.get_by_test_id("password").fill(PASSWORD)
    page.get_by_test_id("submit").click()
    page.wait_for_url("**/executions")
    shot("signed-in-executions")
    csp_errors = [e for e in page.errors if "Content Security Policy" in e or "Refused" in e]
    assert not csp_errors, csp_errors
