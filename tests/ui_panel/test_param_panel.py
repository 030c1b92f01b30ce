"""The parameter panel, driven by NiceGUI's simulated user: one field per schema entry, rows for
lists, live showIf, the fx expression toggle with its preview, and the node's settings."""

from __future__ import annotations

import asyncio
from typing import Any

from nicegui import ui
from nicegui.testing.user import User

from flowbox.preview import Preview, preview_expression
from flowbox.ui.param_panel import ParamPanel, credential_kind, from_expression, to_expression

from .conftest import Simulate, element, previewer, set_value, spec


def visible(user: User, marker: str) -> bool:
    """Whether the element and all its ancestors are shown (what should_see checks, without waiting)."""
    found = element(user, marker)
    return all(e.visible for e in (found, *found.ancestors()))


def test_set_node_renders_its_schema_and_refuses_invalid_json(simulate: Simulate, changes: list[dict[str, Any]]) -> None:
    node = {"name": "Total", "type": "set", "parameters": {"fields": {"total": 3}}}

    def root() -> None:
        ParamPanel(spec("set"), node, changes.append)

    async def check(user: User) -> None:
        editor = element(user, "param:fields")
        assert isinstance(editor, ui.codemirror) and editor.props["language"] == "JSON"
        assert '"total": 3' in editor.value
        assert isinstance(element(user, "param:keepOnly"), ui.switch)
        await user.should_see(marker="add:remove")  # a list of plain paths
        await user.should_not_see(marker="error:fields")

        set_value(user, "param:fields", '{"total": ')
        await user.should_see(marker="error:fields")
        assert "Invalid JSON" in element(user, "error:fields").text
        assert changes == []  # an invalid edit is not passed on

        set_value(user, "param:fields", '{"total": "{{ $json.price * 2 }}", "a.b": 1}')
        await user.should_not_see(marker="error:fields")
        assert changes[-1]["parameters"]["fields"] == {"total": "{{ $json.price * 2 }}", "a.b": 1}

        user.find(marker="param:keepOnly").click()
        assert changes[-1]["parameters"]["keepOnly"] is True
        user.find(marker="add:remove").click()
        set_value(user, "param:remove[0]", "secret")
        assert changes[-1]["parameters"]["remove"] == ["secret"]
        assert changes[-1]["name"] == "Total" and changes[-1]["type"] == "set"
        assert node["parameters"] == {"fields": {"total": 3}}  # the caller's dict is never mutated

    simulate(root, check)


def test_if_node_condition_rows_add_remove_reorder(simulate: Simulate, changes: list[dict[str, Any]]) -> None:
    node = {"name": "Big?", "type": "if",
            "parameters": {"conditions": [{"left": "{{ $json.total }}", "op": "gt", "right": "100"}]}}

    def root() -> None:
        ParamPanel(spec("if"), node, changes.append)

    async def check(user: User) -> None:
        await user.should_see(marker="row:conditions[0]")
        assert element(user, "param:conditions[0].op").value == "gt"
        assert element(user, "param:conditions[0].right").value == "100"
        assert isinstance(element(user, "param:conditions[0].left"), ui.textarea)  # opened as an expression

        user.find(marker="add:conditions").click()
        await user.should_see(marker="row:conditions[1]")
        assert changes[-1]["parameters"]["conditions"][1] == {"left": "", "op": "equals", "right": "", "type": "",
                                                                  "ignoreCase": False}
        set_value(user, "param:conditions[1].left", "x")
        set_value(user, "param:conditions[1].op", "isEmpty")
        assert changes[-1]["parameters"]["conditions"][1] == {"left": "x", "op": "isEmpty", "right": "", "type": "",
                                                                  "ignoreCase": False}

        user.find(marker="up:conditions[1]").click()
        assert [c["left"] for c in changes[-1]["parameters"]["conditions"]] == ["x", "{{ $json.total }}"]
        assert element(user, "param:conditions[0].left").value == "x"  # rows re-rendered in the new order

        user.find(marker="remove:conditions[0]").click()
        await user.should_not_see(marker="row:conditions[1]")
        assert changes[-1]["parameters"]["conditions"] == [{"left": "{{ $json.total }}", "op": "gt", "right": "100"}]

        set_value(user, "param:combine", "or")
        assert changes[-1]["parameters"]["combine"] == "or"

    simulate(root, check)


