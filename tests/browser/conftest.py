"""Browser tests: Debian's headless Chromium driven by Playwright (no browser downloads).

Chromium is /usr/bin/chromium (override with FLOWBOX_CHROMIUM); install it with
`apt-get install -y chromium`. Without it, or without the `playwright` package, these tests skip,
unless FLOWBOX_REQUIRE_SERVICES=1, which makes them fail instead.

Fixtures:
    browser_page   a fresh Chromium (own --user-data-dir) with one page; console errors are collected
                   in `browser_page.errors` (a list attached to the page)
    shot           shot("name") writes tests/artifacts/<name>.png of the current page and returns its path
    flowbox_server a real `flowbox serve` with the editor (tests/server/conftest.py `Server`, ui=True)
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from server.conftest import Server  # tests/ is on sys.path (rootdir-relative conftest imports)
from support import unavailable

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
