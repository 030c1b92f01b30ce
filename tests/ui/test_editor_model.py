"""The editor's edits on workflow JSON: paste (from n8n too), rename, remove, copy."""

from __future__ import annotations

import json

import pytest

from flowbox.ui.editor import (
    add_connection,
    paste_nodes,
    remove_nodes,
    rename_node,
    selection_json,
    unique_name,
)
from flowbox.workflow import load_workflow, validate


def doc() -> dict:
    return {"name": "w", "nodes": [{"name": "Start", "type": "manualTrigger", "position": [0, 0], "parameters": {}},
                                   {"name": "Set", "type": "set", "position": [200, 0], "parameters": {}}],
            "connections": {"Start": {"main": [[{"node": "Set", "type": "main", "index": 0}]]}},
            "pinData": {"Set": [{"a": 1}]}}


def test_unique_names_follow_n8n() -> None:
    assert unique_name("Set", {"Start"}) == "Set"
    assert unique_name("Set", {"Set", "Set 1"}) == "Set 2"
    assert unique_name("Set 1", {"Set 1"}) == "Set 2"


def test_paste_n8n_workflow_json_renames_and_keeps_its_connections() -> None:
    d = doc()
    n8n = {"nodes": [{"name": "Set", "type": "set", "typeVersion": 3, "position": [500, 300], "parameters": {}},
                     {"name": "Check", "type": "if", "position": [720, 300], "parameters": {}}],
           "connections": {"Set": {"main": [[{"node": "Check", "type": "main", "index": 0}]]}}}
    added = paste_nodes(d, json.dumps(n8n), [100, 400])
    assert added == ["Set 1", "Check"]
    assert d["nodes"][-2]["position"] == [100, 400] and d["nodes"][-1]["position"] == [320, 400]
    assert d["connections"]["Set 1"]["main"][0][0]["node"] == "Check"
    validate(load_workflow(d))  # still a valid workflow
    with pytest.raises(ValueError):
        paste_nodes(d, json.dumps({"hello": 1}), [0, 0])


def test_rename_updates_connections_and_pins_and_remove_cleans_up() -> None:
    d = doc()
    rename_node(d, "Set", "Total")
    assert d["connections"]["Start"]["main"][0][0]["node"] == "Total" and "Total" in d["pinData"]
    remove_nodes(d, {"Total"})
    assert [n["name"] for n in d["nodes"]] == ["Start"] and d["connections"]["Start"]["main"] == [[]]
    assert d["pinData"] == {}


def test_copy_takes_only_connections_inside_the_selection() -> None:
    d = doc()
    add_connection(d, "Set", 0, "Start", 0)
    copied = json.loads(selection_json(d, ["Set"]))
    assert [n["name"] for n in copied["nodes"]] == ["Set"] and copied["connections"] == {}
    both = json.loads(selection_json(d, ["Start", "Set"]))
    assert both["connections"]["Start"]["main"][0][0]["node"] == "Set"


def test_a_workflow_with_a_sticky_note_validates_and_runs() -> None:
    import asyncio

    from flowbox.engine.runner import Runner

    d = doc()
    d["nodes"].append({"name": "Note", "type": "stickyNote", "position": [0, 200],
                       "parameters": {"content": "Explain the flow"}})
    d["pinData"] = {}
    result = asyncio.run(Runner(load_workflow(d)).run())
    assert result.status == "success" and "Note" not in result.runs
    d["nodes"] = [n for n in d["nodes"] if n["type"] != "manualTrigger"]  # no trigger: roots start, notes don't
    d["connections"] = {}
    result = asyncio.run(Runner(load_workflow(d)).run())
    assert "Note" not in result.runs and "Set" in result.runs