def test_switch_show_if_toggles_fields_live(simulate: Simulate, changes: list[dict[str, Any]]) -> None:
    node = {"name": "Route", "type": "switch", "parameters": {"rules": [{"condition": "{{ $json.a }}"}]}}

    def root() -> None:
        ParamPanel(spec("switch"), node, changes.append)

    async def check(user: User) -> None:
        await user.should_see(marker="param:rules[0].condition")
        assert visible(user, "holder:rules") and visible(user, "holder:fallback")
        assert not visible(user, "holder:output") and not visible(user, "holder:outputs")

        set_value(user, "param:mode", "expression")
        assert not visible(user, "holder:rules") and not visible(user, "holder:fallback")
        assert visible(user, "holder:output") and visible(user, "holder:outputs")
        assert element(user, "param:outputs").props["max"] == 64

        set_value(user, "param:mode", "rules")
        assert visible(user, "holder:rules") and not visible(user, "holder:outputs")
        # a nested list: the rule's own condition rows
        user.find(marker="add:rules[0].conditions").click()
        await user.should_see(marker="param:rules[0].conditions[0].left")
        set_value(user, "param:rules[0].conditions[0].right", "7")
        assert changes[-1]["parameters"]["rules"][0]["conditions"] == [{"left": "", "op": "equals", "right": "7", "type": "",
                                                                          "ignoreCase": False}]
        assert changes[-1]["parameters"]["mode"] == "rules"

    simulate(root, check)


def test_show_if_inside_list_rows_uses_the_row_values(simulate: Simulate) -> None:
    row = [{"name": "kind", "kind": "options", "options": ["text", "number"], "default": "text", "label": "Kind"},
           {"name": "size", "kind": "number", "default": 1, "label": "Size", "showIf": {"kind": ["number"]}}]
    fake = {"type": "x", "params": [{"name": "cols", "kind": "list", "label": "Cols", "default": [], "fields": row}]}
    node = {"name": "X", "type": "x", "parameters": {"cols": [{"kind": "text"}, {"kind": "number"}]}}

    def root() -> None:
        ParamPanel(fake, node, lambda n: None)

    async def check(user: User) -> None:
        await user.should_see(marker="holder:cols[0].kind")
        assert not visible(user, "holder:cols[0].size") and visible(user, "holder:cols[1].size")
        set_value(user, "param:cols[0].kind", "number")
        assert visible(user, "holder:cols[0].size")

    simulate(root, check)


def test_code_node_gets_a_python_editor(simulate: Simulate, changes: list[dict[str, Any]]) -> None:
    node = {"name": "Code", "type": "code", "parameters": {}}

    def root() -> None:
        ParamPanel(spec("code"), node, changes.append)

    async def check(user: User) -> None:
        editor = element(user, "param:code")
        assert isinstance(editor, ui.codemirror) and editor.props["language"] == "Python"
        assert editor.value == ""  # no default code: a code node without code is refused, not run as an example
        user.find(marker="param:code").type("return items")
        assert changes[-1]["parameters"]["code"] == "return items"
        assert element(user, "param:timeout").props["min"] == 0.1
        await user.should_not_see(marker="fx:code")  # code is code, not an expression

    simulate(root, check)


