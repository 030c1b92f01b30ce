"""The editor's canvas and dialogs in a real browser, signed in as the owner: Ctrl+S / Ctrl+Enter from a
field, edges between close nodes, where dropped nodes land, selection and side panel in step, the import
dialog's result per file, and no Vue Flow warnings on load."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from support import chained

from browser.conftest import Owner, open_node

TWO = [{"name": "Start", "type": "manualTrigger", "position": [0, 0], "parameters": {}},
       {"name": "Greet", "type": "set", "position": [220, 0], "parameters": {"fields": {"hello": "world"}}}]


def test_ctrl_s_and_ctrl_enter_work_while_typing_in_a_field(owner: Owner, shot: Any) -> None:
    page = owner.page
    wid = owner.open_editor("Keys", TWO)
    open_node(page, "Greet")
    name = page.get_by_test_id("node-name")
    name.click()
    page.keyboard.press("End")
    page.keyboard.type(" there")
    page.keyboard.press("Control+s")  # focus still in the field
    page.wait_for_selector("text=Saved (version")
    with owner.api() as http:
        saved = http.get(f"/api/v1/workflows/{wid}").json()
    assert "Greet there" in {n["name"] for n in saved["nodes"]}, saved["nodes"]
    page.get_by_test_id("side").locator(".cm-content").first.click()
    page.keyboard.press("Control+Enter")
    page.wait_for_function("document.querySelectorAll('.fb-node.st-success').length === 2", timeout=20_000)
    shot("keys-ran-from-a-field")


def edge_box(page: Any) -> dict[str, float]:
    return page.locator(".vue-flow__edge path").first.bounding_box()


def test_edges_between_close_nodes_are_curves_not_loops(owner: Owner, shot: Any) -> None:
    page = owner.page
    nodes = [{"name": "A", "type": "manualTrigger", "position": [0, 0], "parameters": {}},
             {"name": "B", "type": "noOp", "position": [220, 0], "parameters": {}},
             {"name": "C", "type": "noOp", "position": [440, 40], "parameters": {}}]
    owner.open_editor("Close", nodes)
    for source in ("A", "B"):
        edge = page.locator(f'.vue-flow__edge[data-id^="{source}:"] path').first.bounding_box()
        below = max(page.locator(f'.vue-flow__node[data-id="{n}"]').bounding_box()["y"]
                    + page.locator(f'.vue-flow__node[data-id="{n}"]').bounding_box()["height"] for n in "ABC")
        assert edge["y"] + edge["height"] < below, (source, edge, below)  # never a loop under the nodes
    shot("canvas-close-nodes")


def test_dropped_nodes_never_land_on_each_other_and_the_panel_follows_the_selection(owner: Owner,
                                                                                   shot: Any) -> None:
    page = owner.page
    owner.open_editor("Drops", [])
    for type_ in ("webhook", "set", "respondToWebhook", "set"):
        page.drag_and_drop(f'[data-testid="palette-{type_}"]', ".vue-flow__pane",
                           target_position={"x": 300, "y": 200})
    page.wait_for_function("document.querySelectorAll('.fb-node').length === 4")
    boxes = [page.locator(".vue-flow__node").nth(i).bounding_box() for i in range(4)]
    for i, a in enumerate(boxes):
        for b in boxes[i + 1:]:
            apart = (a["x"] + a["width"] <= b["x"] or b["x"] + b["width"] <= a["x"] or
                     a["y"] + a["height"] <= b["y"] or b["y"] + b["height"] <= a["y"])
            assert apart, (a, b)
    page.wait_for_timeout(300)
    selected = page.evaluate("[...document.querySelectorAll('.vue-flow__node.selected')].map(n => n.dataset.id)")
    assert selected == ["Edit Fields (Set) 1"], selected
    assert page.get_by_test_id("node-name").input_value() == "Edit Fields (Set) 1"
    page.locator('.vue-flow__node[data-id="Webhook"] .fb-label').click()
    page.wait_for_timeout(300)
    assert page.get_by_test_id("node-name").input_value() == "Webhook"
    assert page.evaluate("[...document.querySelectorAll('.vue-flow__node.selected')].map(n => n.dataset.id)") \
        == ["Webhook"]
    page.locator(".vue-flow__pane").click(position={"x": 40, "y": 40})
    page.get_by_test_id("workflow-summary").wait_for()
    assert "4 nodes" in page.get_by_test_id("workflow-summary").inner_text()
    page.keyboard.press("Control+a")
    page.keyboard.press("Control+c")
    page.mouse.move(500, 500)
    page.wait_for_function("async () => (await navigator.clipboard.readText()).includes('nodes')")
    page.evaluate("""async () => { const d = new DataTransfer();
        d.setData('text/plain', await navigator.clipboard.readText());
        document.dispatchEvent(new ClipboardEvent('paste', {clipboardData: d, bubbles: true})); }""")
    page.wait_for_function("document.querySelectorAll('.fb-node').length === 8")
    page.wait_for_timeout(300)
    summary = page.get_by_test_id("workflow-summary").inner_text()
    assert "8 nodes" in summary and "4 nodes selected" in summary, summary
    shot("canvas-dropped-apart")


def test_the_import_dialog_says_per_file_whether_it_was_imported(owner: Owner, shot: Any, tmp_path: Path) -> None:
    page = owner.page
    bad = tmp_path / "broken.json"
    bad.write_text(json.dumps({"name": "Broken", "nodes": [{"name": "X", "type": "noSuchNode"}],
                               "connections": {}}))
    good = tmp_path / "fine.json"
    good.write_text(json.dumps({"name": "Fine", "nodes": TWO, "connections": chained(TWO)}))
    owner.goto("/")
    page.get_by_text("Import").first.click()
    page.locator('[data-testid="import-file"] input[type=file], input[type=file]').first.set_input_files(str(bad))
    page.get_by_test_id("import-result").first.wait_for()
    result = page.get_by_test_id("import-result").first
    assert "broken.json" in result.inner_text() and "noSuchNode" in result.inner_text(), result.inner_text()
    assert result.get_attribute("data-ok") == "false"
    dialog = page.locator(".q-dialog")
    assert "0.00%" not in dialog.inner_text() and "0.0B" not in dialog.inner_text(), dialog.inner_text()
    assert dialog.locator(".q-uploader__file--uploaded").count() == 0  # no success tick on a failure
    shot("import-failed-file")
    page.locator("input[type=file]").first.set_input_files(str(good))
    page.wait_for_function("[...document.querySelectorAll('[data-testid=import-result]')]"
                           ".some(e => e.dataset.ok === 'true' && e.textContent.includes('fine.json'))")
    shot("import-both-files")


def test_the_editor_loads_without_vue_flow_warnings(owner: Owner) -> None:
    page = owner.page
    warnings: list[str] = []
    page.on("console", lambda m: warnings.append(m.text) if m.type in ("warning", "error") else None)
    owner.open_editor("Quiet", TWO)
    page.wait_for_timeout(500)
    page.reload()
    page.wait_for_function("document.querySelectorAll('.fb-node').length === 2")
    page.wait_for_timeout(500)
    assert not [w for w in warnings if "vue flow" in w.lower() or "Vue Flow" in w], warnings
