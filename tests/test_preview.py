"""The editor's expression preview runs the engine's own expression code (DESIGN §4) and never raises."""

from __future__ import annotations

import datetime as dt
import time

from flowbox.preview import Preview, preview_expression

WORKFLOW = {
    "name": "Orders", "id": "wf1",
    "nodes": [
        {"name": "Start", "type": "manualTrigger", "parameters": {}},
        {"name": "Fetch", "type": "httpRequest", "parameters": {"url": "https://x.test"}},
        {"name": "Total", "type": "set", "parameters": {"fields": {}}},
    ],
    "connections": {"Start": {"main": [[{"node": "Fetch"}]]}, "Fetch": {"main": [[{"node": "Total"}]]}},
    "settings": {"timezone": "Europe/Berlin"},
}


def preview(value: object, item: dict | None = None, **kw: object) -> Preview:
    kw.setdefault("node", "Total")
    kw.setdefault("parameter", "fields.total")
    return preview_expression(value, item=item, **kw)  # type: ignore[arg-type]


def test_a_whole_expression_keeps_its_type() -> None:
    assert preview("{{ $json.price * $json.qty }}", {"price": 2.5, "qty": 4}) == Preview(True, 10.0, "10.0", None)
    assert preview("{{ $json.tags }}", {"tags": ["a"]}) == Preview(True, ["a"], '["a"]', None)
    assert preview("{{ $json.missing }}", {}) == Preview(True, None, "", None)
    assert preview("{{ $json.ok }}", {"ok": True}).text == "true"


def test_text_templates_and_nested_values() -> None:
    got = preview("Hi {{ $json.name }}, {{ $json.n + 1 }} {{ $json.none }}!", {"name": "Ann", "n": 1, "none": None})
    assert got.ok and got.value == "Hi Ann, 2 !" and got.text == got.value
    nested = preview({"a": "{{ $json.x }}", "b": ["{{ $json.x * 2 }}", 3]}, {"x": 5}, parameter="body")
    assert nested.value == {"a": 5, "b": [10, 3]} and nested.text == '{"a": 5, "b": [10, 3]}'


def test_constants_come_back_unchanged() -> None:
    assert preview("plain text") == Preview(True, "plain text", "plain text", None)
    assert preview(42).value == 42 and preview(None).text == ""


def test_errors_name_the_parameter_and_the_expression() -> None:
    syntax = preview("{{ $json.price * }}", {"price": 1}, parameter="fields.total")
    assert not syntax.ok and syntax.value is None
    assert syntax.error.startswith("parameter 'fields.total': {{ $json.price * }}: syntax error")
    sandbox = preview("{{ $json.__class__ }}", {}, parameter="url")
    assert "parameter 'url'" in sandbox.error and "private" in sandbox.error
    runtime = preview("total: {{ 1 / $json.zero }}", {"zero": 0})
    assert "{{ 1 / $json.zero }}" in runtime.error and "ZeroDivisionError" in runtime.error
    imported = preview("{{ __import__('os') }}")
    assert not imported.ok and "__import__" in imported.error


def test_input_helpers_use_the_first_item_and_all_items() -> None:
    items = [{"n": 1}, {"n": 2}, {"n": 3}]
    got = preview("{{ [$json.n, $input.item.json.n, $input.first().json.n, $input.last().json.n, "
                  "len($input.all()), $itemIndex] }}", items[0], items=items)
    assert got.value == [1, 1, 1, 3, 3, 0]
    assert preview("{{ $input.first() }} {{ len($input.all()) }} {{ $json }}").value == " 0 {}"  # no input yet


def test_other_nodes_come_from_run_data() -> None:
    run_data = {"Fetch": [{"id": 10}, {"id": 20}], "Start": [{}]}
    got = preview('{{ [$("Fetch").first().json.id, $("Fetch").last().json.id, len($("Fetch").all()), '
                  '$("Fetch").item.json.id, $node["Fetch"].json.id, $prevNode.name] }}', {"x": 1},
                  workflow=WORKFLOW, run_data=run_data)
    assert got.value == [10, 20, 2, 10, 10, "Fetch"], got
    second = preview('{{ $("Fetch").item.json.id }}', {"x": 2}, items=[{"x": 1}, {"x": 2}], run_data=run_data)
    assert second.value == 10  # the first input item is previewed: its pair is Fetch's first item
    branches = preview('{{ $("Fetch").all(1)[0].json.b }}', {}, run_data={"Fetch": [[{"a": 1}], [{"b": 2}]]})
    assert branches.value == 2


def test_unknown_or_not_yet_run_nodes_are_errors_not_exceptions() -> None:
    missing = preview('{{ $("Nope").first() }}', {}, workflow=WORKFLOW, run_data={})
    assert not missing.ok and "there is no node named 'Nope'" in missing.error
    not_run = preview('{{ $("Fetch").first().json }}', {}, workflow=WORKFLOW, run_data={})
    assert not not_run.ok and "node 'Fetch' has not run yet" in not_run.error


def test_now_today_vars_and_workflow() -> None:
    got = preview("{{ [$now.tzinfo.key, $today.hour, $vars.REGION, $workflow.name, $workflow.id, "
                  "$execution.mode] }}", {}, workflow=WORKFLOW, variables={"REGION": "eu"})
    assert got.value == ["Europe/Berlin", 0, "eu", "Orders", "wf1", "manual"]
    tokyo = preview("{{ $now }}", {}, workflow=WORKFLOW, timezone="Asia/Tokyo").value
    assert isinstance(tokyo, dt.datetime) and tokyo.utcoffset() == dt.timedelta(hours=9)
    assert preview("{{ $now.tzinfo.key }}").value == "UTC"
    bad_zone = preview("{{ $now }}", timezone="Mars/Olympus")
    assert not bad_zone.ok and "unknown timezone 'Mars/Olympus'" in bad_zone.error


def test_an_unfinished_workflow_still_previews() -> None:
    draft = {"name": "Draft", "nodes": [{"name": "A", "type": "noSuchType"}, {"name": "A", "type": "set"},
                                        {"type": "set"}], "connections": {"A": "garbage"}}
    got = preview('{{ $workflow.name }} {{ $("A").first().json.v }}', {}, node="B", workflow=draft,
                  run_data={"A": [{"v": 1}]})
    assert got.ok and got.value == "Draft 1"


def test_a_slow_expression_times_out_instead_of_hanging() -> None:
    started = time.monotonic()
    got = preview("{{ sum(x * y for x in range(10**6) for y in range(10**6)) }}", {})
    assert time.monotonic() - started < 10
    assert not got.ok and "ran longer than" in got.error and "parameter 'fields.total'" in got.error
    assert preview("{{ 1 + 1 }}").value == 2  # the watchdog leaves nothing behind