def test_expression_toggle_and_live_preview(simulate: Simulate, changes: list[dict[str, Any]]) -> None:
    node = {"name": "Fetch", "type": "httpRequest", "parameters": {"url": "https://x.test/{{ $json.id }}"}}

    def root() -> None:
        ParamPanel(spec("httpRequest"), node, changes.append, previewer({"id": 7, "n": 3}, "Fetch"), debounce=0.01)

    async def check(user: User) -> None:
        # a value holding {{ opens in expression mode, with its preview for the first input item
        assert isinstance(element(user, "param:url"), ui.textarea)
        await user.should_see("= https://x.test/7")

        user.find(marker="param:url").type("?n={{ $json.n * 2 }}")
        await user.should_see("= https://x.test/7?n=6")
        assert changes[-1]["parameters"]["url"] == "https://x.test/{{ $json.id }}?n={{ $json.n * 2 }}"

        # an error is shown in red, with the engine's message naming the parameter and expression
        set_value(user, "param:url", "{{ $json.n * }}")
        await user.should_see("syntax error")
        label = element(user, "preview:url")
        assert "parameter 'url': {{ $json.n * }}" in label.text and "text-negative" in label.classes

        # a number field: fx turns it into an expression and back
        assert isinstance(element(user, "param:timeout"), ui.number)
        user.find(marker="fx:timeout").click()
        assert element(user, "param:timeout").value == "{{ 30 }}"
        assert changes[-1]["parameters"]["timeout"] == "{{ 30 }}"
        await user.should_see("= 30  [number]")
        set_value(user, "param:timeout", "{{ $json.n * 10 }}")
        await user.should_see("= 30  [number]")
        user.find(marker="fx:timeout").click()  # not a literal: back to the default
        assert isinstance(element(user, "param:timeout"), ui.number)
        assert changes[-1]["parameters"]["timeout"] == 30

        # options and booleans have the toggle too
        user.find(marker="fx:method").click()
        assert element(user, "param:method").value == "{{ 'GET' }}"
        await user.should_see("= GET")
        user.find(marker="fx:method").click()
        assert element(user, "param:method").value == "GET"
        user.find(marker="fx:fullResponse").click()
        assert changes[-1]["parameters"]["fullResponse"] == "{{ False }}"
        await user.should_see("= false  [boolean]")

    simulate(root, check)


def test_preview_is_debounced_and_may_be_async(simulate: Simulate) -> None:
    calls: list[str] = []

    async def preview(path: str, value: Any) -> Preview:
        calls.append(value)
        return preview_expression(value, node="N", parameter=path, item={"a": 2})

    node = {"name": "N", "type": "stopAndError", "parameters": {"message": "{{ $json.a }}"}}

    def root() -> None:
        ParamPanel(spec("stopAndError"), node, lambda n: None, preview, debounce=0.1)

    async def check(user: User) -> None:
        await user.should_see("= 2  [number]")
        assert calls == ["{{ $json.a }}"]
        for text in ("{{ $json.a + }}", "{{ $json.a + 1 }}", "{{ $json.a + 1}}", "{{ $json.a + 1 }}"):
            set_value(user, "param:message", text)  # keystrokes within the debounce time
        await asyncio.sleep(0.3)
        await user.should_see("= 3  [number]")
        assert calls == ["{{ $json.a }}", "{{ $json.a + 1 }}"]  # four edits, one more preview

    simulate(root, check)


def test_settings_section_edits_node_level_fields(simulate: Simulate, changes: list[dict[str, Any]]) -> None:
    node = {"name": "Limit", "type": "limit", "parameters": {"max": 2}, "notes": "hi"}

    def root() -> None:
        ParamPanel(spec("limit"), node, changes.append)

    async def check(user: User) -> None:
        assert element(user, "setting:notes").value == "hi"
        assert element(user, "setting:onError").value == "stop"
        assert not visible(user, "setting:maxTries")
        set_value(user, "setting:onError", "errorOutput")
        user.find(marker="setting:retryOnFail").click()
        assert visible(user, "setting:maxTries")
        set_value(user, "setting:maxTries", 5.0)
        set_value(user, "setting:waitBetweenTries", 250.0)
        user.find(marker="setting:alwaysOutputData").click()
        user.find(marker="setting:disabled").click()
        set_value(user, "setting:notes", "keep two")
        last = changes[-1]
        assert last["onError"] == "errorOutput" and last["retryOnFail"] is True
        assert last["maxTries"] == 5 and last["waitBetweenTries"] == 250 and isinstance(last["maxTries"], int)
        assert last["alwaysOutputData"] is True and last["disabled"] is True and last["notes"] == "keep two"
        assert last["parameters"] == {"max": 2} and last["name"] == "Limit"

    simulate(root, check)


