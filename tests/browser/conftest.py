"""Browser tests: Debian's headless Chromium driven by Playwright (no browser downloads).

Chromium is /usr/bin/chromium (override with FLOWBOX_CHROMIUM); install it with
`apt-get install -y chromium`. Without it, or without the `playwright` package, these tests skip,
unless FLOWBOX_REQUIRE_SERVICES=1, which makes them fail instead.

Fixtures:
    browser_page   a fresh Chromium (own --user-data-dir) with one page; console errors are collected
                   in `browser_page.errors` (a list attached to the page)
    shot           shot("name") writes tests/artifacts/<name>.png of the current page and returns its path
    flowbox_server a real `flowbox serve` with the editor (tests/server/conftest.py `Server`, ui=True)
    owner          that server with an owner account, signed in on `browser_page` (the path every user
                   takes); `owner.api()` is an HTTP client that sends the owner's API key
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from server.conftest import FLOWBOX, Server  # tests/ is on sys.path (rootdir-relative conftest imports)
from support import chained, unavailable

CHROMIUM = os.environ.get("FLOWBOX_CHROMIUM", "/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
LAUNCH_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
               "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage"]



@pytest.fixture(scope="module")
def playwright() -> Iterator[Any]:
    """Per module: Playwright's sync API keeps an event loop running while it is open, and other tests'
    `asyncio.run` must not find one."""
    if not (os.path.isfile(CHROMIUM) and os.access(CHROMIUM, os.X_OK)) and not shutil.which(CHROMIUM):
        unavailable(f"no Chromium at {CHROMIUM} (apt-get install -y chromium, or set FLOWBOX_CHROMIUM)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        unavailable("the playwright package is not installed (pip install -e '.[test]')")
    with sync_playwright() as pw:
        yield pw


@pytest.fixture
def browser_page(playwright: Any, tmp_path: Path) -> Iterator[Any]:
    context = playwright.chromium.launch_persistent_context(
        str(tmp_path / "chromium-profile"), executable_path=CHROMIUM, headless=True, args=LAUNCH_ARGS,
        viewport={"width": 1280, "height": 800}, device_scale_factor=1, timeout=30_000,
        permissions=["clipboard-read", "clipboard-write"])
    page = context.pages[0] if context.pages else context.new_page()
    page.set_default_timeout(10_000)
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.errors = errors
    try:
        yield page
    finally:
        context.close()


@pytest.fixture
def shot(browser_page: Any) -> Callable[[str], Path]:
    def take(name: str) -> Path:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        path = ARTIFACTS / f"{name}.png"
        browser_page.screenshot(path=str(path))
        return path

    return take


@pytest.fixture
def flowbox_server(tmp_path: Path) -> Iterator[Server]:
    srv = Server(tmp_path / "data", ui=True).start()
    try:
        yield srv
    finally:
        if srv.proc is not None and srv.proc.poll() is None:
            srv.stop()


OWNER_EMAIL, OWNER_PASSWORD = "owner@example.com", "a long owner password"


@dataclass
class Owner:
    """The owner of `server`, signed in on `page`."""

    server: Server
    page: Any
    key: str

    def api(self) -> httpx.Client:
        """An HTTP client on the server that sends the owner's API key."""
        return self.server.client(headers={"X-API-Key": self.key})

    def goto(self, path: str) -> None:
        self.page.goto(f"{self.server.url}{path}")

    def create_workflow(self, name: str, nodes: list[dict[str, Any]], connected: bool = True) -> str:
        """Store a workflow of `nodes` (chained in order unless `connected` is False); its id."""
        with self.api() as http:
            answer = http.post("/api/v1/workflows", json={"name": name, "nodes": nodes,
                                                          "connections": chained(nodes) if connected else {}})
        assert answer.status_code == 201, answer.text
        return answer.json()["id"]

    def open_editor(self, name: str, nodes: list[dict[str, Any]], connected: bool = True) -> str:
        """Store a workflow and open it in the editor, waiting until its nodes are drawn; its id."""
        wid = self.create_workflow(name, nodes, connected)
        self.goto(f"/workflow/{wid}")
        self.page.wait_for_selector(".vue-flow__pane")
        self.page.wait_for_function(f"document.querySelectorAll('.fb-node').length === {len(nodes)}")
        return wid


def open_node(page: Any, name: str) -> None:
    """Click the node on the canvas and wait until the side panel shows it."""
    page.locator(f'.vue-flow__node[data-id="{name}"] .fb-label').click()
    page.wait_for_function("name => document.querySelector('[data-testid=side] [data-testid=node-name] input, "
                           "[data-testid=side] input[data-testid=node-name]')?.value === name", arg=name)


def flowbox_cli(server: Server, *args: str, stdin: str | None = None) -> str:
    """Run `flowbox ARGS` on the server's data dir; its stdout."""
    done = subprocess.run([FLOWBOX, *args], input=stdin, capture_output=True, text=True, env=server.env,
                          timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    return done.stdout


def sign_in(page: Any, server: Server, email: str, password: str) -> None:
    """Sign in on the login page as a user would."""
    page.goto(f"{server.url}/login")
    page.get_by_test_id("email").fill(email)
    page.get_by_test_id("password").fill(password)
    page.get_by_test_id("submit").click()
    page.get_by_test_id("user-menu").wait_for()


@pytest.fixture
def owner(browser_page: Any, flowbox_server: Server) -> Owner:
    flowbox_cli(flowbox_server, "user", "create", OWNER_EMAIL, "--role", "owner", "--password-stdin",
                stdin=OWNER_PASSWORD + "\n")
    key = flowbox_cli(flowbox_server, "apikey", "create", "--user", OWNER_EMAIL).strip().splitlines()[-1]
    sign_in(browser_page, flowbox_server, OWNER_EMAIL, OWNER_PASSWORD)
    return Owner(flowbox_server, browser_page, key)
