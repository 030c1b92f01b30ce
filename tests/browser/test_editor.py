"""The editor in a real browser, signed in as the owner: build a workflow from the palette, connect it, fill parameters, run it,
read the output table, save, reload, and open the past execution. Screenshots go to tests/artifacts/."""

from __future__ import annotations

import time
from typing import Any

from browser.conftest import Owner


def node(page: Any, name: str) -> Any:
    return page.locator(f'.vue-flow__node[data-id="{name}"]')


def center(box: dict[str, float]) -> tuple[float, float]:
    return box["x"] + box["width"] / 2, box["y"] + box["height"] / 2


def connect(page: Any, source: str, output: int, target: str, index: int) -> None:
    start = center(node(page, source).locator(f'.vue-flow__handle[data-handleid="out-{output}"]').bounding_box())
    end = center(node(page, target).locator(f'.vue-flow__handle[data-handleid="in-{index}"]').bounding_box())
    page.mouse.move(*start)
    page.mouse.down()
    page.mouse.move(*end, steps=12)
    page.mouse.up()


def test_build_run_reload_and_reopen(owner: Owner, shot: Any) -> None:
    page, flowbox_server = owner.page, owner.server
    with owner.api() as http:
        wid = http.post("/api/v1/workflows", json={"name": "Built in the browser", "nodes": [],
                                                   "connections": {}}).json()["id"]
    page.goto(f"{flowbox_server.url}/workflow/{wid}")
    page.wait_for_selector(".vue-flow__pane")
    shot("editor-1-empty")

    for i, type_ in enumerate(["manualTrigger", "set", "if"]):
        page.drag_and_drop(f'[data-testid="palette-{type_}"]', ".vue-flow__pane",
                           target_position={"x": 200 + 60 * i, "y": 90 + 190 * i})
        page.wait_for_function(f"document.querySelectorAll('.fb-node').length === {i + 1}")
    shot("editor-2-dropped")
    connect(page, "Manual Trigger", 0, "Edit Fields (Set)", 0)
    page.wait_for_function("document.querySelectorAll('.vue-flow__edge').length === 1")
    connect(page, "Edit Fields (Set)", 0, "If", 0)
    page.wait_for_function("document.querySelectorAll('.vue-flow__edge').length === 2")

    node(page, "Edit Fields (Set)").locator(".fb-label").click()
    editor = page.locator('[data-testid="side"] .cm-content').first
    editor.click()
    page.keyboard.press("Control+A")
    page.keyboard.insert_text('{"total": "{{ 6 * 7 }}", "who": "ada"}')
    page.wait_for_timeout(400)
    node(page, "If").locator(".fb-label").click()
    condition = page.locator('[data-testid="side"]').get_by_label("Condition")
    condition.fill("{{ $json.total > 40 }}")
    condition.blur()
    page.wait_for_timeout(400)
    shot("editor-3-parameters")

    page.locator('[data-testid="run"]').click()
    page.wait_for_function("document.querySelectorAll('.fb-node.st-success').length === 3", timeout=20_000)
    node(page, "If").locator(".fb-label").click()
    output = page.locator('[data-testid="output"]')
    output.wait_for()
    text = output.inner_text()
    assert "42" in text and "ada" in text and "true: 1 item" in text, text
    shot("editor-4-ran")

    page.locator('[data-testid="save"]').click()
    page.wait_for_selector("text=Saved (version")
    page.reload()
    page.wait_for_function("document.querySelectorAll('.fb-node').length === 3")
    assert page.locator(".vue-flow__edge").count() == 2
    shot("editor-5-reloaded")

    with owner.api() as http:
        saved = http.get(f"/api/v1/workflows/{wid}").json()
        assert {n["type"] for n in saved["nodes"]} == {"manualTrigger", "set", "if"}
        runs = http.get("/api/v1/executions", params={"workflowId": wid}).json()["data"]
    assert runs and runs[0]["status"] == "success" and runs[0]["mode"] == "manual"

    start = time.monotonic()
    page.goto(f"{flowbox_server.url}/workflow/{wid}?execution={runs[0]['id']}")
    page.wait_for_function("document.querySelectorAll('.fb-node.st-success').length === 3")
    assert time.monotonic() - start < 10
    assert page.locator('[data-testid="run"]').count() == 0  # read-only
    shot("editor-6-past-execution")
    assert not [e for e in page.errors if "favicon" not in e], page.errors


def transform(page: Any) -> tuple[float, float, float]:
    """(x, y, zoom) of the canvas viewport."""
    return tuple(page.evaluate(
        "() => { const m = new DOMMatrix(getComputedStyle(document.querySelector("
        "'.vue-flow__transformationpane')).transform); return [m.e, m.f, m.a]; }"))


def test_a_100_node_workflow_opens_fast_and_the_touchpad_pans(owner: Owner, shot: Any) -> None:
    page, flowbox_server = owner.page, owner.server
    nodes = [{"name": "Start", "type": "manualTrigger", "position": [0, 0], "parameters": {}}] + [
        {"name": f"Step {i}", "type": "set", "position": [240 * (i % 10), 160 * (i // 10 + 1)],
         "parameters": {"fields": {f"f{i}": i}}} for i in range(99)]
    names = [n["name"] for n in nodes]
    connections = {a: {"main": [[{"node": b}]]} for a, b in zip(names, names[1:], strict=False)}
    with owner.api() as http:
        wid = http.post("/api/v1/workflows", json={"name": "Hundred", "nodes": nodes,
                                                   "connections": connections}).json()["id"]
    start = time.monotonic()
    page.goto(f"{flowbox_server.url}/workflow/{wid}")
    page.wait_for_function("document.querySelectorAll('.fb-node').length === 100", polling="raf")
    opened = time.monotonic() - start
    print(f"100-node workflow: page open to all nodes drawn {opened:.2f} s")
    assert opened < 5  # includes loading the page; the canvas' own render is measured in test_canvas.py
    assert page.locator(".vue-flow__edge").count() == 99
    shot("editor-7-hundred-nodes")

    pane = page.locator(".vue-flow__pane").bounding_box()
    page.mouse.move(pane["x"] + pane["width"] / 2, pane["y"] + pane["height"] / 2)
    before = transform(page)
    page.mouse.wheel(0, 300)  # two-finger scroll on a touchpad: pans, keeps the zoom
    page.wait_for_timeout(300)
    after = transform(page)
    assert after[2] == before[2] and (after[0], after[1]) != (before[0], before[1])
    page.keyboard.down("Control")  # a pinch arrives as ctrl + wheel
    page.mouse.wheel(0, -300)
    page.keyboard.up("Control")
    page.wait_for_timeout(300)
    assert transform(page)[2] > after[2]
