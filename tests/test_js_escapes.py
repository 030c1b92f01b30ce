"""Escape and runaway attempts in JavaScript expressions: each fails fast with a clear message naming node and
parameter, and the next expression (and the next run) still works with clean built-ins."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
from support import node, workflow

from flowbox.engine.runner import ExecutionResult, Runner
from flowbox.engine.watchdog import TIMEOUT
from flowbox.errors import WorkflowInvalid
from flowbox.node import Item
from flowbox.workflow import load_workflow


def run(expression: str, items: list[dict[str, Any]] | None = None) -> ExecutionResult:
    data = workflow(node("Start", "manualTrigger"), node("Eval", "set", fields={"v": expression}, keepOnly=True),
                    settings={"expressionLanguage": "javascript"})
    return asyncio.run(Runner(load_workflow(data)).run([Item(i) for i in items or [{}]]))


def values(result: ExecutionResult) -> list[Any]:
    assert result.status == "success", result.error
    return [i.json.get("v") for i in result.runs["Eval"][-1].outputs[0]]


def failure(expression: str) -> tuple[str, float]:
    """The message a failing expression gives (refused when the workflow is checked, or when it runs)."""
    start = time.perf_counter()
    try:
        result = run(expression)
    except WorkflowInvalid as exc:
        assert exc.node == "Eval" and exc.field == "fields.v"
        return str(exc), time.perf_counter() - start
    took = time.perf_counter() - start
    assert result.status == "error", f"{expression} did not fail"
    assert result.error["node"] == "Eval"
    assert "parameter 'fields.v'" in result.error["message"]
    return result.error["message"], took


def still_works() -> None:
    assert values(run("={{ [1, 2, 3].map(x => x * 2).sum() + ({}).constructor.name.length }}")) == [18]
    assert values(run("={{ 'abc'.toUpperCase() + String(Object.prototype.polluted) }}")) == ["ABCundefined"]


@pytest.mark.parametrize(("expression", "expected"), [
    ("={{ (function(){}).constructor('return 1')() }}", "Function constructor is not allowed"),
    ("={{ ''.constructor.constructor('return globalThis')() }}", "Function constructor is not allowed"),
    ("={{ $json.constructor.constructor('return 1')() }}", "Function constructor is not allowed"),
    ("={{ Function('return 1')() }}", "Function constructor is not allowed"),
    ("={{ (async function(){}).constructor('return 1') }}", "Function constructor is not allowed"),
    ("={{ (function*(){}).constructor('yield 1') }}", "Function constructor is not allowed"),
    ("={{ eval('1 + 1') }}", "eval is not allowed"),
    ("={{ import('os') }}", "import() is not allowed"),
    ("={{ (async () => 1)() }}", "Promise"),
    ("={{ WebAssembly.Module }}", "WebAssembly is not defined"),
    ("={{ require('fs') }}", "require is not defined"),
    ("={{ process.env }}", "process is not defined"),
    ("={{ std.loadFile('/etc/passwd') }}", "std is not defined"),
    ("={{ setTimeout(() => 1, 1) }}", "setTimeout is not defined"),
])
def test_escape_is_refused_with_a_clear_message(expression: str, expected: str) -> None:
    message, took = failure(expression)
    assert expected in message
    assert took < 2
    still_works()


@pytest.mark.parametrize(("expression", "expected"), [
    ("={{ (() => { while (true) {} })() }}", "ran out of time"),
    ("={{ (() => { for (;;) { try { while (true) {} } catch (e) {} } })() }}", "ran out of time"),
    # grows by 100 KB a step: the time limit or the memory limit stops it, whichever comes first on this machine
    ("={{ (() => { const a = []; while (true) a.push('x'.repeat(100000) + a.length); })() }}", "ran out of"),
    ("={{ 'x'.repeat(2 ** 29) }}", "result too large"),
    ("={{ (() => { let n = 0; while (true) n += 'x'.repeat(1e6).length })() }}", "ran out of time"),
    ("={{ (() => { let n = 0; while (true) { try { n += 'x'.repeat(1e6).length } catch (e) {} } })() }}",
     "ran out of time"),
    ("={{ (() => { const s = 'ab'.repeat(1e6); let n = 0; while (true) n += s.toUpperCase().length })() }}",
     "ran out of time"),
    ("={{ (() => { let s = 'x'; while (true) s += s; })() }}", "string too long"),
    ("={{ new Array(2 ** 28).fill(1).length }}", "out of memory"),
    ("={{ 'x'.repeat(11000000) }}", "result too large"),
    ("={{ (function f(n) { return f(n + 1) + 1 })(0) }}", "too deeply nested"),
    ("={{ JSON.stringify(JSON.parse('['.repeat(100000) + ']'.repeat(100000))) }}", "too deeply nested"),
])
def test_runaway_fails_fast_and_the_next_expression_works(expression: str, expected: str) -> None:
    message, took = failure(expression)
    assert expected in message, message
    assert took < TIMEOUT + 2
    still_works()


def test_prototype_pollution_does_not_reach_other_items_or_runs() -> None:
    attempts = ("={{ (() => { Object.prototype.polluted = 'yes'; Array.prototype.sum = () => 99; "
                "String.prototype.toUpperCase = () => 'pwned'; $json.__proto__.x = 1; "
                "JSON.parse = () => ({}); Math.max = () => 0; globalThis.leak = 1; "
                "return [({}).polluted, [1].sum(), 'a'.toUpperCase(), typeof leak]; })() }}")
    first = values(run(attempts, [{}, {}]))
    assert first == [[None, 1, "A", "undefined"]] * 2
    after = values(run("={{ [({}).polluted, [1, 2].sum(), 'a'.toUpperCase(), typeof leak, Math.max(1, 2), "
                       "JSON.parse('{\"a\":1}').a, $json.x] }}", [{}]))
    assert after == [[None, 3, "A", "undefined", 2, 1, None]]


def test_other_nodes_data_cannot_be_changed_by_an_expression() -> None:
    data = workflow(node("Start", "manualTrigger"),
                    node("A", "set", fields={"n": "={{ 1 }}"}),
                    node("Eval", "set", keepOnly=True, fields={
                        "v": "={{ (() => { try { $('A').first().json.n = 42 } catch (e) {} "
                             "return $('A').first().json.n })() }}"}),
                    settings={"expressionLanguage": "javascript"})
    result = asyncio.run(Runner(load_workflow(data)).run([Item({}), Item({})]))
    assert [i.json["v"] for i in result.runs["Eval"][-1].outputs[0]] == [1, 1]
    assert result.runs["A"][-1].outputs[0][0].json["n"] == 1


def test_mutating_json_does_not_change_the_item() -> None:
    result = run("={{ (() => { $json.a = 'changed'; return $json.a })() }}", [{"a": "orig"}])
    assert values(result) == ["changed"]
    assert result.runs["Start"][-1].outputs[0][0].json == {"a": "orig"}


def test_stack_and_memory_recover_in_a_thread_too() -> None:
    """A context belongs to one thread: the editor preview evaluates on worker threads."""
    from flowbox.preview import preview_expression

    wf = workflow(node("Start", "manualTrigger"), node("Set", "set"), settings={"expressionLanguage": "javascript"})

    def preview(expression: str) -> Any:
        return preview_expression(expression, node="Set", parameter="fields.v", item={"a": 2}, workflow=wf)

    async def both() -> tuple[Any, Any, Any]:
        bomb = await asyncio.to_thread(preview, "={{ new Array(2 ** 28).fill(1).length }}")
        ok = await asyncio.to_thread(preview, "={{ $json.a * 21 }}")
        return bomb, ok, preview("={{ $json.a + 1 }}")

    bomb, ok, here = asyncio.run(both())
    assert not bomb.ok and "out of memory" in bomb.error
    assert ok.ok and ok.value == 42
    assert here.ok and here.value == 3


def test_one_workflow_evaluated_on_several_threads_at_once() -> None:
    """Each thread has its own context; a compiled value shared by threads never calls into another's."""
    import threading

    data = workflow(node("Start", "manualTrigger"), node("Eval", "set", fields={"v": "={{ $json.n * 2 }}"}),
                    settings={"expressionLanguage": "javascript"})
    loaded = load_workflow(data)
    results: list[list[int]] = []

    def work() -> None:
        for _ in range(5):
            result = asyncio.run(Runner(loaded).run([Item({"n": n}) for n in range(200)]))
            results.append([i.json["v"] for i in result.runs["Eval"][-1].outputs[0]])

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [[n * 2 for n in range(200)]] * 20
