"""The executions list (filters, opening one) and one execution (nodes, items, error, retry, delete)."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from nicegui import ui
from nicegui.testing import User
from support import Harness, node, workflow

from flowbox.store.base import ExecutionRecord, Page
from flowbox.ui.executions import fetch_executions, item_table, node_order, output_labels

from .test_workflows_page import until

FAILING = workflow(node("Start", "manualTrigger"), node("Boom", "stopAndError",
                                                                        message="Something broke badly"), name="Failing flow")
PASSING = workflow(node("Start", "manualTrigger"), node("Check", "if"), name="Invoice mailer")


def rows_of(user: User) -> list[dict[str, Any]]:
    table = next(iter(user.find(marker="executions").elements))
    return list(table.rows)


async def ids_shown(user: User, expected: list[str]) -> None:
    async def check() -> bool:
        return [r["id"] for r in rows_of(user)] == expected

    await until(check)


def test_the_list_shows_every_run_and_filters_by_status_and_workflow(simulate: Any) -> None:
    ids: dict[str, str] = {}

    async def setup(services: Harness) -> None:
        good = await services.create_workflow(PASSING)
        bad = await services.create_workflow(FAILING)
        ids["good"], ids["bad"] = good.id, bad.id
        ids["ok_run"] = (await services.run_workflow(good.id, [{"a": 1}])).id
        ids["bad_run"] = (await services.run_workflow(bad.id, [{"a": 1}])).id

    async def scenario(user: User, services: Harness) -> None:
        await user.open("/executions")
        await user.should_see("2 executions")
        rows = rows_of(user)
        assert [(r["workflow"], r["status"], r["mode"]) for r in rows] == [
            ("Failing flow", "error", "manual"), ("Invoice mailer", "success", "manual")]
        assert all(r["duration"].endswith("ms") for r in rows)

        status = next(iter(user.find(marker="filter-status").elements))
        with user:
            status.value = "error"
        await ids_shown(user, [ids["bad_run"]])
        await user.should_see("1 execution")
        with user:
            status.value = "success"
        await ids_shown(user, [ids["ok_run"]])

        await user.open(f"/executions?workflow={ids['bad']}&since=24h")
        await ids_shown(user, [ids["bad_run"]])
        assert next(iter(user.find(marker="filter-workflow").elements)).value == ids["bad"]

        user.find(marker="executions").trigger("rowClick", [{}, {"id": ids["ok_run"]}, 0])
        await user.should_see("Execution ID")
        assert user.back_history[-1] == f"/execution/{ids['ok_run']}"

    simulate(scenario, setup=setup)


def test_a_deleted_workflows_runs_keep_its_name(simulate: Any) -> None:
    async def setup(services: Harness) -> None:
        record = await services.create_workflow(PASSING)
        await services.run_workflow(record.id, [{}])
        await services.delete_workflow(record.id)

    async def scenario(user: User, services: Harness) -> None:
        await user.open("/executions")
        await user.should_see("1 execution")
        assert rows_of(user)[0]["workflow"] == "Invoice mailer (deleted)"

    simulate(scenario, setup=setup)


def test_one_execution_shows_nodes_items_and_outputs(simulate: Any) -> None:
    ids: dict[str, str] = {}

    async def setup(services: Harness) -> None:
        record = await services.create_workflow(PASSING)
        ids["run"] = (await services.run_workflow(record.id, [{"a": 1, "nested": {"b": [1, 2]}}, {"a": 2}])).id

    async def scenario(user: User, services: Harness) -> None:
        await user.open(f"/execution/{ids['run']}")
        await user.should_see("Invoice mailer")
        await user.should_see("Succeeded")
        await user.should_see(marker="node-Start")
        await user.should_see(marker="node-Check")
        await user.should_see("2 items")
        await user.should_see("true (2)")  # the If node's outputs are named by its type
        await user.should_see("false (0)")
        tables = [t for t in user.find(marker="items-table").elements]
        assert any(t.rows[0] == {"c0": "1", "c1": '{"b": [1, 2]}', "_i": 0} for t in tables)
        await user.should_not_see(marker="items-json")
        toggle = sorted(user.find(kind=ui.toggle).elements, key=lambda e: e.id)[0]
        with user:
            toggle.value = "JSON"
        await user.should_see(marker="items-json")
        code = next(iter(user.find(marker="items-json").elements))
        assert json.loads(code.content)[0]["nested"] == {"b": [1, 2]}

    simulate(scenario, setup=setup)


def test_a_failed_execution_shows_its_error_retries_and_deletes(simulate: Any) -> None:
    ids: dict[str, str] = {}

    async def setup(services: Harness) -> None:
        record = await services.create_workflow(FAILING)
        ids["workflow"] = record.id
        ids["run"] = (await services.run_workflow(record.id, [{"a": 1}])).id

    async def scenario(user: User, services: Harness) -> None:
        await user.open(f"/execution/{ids['run']}")
        await user.should_see("Node 'Boom' failed")
        await user.should_see(marker="node-error")
        await user.should_see("Something broke badly")

        user.find(marker="retry-start").click()
        await user.should_see("Execution ID")

        async def retried() -> bool:
            runs = (await services.list_executions(workflow_id=ids["workflow"])).data
            return len(runs) == 2 and user.back_history[-1] == f"/execution/{runs[0].id}"

        await until(retried)
        new = (await services.list_executions(workflow_id=ids["workflow"])).data[0]
        assert new.retry_of == ids["run"] and new.mode == "retry"
        await user.should_see("Retry of")

        await user.open(f"/execution/{ids['run']}")
        user.find(marker="delete").click()
        await user.should_see("Delete execution?")
        user.find(marker="confirm-ok").click()
        await user.should_see("Execution deleted")
        await until(lambda: _gone(services, ids["run"]))
        back = f"/executions?workflow={ids['workflow']}"

        async def went_back() -> bool:  # the page navigates after the store has deleted it
            return user.back_history[-1] == back

        await until(went_back)

    simulate(scenario, setup=setup)


async def _gone(services: Harness, execution_id: str) -> bool:
    return all(r.id != execution_id for r in (await services.list_executions()).data)


def test_an_unknown_execution_says_so(simulate: Any) -> None:
    async def scenario(user: User, services: Harness) -> None:
        await user.open("/execution/nope")
        await user.should_see("Execution not found")

    simulate(scenario)


# ---------------------------------------------------------------- helpers, without a page

class FakeServices:
    def __init__(self, records: list[ExecutionRecord]) -> None:
        self.records = records

    async def list_executions(self, *, workflow_id: str | None = None, status: str | None = None,
                              limit: int = 50, cursor: str | None = None) -> Page[ExecutionRecord]:
        return Page(self.records[:limit], "next" if len(self.records) > limit else None)


def test_the_time_range_stops_at_the_first_older_run() -> None:
    import asyncio

    now = dt.datetime.now(dt.UTC)
    records = [ExecutionRecord(id=str(i), workflow_id="w", status="success", mode="manual",
                               started_at=now - dt.timedelta(hours=i)) for i in range(5)]
    fake: Any = FakeServices(records)
    kept, cursor = asyncio.run(fetch_executions(fake, workflow_id=None, status=None,
                                                since=now - dt.timedelta(hours=2, minutes=30)))
    assert [r.id for r in kept] == ["0", "1", "2"] and cursor is None
    kept, cursor = asyncio.run(fetch_executions(fake, workflow_id=None, status=None, since=None, limit=2))
    assert [r.id for r in kept] == ["0", "1"] and cursor == "next"


def test_item_tables_outputs_and_order() -> None:
    columns, rows = item_table([{"a": 1, "b": {"c": "x" * 200}}, {"d": None}, "plain"])
    assert [c["label"] for c in columns] == ["#", "a", "b", "d"]
    assert rows[0]["c0"] == "1" and rows[0]["c1"].endswith("…") and len(rows[0]["c1"]) == 80
    assert rows[1] == {"_i": 1, "c2": "null"} and rows[2] == {"_i": 2, "c0": "plain"}
    assert output_labels({"name": "If", "type": "if", "parameters": {}}, 2) == ["true", "false"]
    assert output_labels({"name": "X", "type": "set", "onError": "continueErrorOutput"}, 2) == ["Output 1", "error"]
    assert output_labels({"name": "X", "type": "gone"}, 2) == ["Output 1", "Output 2"]
    assert output_labels(None, 1) == ["Output 1"]
    t0 = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    from flowbox.store.base import NodeRun

    record = ExecutionRecord(id="e", workflow_id=None, status="success", mode="manual", nodes={
        "B": [NodeRun("B", 0, [[]], started_at=t0 + dt.timedelta(seconds=2))],
        "A": [NodeRun("A", 0, [[]], started_at=t0)], "C": [NodeRun("C", 0, [[]])]})
    assert node_order(record) == ["A", "B", "C"]


def test_a_running_execution_updates_itself_until_it_finishes(simulate: Any) -> None:
    slow = workflow(node("Start", "manualTrigger"), node("Pause", "wait", seconds=0.6),
                    node("Done", "noOp"), name="Slow flow")

    async def scenario(user: User, services: Harness) -> None:
        record = await services.create_workflow(slow)
        run = await services.run_workflow(record.id, [{"n": 1}], wait=False)
        await user.open(f"/execution/{run.id}")
        badge = next(iter(user.find(marker="status").elements))
        assert badge.text in ("Queued", "Running", "New")

        async def finished() -> bool:
            shown = user.find(marker="status").elements
            return bool(shown) and next(iter(shown)).text == "Succeeded"

        await until(finished, timeout=5)
        await user.should_see(marker="node-Done")

    simulate(scenario)


def test_stop_ends_a_running_execution_from_its_page(simulate: Any) -> None:
    slow = workflow(node("Start", "manualTrigger"), node("Before", "noOp"), node("Pause", "wait", seconds=3),
                    node("Done", "noOp"), name="Slow flow")

    async def scenario(user: User, services: Harness) -> None:
        record = await services.create_workflow(slow)
        run = await services.run_workflow(record.id, [{"n": 1}], wait=False)

        async def running() -> bool:
            return (await services.get_execution(run.id)).status == "running"

        await until(running, timeout=5)
        await user.open(f"/execution/{run.id}")
        user.find(marker="stop").click()

        async def canceled() -> bool:
            shown = user.find(marker="status").elements
            return bool(shown) and next(iter(shown)).text == "Canceled"

        await until(canceled, timeout=5)
        stopped = await services.get_execution(run.id)
        assert stopped.status == "canceled" and "Before" in stopped.nodes and "Done" not in stopped.nodes
        await user.should_not_see(marker="stop")  # a finished execution offers no Stop

    simulate(scenario)


def test_an_execution_shows_the_custom_data_its_run_saved(simulate: Any) -> None:
    """What an Execution Data node saved is shown with the execution's facts."""
    ids: dict[str, str] = {}
    tagged = workflow(node("Start", "manualTrigger"),
                      node("Tag", "executionData", data=[{"key": "customer", "value": "{{ $json.who }}"}]),
                      name="Tagged flow")

    async def setup(services: Harness) -> None:
        record = await services.create_workflow(tagged)
        ids["run"] = (await services.run_workflow(record.id, [{"who": "Ann Example"}])).id

    async def scenario(user: User, services: Harness) -> None:
        await user.open(f"/execution/{ids['run']}")
        await user.should_see("Execution ID")
        await user.should_see("customer")
        await user.should_see("Ann Example")

    simulate(scenario, setup=setup)
