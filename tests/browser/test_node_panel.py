"""The node panel in a real browser, signed in as the owner: expression previews, the Input pane, the
webhook URLs, the credential picker next to Authentication, and the read-only execution view."""

from __future__ import annotations

from typing import Any

from browser.conftest import Owner, open_node

PRICED = [
    {"name": "Start", "type": "manualTrigger", "position": [0, 0], "parameters": {}},
    {"name": "Order", "type": "set", "position": [240, 0],
     "parameters": {"fields": {"body": {"price": 3, "qty": 4}}}},
    {"name": "Total", "type": "set", "position": [480, 0], "parameters": {"fields": {"total": 0}}},
]


def test_expression_preview_shows_the_value_when_signed_in(owner: Owner, shot: Any) -> None:
    page = owner.page
    owner.open_editor("Preview", PRICED)
    page.get_by_test_id("run").click()
    page.wait_for_function("document.querySelectorAll('.fb-node.st-success').length === 3", timeout=20_000)
    open_node(page, "Total")
    editor = page.locator('[data-testid="side"] .cm-content').first
    editor.click()
    page.keyboard.press("Control+A")
    page.keyboard.insert_text('{"total": "{{ $json.body.price * $json.body.qty }}"}')
    preview = page.locator('[data-testid="side"] .fb-preview').first
    page.wait_for_function("() => [...document.querySelectorAll('[data-testid=side] .fb-preview')]"
                           ".some(e => e.textContent.trim().length > 0)")
    shot("panel-preview-signed-in")
    text = preview.inner_text()
    assert "preview failed" not in text and "12" in text, text


HOOKED = [
    {"name": "Hook", "type": "webhook", "position": [0, 0],
     "parameters": {"path": "orders", "method": "POST", "respond": "lastNode"}},
    {"name": "Total", "type": "set", "position": [240, 0],
     "parameters": {"fields": {"total": "{{ $json.body.price * $json.body.qty }}"}}},
]


def input_pane(page: Any) -> str:
    pane = page.get_by_test_id("input")
    pane.get_by_text("Input", exact=True).click()  # open the Input section
    page.wait_for_timeout(500)
    return pane.inner_text()


def test_the_input_pane_shows_the_items_after_a_test_event_and_in_a_past_execution(owner: Owner, shot: Any) -> None:
    page = owner.page
    wid = owner.open_editor("Hooked", HOOKED)
    open_node(page, "Hook")
    page.get_by_text("Listen for test event").click()
    page.get_by_text("Listening for a test call").wait_for()
    with owner.server.client() as http:  # a caller from outside: no flowbox key
        answer = http.post("/webhook-test/orders", json={"price": 3, "qty": 4})
    assert answer.status_code == 200 and answer.json()["total"] == 12, answer.text
    page.get_by_text("Received a call.").wait_for()
    page.wait_for_function("document.querySelectorAll('.fb-node.st-success').length === 2")
    open_node(page, "Total")
    text = input_pane(page)
    shot("panel-input-after-test-event")
    assert "No items" not in text and "price" in text, text

    with owner.api() as http:
        (run,) = http.get("/api/v1/executions", params={"workflowId": wid}).json()["data"]
    owner.goto(f"/workflow/{wid}?execution={run['id']}")
    page.wait_for_function("document.querySelectorAll('.fb-node.st-success').length === 2")
    open_node(page, "Total")
    text = input_pane(page)
    assert "No items" not in text and "price" in text, text


def test_the_webhook_urls_follow_the_path_as_it_is_typed(owner: Owner, shot: Any) -> None:
    page = owner.page
    owner.open_editor("Paths", [])
    page.get_by_test_id("palette-webhook").dblclick()
    page.wait_for_function("document.querySelectorAll('.fb-node').length === 1")
    url = page.get_by_test_id("test-url")
    generated = url.inner_text().rsplit("/webhook-test/", 1)[1]
    assert len(generated) >= 8, url.inner_text()  # a new webhook gets a unique path, as in n8n
    path = page.get_by_label("path")
    path.fill("orders/new")
    page.wait_for_function("document.querySelector('[data-testid=test-url]').textContent.endsWith("
                           "'/webhook-test/orders/new')")
    assert page.get_by_test_id("prod-url").inner_text().endswith("/webhook/orders/new")
    assert page.get_by_test_id("test-url").inner_text().startswith(f"Test: {owner.server.url}/")
    page.get_by_text("Listen for test event").click()
    page.get_by_text("Listening for a test call").wait_for()
    assert page.get_by_test_id("test-url").inner_text().endswith("/webhook-test/orders/new")
    shot("panel-webhook-urls")