def test_a_node_without_parameters_still_has_settings(simulate: Simulate) -> None:
    def root() -> None:
        ParamPanel(spec("noOp"), {"name": "Nothing", "type": "noOp"}, lambda n: None)

    async def check(user: User) -> None:
        await user.should_see("This node has no parameters.")
        await user.should_see(marker="setting:onError")

    simulate(root, check)


def test_expression_conversions() -> None:
    number = {"name": "n", "kind": "number", "default": 4}
    assert to_expression(30, "number") == "{{ 30 }}" and from_expression("{{ 30 }}", number) == 30
    assert from_expression("{{ $json.x }}", number) == 4 and from_expression(" 2.5 ", number) == 2.5
    boolean = {"name": "b", "kind": "boolean", "default": False}
    assert to_expression(True, "boolean") == "{{ True }}" and from_expression("{{ True }}", boolean) is True
    assert from_expression("true", boolean) is True
    options = {"name": "o", "kind": "options", "default": "a", "options": ["a", "b", 0, 1]}
    assert from_expression("{{ 'b' }}", options) == "b" and from_expression("{{ 1 }}", options) == 1
    assert from_expression("{{ 'z' }}", options) == "a"
    string = {"name": "s", "kind": "string", "default": "d"}
    assert to_expression("Hi", "string") == "Hi" and from_expression("Hi", string) == "Hi"
    assert from_expression("{{ 'x' }}", string) == "x" and from_expression("Hi {{ $json.a }}", string) == "d"
    as_json = {"name": "j", "kind": "json", "default": {}}
    assert to_expression({"a": 1}, "json") == "{{ {'a': 1} }}" and from_expression("{{ {'a': 1} }}", as_json) == {"a": 1}
    assert from_expression('{"a": [1]}', as_json) == {"a": [1]} and from_expression("", as_json) == {}


def test_collection_credential_datetime_and_a_broken_preview(simulate: Simulate,
                                                             changes: list[dict[str, Any]]) -> None:
    fake = {"type": "x", "params": [
        {"name": "options", "kind": "collection", "label": "Options", "default": {}, "fields": [
            {"name": "timeout", "kind": "number", "label": "Timeout", "default": 5, "min": 1},
            {"name": "proxy", "kind": "string", "label": "Proxy", "default": ""},
        ]},
        {"name": "account", "kind": "credential", "label": "Account", "default": None},
        {"name": "at", "kind": "datetime", "label": "At", "default": "{{ $now }}"},
    ]}

    def broken(path: str, value: Any) -> Preview:
        raise RuntimeError("no run data")

    def root() -> None:
        ParamPanel(fake, {"name": "X", "type": "x"}, changes.append, broken, debounce=0.01)

    async def check(user: User) -> None:
        await user.should_see("preview failed: RuntimeError: no run data")  # shown, not raised
        assert isinstance(element(user, "param:account"), ui.select)
        assert element(user, "param:options.timeout").value == 5
        set_value(user, "param:options.proxy", "http://proxy:3128")
        assert changes[-1]["parameters"] == {"options": {"proxy": "http://proxy:3128"}}
        user.find(marker="fx:options.timeout").click()
        assert changes[-1]["parameters"]["options"] == {"proxy": "http://proxy:3128", "timeout": "{{ 5 }}"}

    simulate(root, check)


def test_the_credential_type_follows_authentication() -> None:
    http = spec("httpRequest")
    assert credential_kind(http, {}) is None  # authentication "none"
    assert credential_kind(http, {"authentication": "httpHeaderAuth"}) == "httpHeaderAuth"
    assert credential_kind(http, {"authentication": "noSuchType"}) is None
    slack = spec("slack")  # one credential type and no authentication parameter
    assert credential_kind(slack, {}) == slack["credentials"][0]
    assert credential_kind(spec("set"), {}) is None
