"""An execution's page in a real browser, signed in as the owner: a running execution is stopped with its
Stop button and ends "Canceled", keeping the data of the nodes that had finished."""

from __future__ import annotations

import time
from typing import Any

from support import node

from .conftest import Owner


def test_the_owner_stops_a_running_execution(owner: Owner, shot: Any) -> None:
    nodes = [node("Start", "manualTrigger"), node("Before", "set", fields={"step": "before"}),
             node("Pause", "wait", resume="time", seconds=4), node("After", "noOp")]
    wid = owner.create_workflow("Slow flow", nodes)
    with owner.api() as http:
        execution = http.post(f"/api/v1/workflows/{wid}/run", json={"wait": False}).json()
        deadline = time.monotonic() + 10
        while http.get(f"/api/v1/executions/{execution['id']}").json()["status"] != "running":
            assert time.monotonic() < deadline
            time.sleep(0.05)
    page = owner.page
    owner.goto(f"/execution/{execution['id']}")
    page.get_by_test_id("stop").wait_for()
    shot("execution-running")
    page.get_by_test_id("stop").click()
    page.wait_for_function("document.querySelector('[data-testid=status]')?.textContent.trim() === 'Canceled'")
    assert page.get_by_test_id("stop").count() == 0
    shot("execution-stopped")
    with owner.api() as http:
        record = http.get(f"/api/v1/executions/{execution['id']}").json()
    assert record["status"] == "canceled" and "Before" in record["nodes"] and "After" not in record["nodes"]
