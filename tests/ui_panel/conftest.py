"""Helpers for driving a ParamPanel with NiceGUI's simulated user (no browser, no server).

NiceGUI's `user` fixture needs pytest-asyncio and a main file; `user_simulation(root=...)`
needs neither, so each test runs its own short event loop with `asyncio.run` (no new test
dependency, nothing changed for the rest of the suite).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from nicegui import ElementFilter
from nicegui.testing.user import User
from nicegui.testing.user_simulation import user_simulation

from flowbox import registry
from flowbox.preview import preview_expression

Simulate = Callable[[Callable[[], None], Callable[[User], Awaitable[None]]], None]


@pytest.fixture
def simulate(caplog: pytest.LogCaptureFixture) -> Simulate:
    """`simulate(root, check)`: serve `root` as the page "/", open it as a simulated user, run `check(user)`.

    Like NiceGUI's `user` fixture, it fails the test when anything logged an ERROR: an exception
    in an event handler or a background task is logged, not raised.
    """

    def run(root: Callable[[], None], check: Callable[[User], Awaitable[None]]) -> None:
        async def main() -> None:
            async with user_simulation(root=root) as user:
                await user.open("/")
                await check(user)

        with caplog.at_level(logging.ERROR):
            asyncio.run(main())
        errors = [r.getMessage() for r in caplog.get_records("call") if r.levelno >= logging.ERROR]
        assert not errors, errors

    return run


def element(user: User, marker: str) -> Any:
    """The one element carrying `marker`, shown or hidden."""
    with user:
        found = list(ElementFilter(marker=marker))  # hidden ones too (user.find skips them)
    assert len(found) == 1, f"{len(found)} elements marked {marker!r}"
    return found[0]


def set_value(user: User, marker: str, value: Any) -> None:
    """Set an input's value as a browser edit would (fires its on_change)."""
    with user:
        element(user, marker).value = value


def spec(type_: str) -> dict[str, Any]:
    return registry.get(type_).to_dict()


def previewer(item: dict[str, Any] | None, node: str = "Node", calls: list[str] | None = None) -> Callable[..., Any]:
    """A preview callback like the editor's: evaluates for `item`, recording the parameter paths asked."""

    def preview(path: str, value: Any) -> Any:
        if calls is not None:
            calls.append(path)
        return preview_expression(value, node=node, parameter=path, item=item)

    return preview


@pytest.fixture
def changes() -> list[dict[str, Any]]:
    return []

