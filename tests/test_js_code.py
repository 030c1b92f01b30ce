"""The JavaScript Code node (issue 14 item 5): `language: javaScript` through the real engine and the real code
workers (QuickJS inside the sandboxed worker processes): both of n8n's modes, n8n's names, console.log, n8n's
output normalisation and its errors, escapes and limits, and an n8n export run with `flowbox run --json`."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import pytest
from n8n_support import n8n_node, n8n_workflow, outputs, run_json
from support import workflow

from flowbox.engine.runner import EngineServices, ExecutionResult, Runner
from flowbox.node import Item
from flowbox.workflow import load_workflow


def node(name: str, type_: str, **params: Any) -> dict[str, Any]:
    return {"name": name, "type": type_, "parameters": params}


def js(code: str, mode: str = "runOnceForAllItems", name: str = "Code", **extra: Any) -> dict[str, Any]:
    return {**node(name, "code", language="javaScript", mode=mode, code=code), **extra}


def run(*nodes: dict[str, Any], items: list[dict[str, Any]] | None = None,
        variables: dict[str, str] | None = None) -> ExecutionResult:
    data = workflow(node("Start", "manualTrigger"), *nodes, name="JS wf")
    runner = Runner(load_workflow(data), EngineServices(variables=variables))
    result = asyncio.run(runner.run([Item(i) for i in items or [{"n": 1}]]))
    result.logs = runner.logs  # type: ignore[attr-defined]
    return result


def out(result: ExecutionResult, name: str = "Code") -> list[dict[str, Any]]:
    assert result.status == "success", result.error
    return [i.json for i in result.runs[name][-1].outputs[0]]


def error(result: ExecutionResult) -> str:
    assert result.status == "error", result.runs
    return result.error["message"]  # type: ignore[index]


ITEMS = [{"n": 1}, {"n": 2}, {"n": 3}]


# ---------------------------------------------------------------- the modes and n8n's names

def test_all_items_mode_with_items_and_input() -> None:
    code = ("const all = $input.all();\n"
            "return [{json: {count: all.length, first: $input.first().json.n, last: $input.last().json.n,\n"
            "  legacy: items.map(i => i.json.n), sum: all.reduce((s, i) => s + i.json.n, 0)}}];")
    assert out(run(js(code), items=ITEMS)) == [{"count": 3, "first": 1, "last": 3, "legacy": [1, 2, 3], "sum": 6}]


def test_each_item_mode_with_item_json_index_and_input_item() -> None:
    code = "return {json: {n: $json.n * 10, same: item.json.n === $input.item.json.n, i: $itemIndex}};"
    result = run(js(code, "runOnceForEachItem"), items=ITEMS)
    assert out(result) == [{"n": 10, "same": True, "i": 0}, {"n": 20, "same": True, "i": 1},
                           {"n": 30, "same": True, "i": 2}]
    inputs = result.runs["Code"][0].inputs[0]
    assert [i.source for i in result.runs["Code"][0].outputs[0]] == inputs


def test_flowbox_mode_names_work_for_javascript_too() -> None:
    assert out(run(js("return {doubled: $json.n * 2}", "eachItem"), items=ITEMS)) == [
        {"doubled": 2}, {"doubled": 4}, {"doubled": 6}]


def test_other_nodes_by_name_and_lineage() -> None:
    tag = node("Tag", "set", fields={"tag": "{{ 't' + str($json.n) }}"})
    code = ("return {json: {tag: $('Tag').item.json.tag, first: $('Start').first().json.n,\n"
            "  all: $('Tag').all().length, last: $('Tag').last().json.tag, old: $node['Tag'].json.tag,\n"
            "  items: $items('Start').length, ran: $('Tag').isExecuted}};")
    result = run(tag, js(code, "runOnceForEachItem"), items=ITEMS)
    assert out(result)[1] == {"tag": "t2", "first": 1, "all": 3, "last": "t3", "old": "t2", "items": 3, "ran": True}


def test_unknown_node_is_named() -> None:
    assert "Referenced node doesn't exist: 'Nope'" in error(run(js("return $('Nope').all()")))


def test_dates_vars_execution_workflow_jmespath_and_run_index() -> None:
    code = ("return {json: {year: $now.year, midnight: $today.hour, zone: $now.zoneName,\n"
            "  next: DateTime.fromISO('2024-01-31').plus({days: 1}).toISODate(),\n"
            "  hours: Duration.fromObject({minutes: 90}).as('hours'),\n"
            "  days: Interval.fromDateTimes(DateTime.fromISO('2024-01-01'), DateTime.fromISO('2024-01-11'))"
            ".length('days'),\n"
            "  v: $vars.region, wf: $workflow.name, mode: $execution.mode, run: $runIndex,\n"
            "  j: $jmespath({a: [{b: 1}, {b: 2}]}, 'a[].b'), title: 'hello world'.toTitleCase()}};")
    row = out(run(js(code), variables={"region": "eu"}))[0]
    assert row["year"] >= 2026 and row["midnight"] == 0 and row["zone"] == "UTC"
    assert row == {**row, "next": "2024-02-01", "hours": 1.5, "days": 10, "v": "eu", "wf": "JS wf",
                   "mode": "manual", "run": 0, "j": [1, 2], "title": "Hello World"}


def test_the_workflow_time_zone_reaches_now() -> None:
    data = workflow(node("Start", "manualTrigger"), js("return {zone: $now.zoneName, offset: $now.offset}"),
                    settings={"timezone": "Asia/Kolkata"})
    result = asyncio.run(Runner(load_workflow(data)).run([Item({})]))
    assert out(result) == [{"zone": "Asia/Kolkata", "offset": 330}]


def test_await_and_async_code() -> None:
    code = "const v = await Promise.resolve($json.n); return {json: {v}};"
    assert out(run(js(code, "runOnceForEachItem"), items=ITEMS)) == [{"v": 1}, {"v": 2}, {"v": 3}]


def test_timers_fire_in_order_and_really_wait() -> None:
    """setTimeout / setInterval / setImmediate and their clear functions as in Node: the earliest fires first,
    a cleared one never, and awaiting a timer's promise waits that long."""
    code = ("const seen = [];\n"
            "setTimeout(() => seen.push('late'), 30); setTimeout((x) => seen.push(x), 10, 'early');\n"
            "clearTimeout(setTimeout(() => seen.push('cleared'), 1)); setImmediate(() => seen.push('now'));\n"
            "let ticks = 0; const every = setInterval(() => { if (++ticks === 3) clearInterval(every); }, 5);\n"
            "const began = Date.now(); await new Promise((done) => setTimeout(done, 80));\n"
            "return {seen, ticks, waited: Date.now() - began >= 70};")
    assert out(run(js(code))) == [{"seen": ["now", "early", "late"], "ticks": 3, "waited": True}]


