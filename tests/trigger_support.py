"""Helpers for tests of listening triggers: a real Runtime on a real SQLite data dir, and waiting for
the executions an active workflow records."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from support import Harness

from flowbox.settings import Settings


def run_services(data_dir: Path, body: Callable[[Harness], Awaitable[None]], **start: Any) -> None:
    """Start a runtime (its `Harness`) on `data_dir` (listener backoff shortened), `await body(services)`, stop it."""

    async def main() -> None:
        services = Harness(Settings.load(data_dir, shutdown_timeout=5))
        await services.start(**start)
        if services.trigger_listeners is not None:
            services.trigger_listeners.backoff_first = 0.05
        try:
            await body(services)
        finally:
            await services.stop(timeout=5)

    asyncio.run(main())


async def until(check: Callable[[], Awaitable[Any]], timeout: float = 10, what: str = "condition") -> Any:
    """`await check()` until it is truthy (returned), or fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = await check()
        if value:
            return value
        await asyncio.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


async def trigger_outputs(services: Harness, workflow_id: str, count: int, node: str = "T",
                          timeout: float = 10) -> list[list[dict[str, Any]]]:
    """Once the workflow has `count` successful executions: what `node` output in each, oldest first."""

    async def check() -> list[Any] | None:
        page = await services.list_executions(workflow_id=workflow_id, limit=200)
        done = [e for e in page.data if e.status == "success"]
        if len(done) < count:
            return None
        out = []
        for record in reversed(done):
            full = await services.get_execution(record.id)
            assert full.mode == "trigger", full.mode
            out.append(full.nodes[node][0].outputs[0])
        return out

    return await until(check, timeout, what=f"{count} finished executions")


async def listener_state(services: Harness, workflow_id: str, check: Callable[[dict[str, Any]], bool],
                         timeout: float = 10) -> dict[str, Any]:
    """The state of the workflow's (one) listener once `check(state)` holds."""

    async def find() -> dict[str, Any] | None:
        states = [s for s in services.trigger_listeners.describe() if s["workflowId"] == workflow_id]
        return states[0] if states and check(states[0]) else None

    return await until(find, timeout, what="the listener state")
