"""Drive the editor's pages in-process with NiceGUI's simulated `User` (no browser, no server).

Each test is a coroutine `scenario(user, services)` run by the `simulate` fixture in one
`asyncio.run`: a `Harness` (a Runtime) on a temp data dir (the same operations the API uses), the
pages registered on a fresh NiceGUI app by `flowbox.ui.pages.register`, and a `User`
talking to it through NiceGUI's `user_simulation`. This needs no pytest plugin, so it
changes nothing for the rest of the suite. As NiceGUI's own `user` fixture does, a test
fails when anything logged an ERROR (an exception in an event handler is logged, not raised).
"""

from __future__ import annotations

import asyncio
import logging
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from nicegui.testing import User
from nicegui.testing.user_simulation import user_simulation
from support import Harness

from flowbox.settings import Settings

Scenario = Callable[[User, Harness], Awaitable[None]]


@pytest.fixture
def simulate(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> Callable[..., None]:
    def run(scenario: Scenario, *, setup: Callable[[Harness], Awaitable[Any]] | None = None) -> None:
        asyncio.run(_run(tmp_path / "data", scenario, setup))
        errors = [r for r in caplog.get_records("call") if r.levelno >= logging.ERROR and not _all_cancelled(r)]
        assert not errors, "\n".join(r.getMessage() + (f"\n{r.exc_text}" if r.exc_text else "") for r in errors)

    return run


def _all_cancelled(record: logging.LogRecord) -> bool:
    """NiceGUI's teardown waits 2 s for the page tasks it cancels and logs an ERROR past that, naming the tasks
    still running; on a loaded machine the loop may be late while every task has ended: nothing named, no
    error of the page."""
    return (record.name == "nicegui" and str(record.msg).startswith("Could not cancel")
            and isinstance(record.args, tuple) and len(record.args) == 2 and not record.args[1])


async def _run(data_dir: Path, scenario: Scenario, setup: Callable[[Harness], Awaitable[Any]] | None) -> None:
    data_dir.mkdir(parents=True, exist_ok=True)
    services = Harness(Settings(data_dir=data_dir, database_url=f"sqlite:///{data_dir / 'flowbox.db'}", workers=1))
    await services.start(schedule=False)
    # NiceGUI's reset drops the modules of page functions from sys.modules afterwards (they
    # belong to the app under test there); flowbox's must stay the ones every other test imported.
    kept = {name: module for name, module in sys.modules.items() if name.split(".")[0] == "flowbox"}
    try:
        if setup is not None:
            await setup(services)
        async with user_simulation() as user:
            from flowbox.ui import pages

            pages.register(services)
            _stub_editor()
            await scenario(user, services)
    finally:
        sys.modules.update(kept)
        await services.stop(timeout=5)


def _stub_editor() -> None:
    """`/workflow/{id}` is the canvas editor's page (its own module): a stand-in to navigate to."""
    from nicegui import ui

    @ui.page("/workflow/{workflow_id}")
    def editor_stub(workflow_id: str) -> None:
        ui.label(f"editor of {workflow_id}")