def test_the_credential_picker_follows_authentication_and_creates_on_the_spot(owner: Owner, shot: Any) -> None:
    page = owner.page
    nodes = [{"name": "Start", "type": "manualTrigger", "position": [0, 0], "parameters": {}},
             {"name": "Call", "type": "httpRequest", "position": [260, 0],
              "parameters": {"url": "http://127.0.0.1:9/x"}}]
    wid = owner.open_editor("Signed", nodes)
    open_node(page, "Call")
    assert page.get_by_test_id("credential-select").count() == 0
    page.get_by_role("combobox", name="authentication").click()
    page.get_by_role("option", name="httpHeaderAuth", exact=True).click()
    picker = page.get_by_test_id("credential-select")
    picker.wait_for()  # at once, without selecting the node again
    # right under Authentication, before the parameters that follow it
    order = page.evaluate("""() => {
        const side = document.querySelector('[data-testid=side]');
        const all = [...side.querySelectorAll('[data-testid=credential-select], .q-field__label')];
        return all.map(e => e.dataset.testid || e.textContent.trim());
    }""")
    at = order.index("Credential (httpHeaderAuth)")
    assert order[at - 1] == "Authentication", order
    page.get_by_test_id("credential-create").click()
    page.locator('[data-testid="cred-name"] input, input[data-testid="cred-name"]').fill("Billing header")
    page.locator('[data-testid="cred-field-name"] input, input[data-testid="cred-field-name"]').fill("X-Key")
    page.locator('[data-testid="cred-field-value"] input, input[data-testid="cred-field-value"]').fill("s3cret")
    page.get_by_test_id("cred-save").click()
    page.wait_for_function("document.querySelector('[data-testid=credential-select]')"
                           ".textContent.includes('Billing header')")
    shot("panel-credential-created")
    page.get_by_test_id("save").click()
    page.wait_for_selector("text=Saved (version")
    with owner.api() as http:
        saved = http.get(f"/api/v1/workflows/{wid}").json()
        (cred,) = http.get("/api/v1/credentials").json()["data"]
    call = next(n for n in saved["nodes"] if n["name"] == "Call")
    assert call["parameters"]["authentication"] == "httpHeaderAuth"
    assert call["credentials"] == {"httpHeaderAuth": cred["id"]}


def test_the_read_only_execution_view_offers_no_editing(owner: Owner, shot: Any) -> None:
    page = owner.page
    wid = owner.create_workflow("Past", PRICED)
    with owner.api() as http:
        run = http.post(f"/api/v1/workflows/{wid}/run", json={"wait": True}).json()
    owner.goto(f"/workflow/{wid}?execution={run['id']}")
    page.wait_for_function("document.querySelectorAll('.fb-node.st-success').length === 3")
    open_node(page, "Order")
    side = page.get_by_test_id("side")
    assert side.get_by_test_id("run-to").count() == 0
    assert side.get_by_test_id("pin").count() == 0
    editable = page.evaluate("""() => [...document.querySelectorAll(
        '[data-testid=side] input, [data-testid=side] textarea')].filter(e => !e.disabled && !e.readOnly)
        .map(e => e.getAttribute('aria-label') || e.name || e.outerHTML.slice(0, 80))""")
    assert editable == [], editable
    assert page.evaluate("() => [...document.querySelectorAll('[data-testid=side] .cm-content')]"
                         ".every(e => e.getAttribute('contenteditable') === 'false')")
    assert side.locator("button:has-text('Add'):visible, button:has-text('fx'):visible").count() == 0
    shot("panel-read-only")


def test_a_new_code_node_starts_from_the_example(owner: Owner) -> None:
    page = owner.page
    owner.open_editor("Code", [])
    page.get_by_test_id("palette-code").dblclick()
    page.wait_for_function("document.querySelectorAll('.fb-node').length === 1")
    code = page.get_by_test_id("side").locator(".cm-content").first
    code.wait_for()
    assert "return" in code.inner_text()