def test_a_timer_that_throws_or_never_ends_fails_the_node() -> None:
    assert error(run(js("setTimeout(() => { throw new TypeError('late boom'); }, 1);\n"
                        "await new Promise(() => {});"))) == "TypeError: late boom"
    started = time.monotonic()
    endless = {**js(""), "parameters": {"language": "javaScript", "mode": "runOnceForAllItems", "timeout": 1,
                                        "code": "setInterval(() => {}, 0); await new Promise(() => {});"}}
    assert "longer than 1 s" in error(run(endless))
    far = {**js(""), "parameters": {"language": "javaScript", "mode": "runOnceForAllItems", "timeout": 1,
                                    "code": "await new Promise((done) => setTimeout(done, 60000));"}}
    assert "longer than 1 s" in error(run(far))
    assert time.monotonic() - started < 8


def test_console_log_is_captured_into_the_run_logs() -> None:
    result = run(js("console.log('seen', $json.n, {a: 1}); return $json;", "runOnceForEachItem"), items=ITEMS)
    assert out(result) == ITEMS
    assert "[Code] seen 1 {\"a\":1}\nseen 2 {\"a\":1}\nseen 3 {\"a\":1}" in result.logs  # type: ignore[attr-defined]


def test_console_log_before_an_error_is_kept_in_the_error() -> None:
    result = run(js("console.log('before'); throw new Error('boom');"))
    assert error(result) == "Error: boom [line 1]"
    assert "[Code] before" in result.logs  # type: ignore[attr-defined]


def test_python_code_nodes_keep_working() -> None:
    assert out(run(node("Code", "code", code="return [{'n': len(items)}]"), items=ITEMS)) == [{"n": 3}]


# ---------------------------------------------------------------- n8n's normalisation and its errors

