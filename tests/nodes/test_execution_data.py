"""executionData through the real engine and CLI: key/values saved on the execution (the last item's win), n8n's
limits refused with a message, kept across a Wait's snapshot, and stored with the execution."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from conftest import RunNode
from n8n_support import cli, n8n_node, n8n_workflow

from flowbox.engine.runner import Runner
from flowbox.engine.snapshot import freeze, thaw
from flowbox.workflow import load_workflow


def save(*rows: dict[str, Any]) -> dict[str, Any]:
    return {"name": "Save", "type": "executionData", "parameters": {"data": list(rows)}}


def test_the_last_items_values_stay_and_items_pass_on(run_node: RunNode) -> None:
    result = run_node(save({"key": "order", "value": "{{ $json.id }}"}, {"key": "kind", "value": "test"}),
                      [{"id": 7}, {"id": 8}])
    assert result.status == "success", result.error
    assert [i.json for i in result.runs["Save"][-1].outputs[0]] == [{"id": 7}, {"id": 8}]
    assert result.custom_data == {"order": "8", "kind": "test"}
    assert result.to_json()["customData"] == {"order": "8", "kind": "test"}


@pytest.mark.parametrize(("rows", "message"), [
    ([{"key": "k" * 51, "value": "v"}], "must have 1 to 50 characters"),
    ([{"key": "k", "value": "v" * 256}], "the value has 256 characters; at most 255"),
    ([{"key": f"k{n}", "value": "v"} for n in range(11)], "at most 10 custom data keys"),
])
def test_n8ns_limits_are_refused_naming_what_is_too_much(run_node: RunNode, rows: list[dict[str, Any]],
                                                         message: str) -> None:
    result = run_node(save(*rows))
    assert result.status == "error" and message in result.error["message"]
    assert result.error["node"] == "Save"


def test_custom_data_survives_a_snapshot() -> None:
    runner = Runner(load_workflow({"name": "x", "nodes": [{"name": "A", "type": "noOp", "parameters": {}}],
                                   "connections": {}}))
    runner.custom_data = {"order": "9"}
    from flowbox.engine.state import Task

    again = Runner(runner.workflow)
    thaw(again, freeze(runner, [], {}, Task("A", [[]], None), "wait"))
    assert again.custom_data == {"order": "9"}


def test_an_n8n_execution_data_node_stores_it_with_the_execution(capsys: pytest.CaptureFixture[str],
                                                                  tmp_path: Path) -> None:
    data = n8n_workflow(n8n_node("Start", "manualTrigger"),
                        n8n_node("Tag", "executionData", 1, {"dataToSave": {"values": [
                            {"key": "customer", "value": "={{ $json.name }}"}]}}),
                        pinData={"Start": [{"json": {"name": "Ann"}}]})
    path = tmp_path / "tag.json"
    path.write_text(json.dumps(data))
    code, out, err = cli(capsys, "run", str(path), "--json", "--data-dir", str(tmp_path / "data"))
    assert code == 0, err
    ran = json.loads(out)
    assert ran["customData"] == {"customer": "Ann"}
    code, out, err = cli(capsys, "execution", ran["executionId"], "--data-dir", str(tmp_path / "data"))
    assert code == 0, err
    assert json.loads(out)["customData"] == {"customer": "Ann"}
