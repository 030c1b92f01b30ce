"""Listening triggers (`flowbox.listeners`) under a real Runtime on a real SQLite data dir.

Two trigger types are declared here: `testListen` (emits what a JSON file asks for, can crash on
request, records when it is cancelled) and `testPoll` (`polling()` over a JSON list in a file, its
cursor in static data). The files stand in for the outside system a trigger watches.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from pathlib import Path
from typing import Any

import pytest
import support
from support import Harness
from trigger_support import listener_state, run_services, trigger_outputs, until

from flowbox.errors import WorkflowInvalid
from flowbox.node import POLL_SECONDS, Item, Param, TriggerContext, node, polling

EVENTS: list[str] = []


async def listen_file(ctx: TriggerContext) -> None:
    """Each start: crash while `crashes` says so; emit `emit` once; then wait until cancelled."""
    path = Path(ctx.param("file"))
    spec = json.loads(path.read_text())
    EVENTS.append(f"start {ctx.node_name} {ctx.param('tag')}")
    try:
        if spec.get("crashes", 0) > 0:
            spec["crashes"] -= 1
            path.write_text(json.dumps(spec))
            raise ConnectionError("the source went away")
        started = ctx.static.get("starts", 0) + 1
        ctx.static["starts"] = started
        await ctx.emit([{**item, "start": started} for item in spec.get("emit", [])])
        await asyncio.Event().wait()
    finally:
        EVENTS.append(f"stop {ctx.node_name}")


@node(type="testListen", display_name="Test Listen", group="trigger", trigger=True, listen=listen_file,
      description="Emits what a file says (tests only)",
      params=[Param("file", "string", ""), Param("tag", "string", "")])
async def listen_node(ctx: Any, items: list[Item]) -> list[list[Item]]:
    return [items]


async def check_file(ctx: TriggerContext) -> list[Item]:
    """New entries of a JSON list after `static["seen"]`; "boom" fails the poll after moving the cursor."""
    entries = json.loads(Path(ctx.param("file")).read_text())
    seen = ctx.static.get("seen", 0)
    new = entries[seen:]
    ctx.static["seen"] = len(entries)
    if "boom" in new:
        raise ValueError("the source sent garbage")
    return [Item({"n": n}) for n in new]


@node(type="testPoll", display_name="Test Poll", group="trigger", trigger=True, listen=polling(check_file),
      description="Polls a JSON list in a file (tests only)", params=[Param("file", "string", ""), POLL_SECONDS])
async def poll_node(ctx: Any, items: list[Item]) -> list[list[Item]]:
    return [items]


def workflow(trigger: dict[str, Any], name: str = "listening") -> dict[str, Any]:
    """The trigger -> a Set node that tags what it passes on."""
    return support.workflow({"name": "T", "position": [0, 0], **trigger}, support.node("Tag", "set", fields={"seen": "yes"}),
                            name=name, settings={"timezone": "UTC"})


async def finished_inputs(services: Harness, workflow_id: str, count: int) -> list[list[dict[str, Any]]]:
    """What the trigger output in each successful execution, once there are `count` (the Set node ran too)."""
    runs = await trigger_outputs(services, workflow_id, count)
    for record in (await services.list_executions(workflow_id=workflow_id, status="success")).data:
        assert (await services.get_execution(record.id)).nodes["Tag"][0].outputs[0][0]["seen"] == "yes"
    return runs


# ---------------------------------------------------------------- emit, crash, deactivate, update


def test_emit_starts_an_execution_and_deactivate_stops_the_listener(tmp_path: Path) -> None:
    source = tmp_path / "source.json"
    source.write_text(json.dumps({"emit": [{"a": 1}, {"a": 2}]}))
    EVENTS.clear()

    async def body(services: Harness) -> None:
        record = await services.create_workflow(workflow({"type": "testListen",
                                                          "parameters": {"file": str(source), "tag": "v1"}}))
        await services.activate(record.id)
        [items] = await finished_inputs(services, record.id, 1)
        assert items == [{"a": 1, "start": 1}, {"a": 2, "start": 1}]
        [state] = services.trigger_listeners.describe()
        assert state["state"] == "running" and state["emitted"] == 1 and state["restarts"] == 0
        assert await services.store.get_static_data(record.id, "T") == {"starts": 1}  # saved after the emit

        await services.deactivate(record.id)
        await until(lambda: asyncio.sleep(0, "stop T" in EVENTS), what="the listener to stop")
        assert services.trigger_listeners.describe() == []
        await asyncio.sleep(0.1)
        page = await services.list_executions(workflow_id=record.id)
        assert len(page.data) == 1 and EVENTS == ["start T v1", "stop T"]

    run_services(tmp_path / "data", body)


def test_a_crashing_listener_is_restarted_with_backoff_and_logged(tmp_path: Path,
                                                                  caplog: pytest.LogCaptureFixture) -> None:
    source = tmp_path / "source.json"
    source.write_text(json.dumps({"crashes": 2, "emit": [{"ok": True}]}))
    EVENTS.clear()
    caplog.set_level(logging.INFO, logger="flowbox.listeners")

    async def body(services: Harness) -> None:
        record = await services.create_workflow(workflow({"type": "testListen", "parameters": {"file": str(source)}}))
        began = time.monotonic()
        await services.activate(record.id)
        [items] = await finished_inputs(services, record.id, 1)
        assert items == [{"ok": True, "start": 1}]
        assert time.monotonic() - began >= 0.05 + 0.1  # two backoffs: 0.05 s, then 0.1 s
        [state] = services.trigger_listeners.describe()
        assert state["restarts"] == 2 and state["state"] == "running"
        assert state["lastError"] == "ConnectionError: the source went away"

    run_services(tmp_path / "data", body)
    failures = [r.getMessage().split(", ", 1)[1] for r in caplog.records if r.levelno == logging.ERROR]
    assert failures == [f"trigger 'T' failed: ConnectionError: the source went away; restarting in {delay} s"
                        for delay in ("0.05", "0.1")]
    assert EVENTS.count("start T ") == 3 and EVENTS[-1] == "stop T"  # stopped cleanly on shutdown


def test_saving_a_workflow_restarts_only_a_changed_listener(tmp_path: Path) -> None:
    source = tmp_path / "source.json"
    source.write_text(json.dumps({"emit": [{"x": 1}]}))
    EVENTS.clear()

    async def body(services: Harness) -> None:
        data = workflow({"type": "testListen", "parameters": {"file": str(source), "tag": "v1"}})
        record = await services.create_workflow(data)
        await services.activate(record.id)
        await finished_inputs(services, record.id, 1)
        data["nodes"][1]["parameters"]["fields"] = {"seen": "yes", "more": "1"}  # another node changed
        await services.update_workflow(record.id, data)
        await asyncio.sleep(0.1)
        assert EVENTS == ["start T v1"]
        data["nodes"][0]["parameters"]["tag"] = "v2"  # the trigger changed: restarted, with its static data
        await services.update_workflow(record.id, data)
        runs = await finished_inputs(services, record.id, 2)
        assert runs[1] == [{"x": 1, "start": 2}]
        assert EVENTS == ["start T v1", "stop T", "start T v2"]

    run_services(tmp_path / "data", body)


def test_activation_needs_a_trigger_that_runs_by_itself_and_listeners_count(tmp_path: Path) -> None:
    source = tmp_path / "source.json"
    source.write_text("[]")

    async def body(services: Harness) -> None:
        manual = await services.create_workflow(workflow({"type": "manualTrigger", "parameters": {}}))
        with pytest.raises(WorkflowInvalid, match="no trigger that can run it by itself"):
            await services.activate(manual.id)
        polled = await services.create_workflow(workflow({"type": "testPoll", "parameters": {"file": str(source)}}))
        assert (await services.activate(polled.id)).active

    run_services(tmp_path / "data", body)


def test_a_worker_runs_no_listener(tmp_path: Path) -> None:
    source = tmp_path / "source.json"
    source.write_text(json.dumps([1]))

    async def body(services: Harness) -> None:
        record = await services.create_workflow(workflow({"type": "testPoll",
                                                          "parameters": {"file": str(source), "every": 0.1}}))
        await services.activate(record.id)
        await asyncio.sleep(0.3)
        assert services.trigger_listeners is None
        assert (await services.list_executions(workflow_id=record.id)).data == []

    run_services(tmp_path / "data", body, schedule=False)


# ---------------------------------------------------------------- polling cursor across restarts


def test_poll_cursor_survives_a_restart_without_repeats_or_skips(tmp_path: Path) -> None:
    source = tmp_path / "source.json"
    source.write_text(json.dumps([1, 2, 3]))
    data_dir = tmp_path / "data"
    ids: list[str] = []

    async def first(services: Harness) -> None:
        record = await services.create_workflow(workflow({"type": "testPoll",
                                                          "parameters": {"file": str(source), "every": 0.1}}))
        ids.append(record.id)
        await services.activate(record.id)
        assert await finished_inputs(services, record.id, 1) == [[{"n": 1}, {"n": 2}, {"n": 3}]]
        source.write_text(json.dumps([1, 2, 3, 4]))
        assert (await finished_inputs(services, record.id, 2))[1] == [{"n": 4}]
        await asyncio.sleep(0.25)  # more polls, nothing new
        assert await services.store.get_static_data(record.id, "T") == {"seen": 4}

    run_services(data_dir, first)
    source.write_text(json.dumps([1, 2, 3, 4, 5, "boom", 6]))  # arrived while the server was down

    async def second(services: Harness) -> None:
        (wid,) = ids
        # a poll that fails after moving its cursor saves nothing: the restarted listener reads 5 again
        state = await listener_state(services, wid, lambda s: s["restarts"] >= 2)
        assert state["lastError"] == "the source sent garbage"
        assert await services.store.get_static_data(wid, "T") == {"seen": 4}
        source.write_text(json.dumps([1, 2, 3, 4, 5, 6, 7]))  # the source fixed its entry
        runs = await finished_inputs(services, wid, 3)
        assert runs == [[{"n": 1}, {"n": 2}, {"n": 3}], [{"n": 4}], [{"n": 5}, {"n": 6}, {"n": 7}]]
        await asyncio.sleep(0.25)
        assert len((await services.list_executions(workflow_id=wid)).data) == 3

    run_services(data_dir, second)