@pytest.mark.parametrize(("code", "expected"), [
    ("return [{json: {a: 1}}, {json: {a: 2}}]", [{"a": 1}, {"a": 2}]),
    ("return [{a: 1}, {a: 2}]", [{"a": 1}, {"a": 2}]),
    ("return {a: 1}", [{"a": 1}]),
    ("return {json: {a: 1}}", [{"a": 1}]),
    ("return []", []),
])
def test_all_items_results_are_normalised(code: str, expected: list[dict[str, Any]]) -> None:
    assert out(run(js(code))) == expected


@pytest.mark.parametrize(("code", "message"), [
    ("return 5", "Code doesn't return items properly"),
    ("return", "Code doesn't return items properly"),
    ("return [1, 2]", "Code doesn't return items properly"),
    ("return [{json: 5}]", "A 'json' property isn't an object [item 0]"),
    ("return [{json: {}, binary: 'x'}]", "A 'binary' property isn't an object [item 0]"),
    ("return [{json: {}}, {a: 1}]", "Unknown top-level item key: a [item 1]"),  # n8n checks the keys first
    ("return [{json: {}, extra: 1}]", "Invalid output format [item 0]"),
])
def test_all_items_errors_are_n8ns(code: str, message: str) -> None:
    assert error(run(js(code))) == message


@pytest.mark.parametrize(("code", "message"), [
    ("return $itemIndex === 1 ? 5 : {json: {}}", "Code doesn't return an object [item 1]"),
    ("return [{json: {}}]", "Code doesn't return a single object [item 0]"),
    ("return {json: 'x'}", "A 'json' property isn't an object [item 0]"),
    ("return {json: {}, foo: 1}", "Invalid output format [item 0]"),
    ("const a = 1;\nif ($itemIndex === 2) null.x;\nreturn $json",
     "TypeError: cannot read property 'x' of null [line 2, for item 2]"),
    ("const a = await 1;\nif ($itemIndex === 1) null.x;\nreturn $json",  # after an await: no line known
     "TypeError: cannot read property 'x' of null [for item 1]"),
])
def test_each_item_errors_name_the_item(code: str, message: str) -> None:
    assert error(run(js(code, "runOnceForEachItem"), items=ITEMS)) == message


def test_each_item_null_drops_the_item() -> None:
    assert out(run(js("return $json.n === 2 ? null : $json", "runOnceForEachItem"), items=ITEMS)) == [
        {"n": 1}, {"n": 3}]


def test_each_item_on_error_continue_fails_only_that_item() -> None:
    code = "if ($json.n === 2) throw new Error('bad'); return {m: $json.n};"
    result = run(js(code, "runOnceForEachItem", onError="continueRegularOutput"), items=ITEMS)
    rows = out(result)
    assert rows[0] == {"m": 1} and rows[2] == {"m": 3}
    assert rows[1] == {"error": "Error: bad [line 1, for item 1]"}


def test_each_item_names_only_in_each_item_mode() -> None:
    assert "only available in 'Run Once for Each Item' mode" in error(run(js("return [$json]")))


# ---------------------------------------------------------------- escapes and limits: fail fast, the next run works

def ok_after() -> None:
    assert out(run(js("return {fine: true}"))) == [{"fine": True}]


@pytest.mark.parametrize(("code", "message"), [
    ("return require('fs').readFileSync('/etc/passwd', 'utf8')", "require is not available"),
    ("return {env: process.env}", "process is not available"),
    ("return await fetch('http://example.com')", "fetch is not available"),
    ("const m = await import('os'); return {ok: Object.keys(m)}", "could not load module 'os'"),
    ("return {m: Object.keys(await import('std'))}", "could not load module 'std'"),
])
def test_no_modules_no_process_no_network(code: str, message: str) -> None:
    started = time.monotonic()
    assert message in error(run(js(code)))
    assert time.monotonic() - started < 10
    ok_after()


def test_an_endless_loop_is_stopped_at_the_timeout() -> None:
    started = time.monotonic()
    message = error(run({**js("while (true) {}"), "parameters": {
        "language": "javaScript", "mode": "runOnceForAllItems", "code": "while (true) {}", "timeout": 1}}))
    assert "longer than 1 s" in message
    assert time.monotonic() - started < 8
    ok_after()


def test_a_memory_bomb_is_stopped_by_the_memory_limit() -> None:
    started = time.monotonic()
    message = error(run(js("let a = []; while (true) a.push('x'.repeat(1 << 20) + a.length); return a")))
    assert "memory" in message, message
    assert time.monotonic() - started < 20
    ok_after()


