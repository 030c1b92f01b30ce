"""The editor's edits on workflow JSON: paste (from n8n too), rename, remove, copy, where new nodes land, and
a stored execution's inputs read back for the Input pane."""

from __future__ import annotations

import json

import pytest

from flowbox.store.base import NodeRun
from flowbox.ui.editor import (
    add_connection,
    free_position,
    paste_nodes,
    remove_nodes,
    rename_node,
    selection_json,
    stored_runs,
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


def test_a_new_node_lands_on_a_free_spot() -> None:
    d = doc()
    assert free_position(d, [600, 0]) == [600, 0]
    assert free_position(d, [210, 10]) == [210, 110]  # on "Set": moved below it
    d["nodes"].append({"name": "Below", "type": "noOp", "position": [200, 100]})
    assert free_position(d, [200, 0]) == [200, 200]
    d["nodes"].append({"name": "Note", "type": "stickyNote", "position": [800, 0]})
    assert free_position(d, [800, 0]) == [800, 0]  # notes sit behind nodes


def test_stored_runs_read_each_nodes_inputs_back_from_the_connections() -> None:
    d = {"nodes": [{"name": n, "type": "noOp"} for n in ("Hook", "If", "Yes", "No", "Merge")],
         "connections": {"Hook": {"main": [[{"node": "If"}]]},
                         "If": {"main": [[{"node": "Yes"}, {"node": "Merge", "index": 0}],
                                         [{"node": "No"}, {"node": "Merge", "index": 1}]]}}}
    nodes = {"Hook": [NodeRun("Hook", 0, [[{"n": 1}, {"n": 2}]])],
             "If": [NodeRun("If", 0, [[{"n": 2}], [{"n": 1}]], source="Hook")],
             "Yes": [NodeRun("Yes", 0, [[{"n": 2}]], source="If")],
             "Merge": [NodeRun("Merge", 0, [[{"n": 2}, {"n": 1}]], source="If")],
             "No": [NodeRun("No", 0, [], error="boom", source="If")]}
    runs = stored_runs(d, nodes)
    assert runs["Hook"][0]["inputs"] == []
    assert runs["If"][0]["inputs"] == [[{"n": 1}, {"n": 2}]]
    assert runs["Yes"][0]["inputs"] == [[{"n": 2}]]
    assert runs["No"][0] == {"inputs": [[{"n": 1}]], "outputs": [], "error": "boom"}
    assert runs["Merge"][0]["inputs"] == [[{"n": 2}], [{"n": 1}]]


def test_a_placeholder_is_drawn_as_not_available_with_the_inputs_it_uses() -> None:
    from flowbox import registry
    from flowbox.n8n import convert
    from flowbox.ui.canvas import to_canvas
    from flowbox.ui.n8n_report import replaced

    n8n = {"nodes": [{"name": "A", "type": "n8n-nodes-base.manualTrigger", "typeVersion": 1, "parameters": {}},
                     {"name": "B", "type": "n8n-nodes-base.noOp", "typeVersion": 1, "parameters": {}},
                     {"name": "Air", "type": "n8n-nodes-base.airtable", "typeVersion": 2, "parameters": {}}],
           "connections": {"A": {"main": [[{"node": "Air", "type": "main", "index": 0}]]},
                           "B": {"main": [[{"node": "Air", "type": "main", "index": 1}]]}}}
    workflow = convert(n8n).workflow
    nodes, _ = to_canvas(workflow, registry.get_or_none)
    air = next(n for n in nodes if n["id"] == "Air")
    assert air["placeholder"] and air["subtitle"] == "not available in flowbox: n8n-nodes-base.airtable"
    assert air["inputs"] == 2  # the two in use, not the ten a placeholder may take
    assert not next(n for n in nodes if n["id"] == "B")["placeholder"]
    new = replaced(workflow["nodes"][2], "noOp", {})
    assert new == {"name": "Air", "type": "noOp", "parameters": {}}