def test_runaway_recursion_is_a_clear_error() -> None:
    assert "stack" in error(run(js("function f() { return f() + 1 } return {v: f()}"))).lower()
    ok_after()


def test_the_worker_process_and_its_environment_are_not_reachable() -> None:
    code = ("return {g: Object.getOwnPropertyNames(globalThis).filter(k => /^(std|os|scriptArgs|print|Deno|Bun)$/"
            ".test(k))}")
    assert out(run(js(code))) == [{"g": []}]  # QuickJS's std/os modules are not there
    assert "process is not available" in error(run(js("return {p: typeof process}")))


# ---------------------------------------------------------------- an n8n export, through the CLI

def test_an_n8n_export_with_javascript_code_runs_with_flowbox_run(capsys: pytest.CaptureFixture[str],
                                                                 tmp_path: Path) -> None:
    data = n8n_workflow(
        n8n_node("When clicking", "manualTrigger"),
        n8n_node("Make", "code", 2, {"jsCode": "return [{json: {n: 1}}, {json: {n: 2}}, {json: {n: 3}}];"}),
        n8n_node("Each", "code", 2, {"mode": "runOnceForEachItem",
                                     "jsCode": "$input.item.json.double = $json.n * 2;\n"
                                               "console.log('item', $itemIndex);\nreturn $input.item;"}),
        n8n_node("Sum", "code", 2, {"jsCode": "return {sum: $input.all().reduce((s, i) => s + i.json.double, 0),"
                                              " from: $('Make').all().length};"}))
    result = run_json(capsys, tmp_path, data)
    assert outputs(result, "Each") == [{"n": 1, "double": 2}, {"n": 2, "double": 4}, {"n": 3, "double": 6}]
    assert outputs(result, "Sum") == [{"sum": 12, "from": 3}]


def test_the_converter_maps_javascript_to_the_javascript_language() -> None:
    from flowbox.nodes.code import from_n8n

    params, notes = from_n8n({"mode": "runOnceForEachItem", "jsCode": "return $json"}, 2)
    assert params == {"language": "javaScript", "mode": "runOnceForEachItem", "code": "return $json"}
    assert "QuickJS" in str(notes)


# ---------------------------------------------------------------- the pool directly

def test_the_pool_runs_javascript_in_the_process_fallback_too(monkeypatch: pytest.MonkeyPatch) -> None:
    from flowbox.engine.codebox import CodePool

    monkeypatch.setenv("FLOWBOX_CODE_SANDBOX", "process")
    pool = CodePool(size=1)
    try:
        out = asyncio.run(pool.run("return {json: {n: $json.n + 1}}", "eachItem", [{"n": 1}, {"n": 2}],
                                   language="javaScript"))
        assert list(out) == [{"json": {"n": 2}, "pairedItem": 0}, {"json": {"n": 3}, "pairedItem": 1}]
        assert asyncio.run(pool.run("return [{'n': len(items)}]", "allItems", [{}])) == [{"json": {"n": 1}}]
    finally:
        pool.close_now()


def test_an_unknown_language_is_refused_by_the_pool() -> None:
    from flowbox.engine.codebox import CodePool
    from flowbox.errors import NodeError

    with pytest.raises(NodeError, match="unknown code language 'ruby'"):
        asyncio.run(CodePool(size=1).run("x", "allItems", [], language="ruby"))


def test_ten_thousand_items_each_item_share_one_worker_and_one_context() -> None:
    from flowbox.engine.codebox import CodePool

    pool = CodePool(size=1)
    try:
        items = [{"i": n} for n in range(10_000)]
        asyncio.run(pool.run("return []", "allItems", [], language="javaScript"))  # the worker and QuickJS load
        started = time.monotonic()
        code = "globalThis.calls = (globalThis.calls || 0) + 1; return {json: {i: $json.i, calls}}"
        out = asyncio.run(pool.run(code, "eachItem", items, language="javaScript"))
        elapsed = time.monotonic() - started
        assert len(out) == 10_000 and out[-1]["json"] == {"i": 9_999, "calls": 10_000}  # one context for all
        assert elapsed < 5, elapsed  # ~0.3 s here (bench/codebox.py); generous for a loaded machine
    finally:
        pool.close_now()
