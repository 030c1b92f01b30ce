"""n8n's JavaScript expressions (settings.expressionLanguage "javascript", DESIGN §10) through the real engine."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from support import connect, node, workflow

from flowbox.engine.runner import ExecutionResult, Runner
from flowbox.errors import WorkflowInvalid
from flowbox.node import Item
from flowbox.workflow import load_workflow, validate

JS = {"expressionLanguage": "javascript"}


def run(nodes: list[dict[str, Any]], items: list[dict[str, Any]], *, settings: dict[str, Any] | None = None,
        connections: dict[str, Any] | None = None, **kwargs: Any) -> ExecutionResult:
    data = workflow(*nodes, settings={**JS, **(settings or {})}, connections=connections)
    return asyncio.run(Runner(load_workflow(data), **kwargs).run([Item(i) for i in items]))


def fields(result: ExecutionResult, name: str = "Set") -> list[dict[str, Any]]:
    assert result.status == "success", result.error
    return [i.json for i in result.runs[name][-1].outputs[0]]


def evaluate(expressions: dict[str, str], items: list[dict[str, Any]] | None = None,
             settings: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """Each expression as a field of a set node after a manual trigger, for each item."""
    result = run([node("Start", "manualTrigger"), node("Set", "set", fields=expressions, keepOnly=True)],
                 items or [{}], settings=settings)
    return fields(result)


def one(expression: str, item: dict[str, Any] | None = None, **kwargs: Any) -> Any:
    return evaluate({"v": expression}, [item or {}], **kwargs)[0].get("v")


# ---------------------------------------------------------------- the rule

def test_equals_marks_an_expression_and_only_in_javascript_mode() -> None:
    out = evaluate({"whole": "={{ $json.n * 2 }}", "text": "=n is {{ $json.n }}!", "plain": "{{ $json.n }}",
                    "eq": "=just text", "five": "=5", "obj": "={{ {a: $json.n} }}",
                    "mixedObj": "=got {{ {a: 1} }} and {{ [1, 2] }}", "nothing": "=x{{ null }}y"}, [{"n": 3}])
    assert out == [{"whole": 6, "text": "n is 3!", "plain": "{{ $json.n }}", "eq": "just text", "five": "5",
                    "obj": {"a": 3}, "mixedObj": 'got {"a":1} and [1,2]', "nothing": "xy"}]
    python = asyncio.run(Runner(load_workflow(workflow(
        node("Start", "manualTrigger"), node("Set", "set", fields={"five": "=5", "n": "{{ $json.n + 1 }}"})))
    ).run([Item({"n": 1})]))
    assert fields(python) == [{"n": 2, "five": "=5"}]


def test_raw_types_come_back_and_nested_values_evaluate() -> None:
    out = evaluate({"list": "={{ [1, 'a', true, null] }}", "float": "={{ 1 / 4 }}", "bool": "={{ 1 < 2 }}",
                    "undef": "={{ undefined }}", "big": "={{ 2 ** 60 }}"})
    assert out == [{"list": [1, "a", True, None], "float": 0.25, "bool": True, "undef": None,
                    "big": float(2 ** 60)}]


def test_if_condition_and_nested_list_parameter_in_javascript() -> None:
    result = run([node("Start", "manualTrigger"), node("If", "if", condition="={{ $json.n > 1 }}")],
                 [{"n": 1}, {"n": 2}, {"n": 3}])
    assert [i.json["n"] for i in result.runs["If"][-1].outputs[0]] == [2, 3]
    result = run([node("Start", "manualTrigger"),
                  node("F", "filter", conditions=[{"left": "={{ $json.name.toUpperCase() }}", "op": "equals",
                                                   "right": "BOB"}])],
                 [{"name": "bob"}, {"name": "al"}])
    assert [i.json["name"] for i in result.runs["F"][-1].outputs[0]] == ["bob"]


def test_save_refuses_a_javascript_syntax_error_naming_node_and_parameter() -> None:
    data = workflow(node("Start", "manualTrigger"),
                    node("Bad", "set", fields={"ok": "={{ 1 }}", "x": "=total {{ $json.n + }}"}), settings=JS)
    with pytest.raises(WorkflowInvalid) as caught:
        validate(load_workflow(data))
    assert caught.value.node == "Bad"
    assert "fields.x" in str(caught.value) and "syntax error" in str(caught.value)
    # the same text in a Python workflow is literal (no `=`): it saves
    validate(load_workflow(workflow(node("Start", "manualTrigger"),
                                    node("Ok", "set", fields={"x": "=total {{ $json.n }}"}))))


def test_unknown_expression_language_is_refused() -> None:
    with pytest.raises(WorkflowInvalid, match="expressionLanguage"):
        validate(load_workflow(workflow(node("Start", "manualTrigger"), settings={"expressionLanguage": "lua"})))


def test_a_failing_expression_names_node_parameter_and_expression() -> None:
    result = run([node("Start", "manualTrigger"),
                  node("Set", "set", fields={"a": "={{ 1 }}", "b": "=x {{ 2 }} {{ $json.missing.deep }}"})], [{}])
    assert result.status == "error"
    message = result.error["message"]
    assert result.error["node"] == "Set"
    assert "fields.b" in message and "$json.missing.deep" in message and "TypeError" in message


# ---------------------------------------------------------------- the $ names

def test_json_binary_item_index_run_index() -> None:
    data = workflow(node("Start", "manualTrigger"),
                    node("Set", "set", keepOnly=True, fields={
                        "j": "={{ $json.a.b }}", "i": "={{ $itemIndex }}", "r": "={{ $runIndex }}",
                        "bin": "={{ Object.keys($binary).join(',') }}"}), settings=JS)
    items = [Item({"a": {"b": 1}}, {"file": {"data": "aGk=", "mimeType": "text/plain"}}), Item({"a": {"b": 2}})]
    result = asyncio.run(Runner(load_workflow(data)).run(items))
    assert fields(result) == [{"j": 1, "i": 0, "r": 0, "bin": "file"}, {"j": 2, "i": 1, "r": 0, "bin": ""}]


def test_input_item_all_first_last_params() -> None:
    out = evaluate({"item": "={{ $input.item.json.n }}", "all": "={{ $input.all().map(i => i.json.n) }}",
                    "first": "={{ $input.first().json.n }}", "last": "={{ $input.last().json.n }}",
                    "params": "={{ $input.params.keepOnly }}", "items": "={{ $items().length }}"},
                   [{"n": 1}, {"n": 2}])
    assert out[1] == {"item": 2, "all": [1, 2], "first": 1, "last": 2, "params": True, "items": 2}


def test_other_nodes_paired_items_and_node_lookup() -> None:
    nodes = [node("Start", "manualTrigger"),
             node("Tag", "set", fields={"tag": "=t{{ $json.n }}"}),
             node("Odd", "filter", condition="={{ $json.n % 2 === 1 }}"),
             node("Sort", "sort", fields=[{"field": "n", "order": "desc"}]),
             node("Set", "set", keepOnly=True, fields={
                 "item": "={{ $('Tag').item.json.tag }}", "first": "={{ $('Tag').first().json.tag }}",
                 "last": "={{ $('Tag').last().json.tag }}", "all": "={{ $('Tag').all().length }}",
                 "matching": "={{ $('Tag').itemMatching($itemIndex).json.n }}",
                 "executed": "={{ $('Tag').isExecuted }}", "node": '={{ $node["Tag"].json.tag }}',
                 "prev": "={{ $prevNode.name }}", "itemsOf": "={{ $items('Tag').length }}",
                 "params": "={{ $('Odd').params.condition }}"})]
    out = fields(run(nodes, [{"n": n} for n in range(1, 6)]))
    assert [o["item"] for o in out] == ["t5", "t3", "t1"]
    assert out[0] == {"item": "t5", "first": "t1", "last": "t5", "all": 5, "matching": 5, "executed": True,
                      "node": "t1", "prev": "Sort", "itemsOf": 5, "params": "={{ $json.n % 2 === 1 }}"}


def test_unknown_and_unexecuted_nodes_fail_clearly() -> None:
    nodes = [node("Start", "manualTrigger"), node("Set", "set", fields={"x": "={{ $('Nope').first() }}"})]
    result = run(nodes, [{}])
    assert "there is no node named 'Nope'" in result.error["message"]
    edges = connect([("Start", 0, "If", 0), ("If", 0, "Set", 0), ("If", 1, "Later", 0)])
    nodes = [node("Start", "manualTrigger"), node("If", "if", condition="={{ true }}"),
             node("Set", "set", fields={"x": "={{ $('Later').isExecuted }}", "y": "={{ $('Later').first() }}"}),
             node("Later", "noOp")]
    result = run(nodes, [{}], connections=edges)
    assert "node 'Later' has not run yet" in result.error["message"]
    nodes[2] = node("Set", "set", fields={"x": "={{ $('Later').isExecuted }}"})
    assert fields(run(nodes, [{}], connections=edges))[0]["x"] is False


def test_execution_workflow_vars_parameter() -> None:
    from flowbox.engine.runner import EngineServices

    out = fields(run([node("Start", "manualTrigger"),
                      node("Set", "set", keepOnly=True, fields={
                          "exec": "={{ [$execution.id, $execution.mode, $execution.resumeUrl] }}",
                          "wf": "={{ $workflow.name }}", "v": "={{ $vars.region }}",
                          "p": "={{ Object.keys($parameter).sort().join(',') }}"})],
                     [{}], services=EngineServices(variables={"region": "eu"}), execution_id="e1"))
    assert out == [{"exec": ["e1", "manual", "/webhook-waiting/e1"], "wf": "wf", "v": "eu",
                    "p": "dotNotation,fields,ignoreConversionErrors,keep,keepOnly,remove,types"}]


def test_env_is_blocked_by_default() -> None:
    result = run([node("Start", "manualTrigger"), node("Set", "set", fields={"x": "={{ $env.HOME }}"})], [{}])
    assert "$env is disabled" in result.error["message"]


def test_now_today_and_luxon_in_the_workflow_timezone() -> None:
    out = evaluate({"zone": "={{ $now.zoneName }}", "today": "={{ $today.hour + $today.minute }}",
                    "iso": "={{ DateTime.fromISO('2024-07-01T12:00:00Z').setZone('Europe/Berlin').toISO() }}",
                    "winter": "={{ DateTime.fromISO('2024-01-01T12:00:00Z').setZone('America/New_York').hour }}",
                    "fmt": "={{ DateTime.fromISO('2024-03-05').toFormat('cccc d LLLL yyyy') }}",
                    "dur": "={{ Duration.fromObject({hours: 2, minutes: 30}).as('minutes') }}",
                    "interval": "={{ Interval.fromISO('2024-01-01/2024-02-01').length('days') }}",
                    "plus": "={{ DateTime.fromISO('2024-01-31').plus(1, 'day').toISODate() }}"},
                   settings={"timezone": "Europe/Berlin"})
    assert out == [{"zone": "Europe/Berlin", "today": 0, "iso": "2024-07-01T14:00:00.000+02:00", "winter": 7,
                    "fmt": "Tuesday 5 March 2024", "dur": 150, "interval": 31, "plus": "2024-02-01"}]


def test_helper_functions() -> None:
    out = evaluate({"ifEmpty": "={{ [$ifEmpty('', 'd'), $ifEmpty([], 1), $ifEmpty('x', 'd')] }}",
                    "if": "={{ $if($json.n > 1, 'big', 'small') }}", "min": "={{ $min(3, 1, 2) }}",
                    "max": "={{ $max(3, 1, 2) }}", "jmes": "={{ $jmespath($json, 'people[?age > `20`].name') }}",
                    "eval": "={{ $evaluateExpression('{{ 1 + 1 }} and {{ $json.n }}') }}"},
                   [{"n": 2, "people": [{"name": "a", "age": 30}, {"name": "b", "age": 10}]}])
    assert out == [{"ifEmpty": ["d", 1, "x"], "if": "big", "min": 1, "max": 3, "jmes": ["a"],
                    "eval": "2 and 2"}]


# ---------------------------------------------------------------- data transformation functions

@pytest.mark.parametrize(("expression", "expected"), [
    ("''.isEmpty()", True), ("'x'.isNotEmpty()", True), ("'hello big world'.toTitleCase()", "Hello Big World"),
    ("'write to me at ann@example.com now'.extractEmail()", "ann@example.com"),
    ("'see https://n8n.io/x?y=1 ok'.extractUrl()", "https://n8n.io/x?y=1"),
    ("'ann@example.com'.extractDomain()", "example.com"), ("'<b>bold</b>'.removeTags()", "bold"),
    ("'2024-03-05T10:00:00Z'.toDateTime().toUTC().hour", 10), ("'42'.toNumber() + 1", 43),
    ("'12.5'.toFloat()", 12.5), ("'0x1f'.toInt(16)", 31), ("'yes'.toBoolean()", True),
    ("'a b'.urlEncode()", "a%20b"), ("'{\"a\":1}'.parseJson().a", 1), ("'hi'.base64Encode()", "aGk="),
    ("'aGk='.base64Decode()", "hi"), ("'Hello World'.toSnakeCase()", "hello_world"),
    ("'hello world'.toCamelCase()", "helloWorld"), ("'ann@example.com'.isEmail()", True),
    ("'123'.isNumeric()", True), ("'x'.quote()", '"x"'), ("'héllo'.replaceSpecialChars()", "hello"),
    ("[].isEmpty()", True), ("[1, 2, 3].sum()", 6), ("[1, 1, 2].unique()", [1, 2]),
    ("[{a: 1}, {a: 2}].pluck('a')", [1, 2]), ("[1, 2, 3, 4, 5].chunk(2)", [[1, 2], [3, 4], [5]]),
    ("[1, 2].first() + [1, 2].last()", 3), ("[3, 1, 2].min() + [3, 1, 2].max()", 4),
    ("[1, 2, 3].average()", 2), ("[1, null, '', 2].compact()", [1, 2]),
    ("[1, 2, 3].difference([2])", [1, 3]), ("[1, 2].union([2, 3])", [1, 2, 3]),
    ("[1, 2].intersection([2, 3])", [2]), ("[{a: 1}].renameKeys('a', 'b')", [{"b": 1}]),
    ("[{k: 'x', v: 1}].smartJoin('k', 'v')", {"x": 1}), ("[1].toJsonString()", "[1]"),
    ("(1.256).round(2)", 1.26), ("(1.2).ceil()", 2), ("(1.8).floor()", 1), ("(1234567.891).format()", "1,234,567.891"),
    ("(4).isEven()", True), ("(3).isOdd()", True), ("(0).toBoolean()", False),
    ("(86400000).toDateTime().toUTC().toISODate()", "1970-01-02"), ("(-3).abs()", 3),
    ("({}).isEmpty()", True), ("({a: 1}).hasField('a')", True), ("({a: 1, b: 2}).removeField('a')", {"b": 2}),
    ("({a: 1, b: 2}).keys()", ["a", "b"]), ("({a: 1}).values()", [1]), ("({a: 1}).toJsonString()", '{"a":1}'),
    ("({a: null, b: 1}).compact()", {"b": 1}), ("({a: 'x y'}).urlEncode()", "a=x%20y"),
    ("({a: 1}).merge({a: 2, b: 3})", {"a": 1, "b": 3}), ("({a: 'foo', b: 'bar'}).keepFieldsContaining('fo')",
                                                           {"a": "foo"}),
    ("true.toNumber()", 1), ("false.toInt()", 0),
    ("DateTime.fromISO('2024-03-09T10:00:00Z').isWeekend()", True),
    ("DateTime.fromISO('2024-03-15').endOfMonth().day", 31),
    ("DateTime.fromISO('2024-03-15').beginningOf('month').day", 1),
    ("DateTime.fromISO('2024-03-15').extract('month')", 3),
    ("DateTime.fromISO('2024-03-15').format('yyyy/MM/dd')", "2024/03/15"),
    ("DateTime.fromISO('2024-03-15').isBetween('2024-03-01', '2024-04-01')", True),
    ("DateTime.fromISO('2024-03-15').minus(1, 'month').month", 2),
    ("new Date(Date.UTC(2024, 0, 1)).toDateTime().toUTC().year", 2024),
])
def test_data_transformation_function(expression: str, expected: Any) -> None:
    assert one("={{ " + expression + " }}") == expected


def test_data_transformation_functions_do_not_show_in_data() -> None:
    out = evaluate({"keys": "={{ Object.keys($json) }}", "json": "={{ JSON.stringify($json) }}",
                    "own": "={{ $json.keys }}", "forin": "={{ (() => { const k = []; for (const x in $json) "
                                                         "k.push(x); return k })() }}"},
                   [{"a": 1, "keys": "mine"}])
    assert out == [{"keys": ["a", "keys"], "json": '{"a":1,"keys":"mine"}', "own": "mine", "forin": ["a", "keys"]}]


def test_preview_evaluates_javascript_in_a_javascript_workflow() -> None:
    from flowbox.preview import preview_expression

    wf = workflow(node("Start", "manualTrigger"), node("Set", "set"), settings=JS)
    shown = preview_expression("={{ $json.name.toUpperCase() }}", node="Set", parameter="fields.x",
                               item={"name": "ann"}, workflow=wf)
    assert shown.ok and shown.value == "ANN"
    bad = preview_expression("={{ $json.name. }}", node="Set", parameter="fields.x", item={}, workflow=wf)
    assert not bad.ok and "syntax error" in bad.error


def test_env_reads_the_environment_when_allowed(monkeypatch: pytest.MonkeyPatch) -> None:
    from flowbox.engine import context

    monkeypatch.setattr(context, "ENV_ALLOWED", True)
    monkeypatch.setenv("FLOWBOX_TEST_REGION", "north")
    assert one("={{ $env.FLOWBOX_TEST_REGION }}") == "north"
    assert one("={{ (() => { $env.FLOWBOX_TEST_REGION = 'x'; return $env.FLOWBOX_TEST_REGION })() }}") == "north"


def test_a_value_without_expressions_drops_the_equals_sign_everywhere() -> None:
    out = evaluate({"nested": "={{ 1 }}", "plain": "=abc"})
    assert out == [{"nested": 1, "plain": "abc"}]
    result = run([node("Start", "manualTrigger"),
                  node("Sort", "sort", fields=[{"field": "=n", "order": "=desc"}])], [{"n": 1}, {"n": 2}])
    assert [i.json["n"] for i in result.runs["Sort"][-1].outputs[0]] == [2, 1]


def test_an_equals_value_without_expressions_is_checked_as_its_text_when_saved() -> None:
    data = workflow(node("Start", "manualTrigger"),
                    node("Sort", "sort", fields=[{"field": "=n", "order": "=sideways"}]), settings=JS)
    with pytest.raises(WorkflowInvalid, match="order"):
        validate(load_workflow(data))


def test_a_long_text_built_by_concatenation_comes_back_whole() -> None:
    """QuickJS keeps a long `a + b` as a rope, which its Python binding cannot hand over ("Unknown quickjs
    tag: -6", seen on n8n's HTML Extract test with a 4 KB page): results are built flat."""
    page = "<p>" + "x" * 5000 + "</p>"
    assert one("={{ $json.a + $json.b }}", {"a": page, "b": page}) == page * 2
    assert one("={{ { html: $json.a + $json.b } }}", {"a": page, "b": page}) == {"html": page * 2}


# ---------------------------------------------------------------- many items: evaluated a batch at a time

def test_many_items_give_what_one_at_a_time_gives() -> None:
    """Past the first item a node asking in order gets its items evaluated in batches (engine.javascript.BATCH):
    the values are what each item alone gives — across batch edges, with data from another node, NaN, an item
    index, text, objects and a per-item zone."""
    items = [{"n": n, "s": f"x{n}"} for n in range(600)]
    out = evaluate({"double": "={{ $json.n * 2 }}", "index": "={{ $itemIndex }}",
                    "start": "={{ $('Start').item.json.s.toUpperCase() }}", "nan": "={{ $json.n === 7 ? NaN : 0 }}",
                    "obj": "={{ {k: $json.n % 3} }}", "day": "={{ DateTime.fromMillis($json.n * 86400000).toISODate() }}"},
                   items, settings={"timezone": "UTC"})
    assert len(out) == 600
    for n, row in enumerate(out):
        assert row["double"] == 2 * n and row["index"] == n and row["start"] == f"X{n}" and row["obj"] == {"k": n % 3}
        assert (row["nan"] != row["nan"]) if n == 7 else row["nan"] == 0
    assert out[599]["day"] == "1971-08-23"  # 599 days after 1970-01-01


def test_a_failing_item_in_a_batch_fails_as_that_item() -> None:
    """Item 300 of 600 throws: with onError continue only that item has the error (the others keep their value);
    with stop the node fails naming the expression's error, nothing of a later item."""
    items = [{"n": n} for n in range(600)]
    expr = {"v": "={{ $json.n === 300 ? null.boom : $json.n }}"}
    cont = run([node("Start", "manualTrigger"), {**node("Set", "set", fields=expr, keepOnly=True),
                                                  "onError": "continue"}], items)
    out = fields(cont)
    assert [row.get("v") for row in out[:300]] == list(range(300))
    assert "cannot read property 'boom' of null" in out[300]["error"]
    assert [row.get("v") for row in out[301:]] == list(range(301, 600))
    stop = run([node("Start", "manualTrigger"), node("Set", "set", fields=expr, keepOnly=True)], items)
    assert stop.status == "error" and "cannot read property 'boom' of null" in stop.error["message"]


def test_a_batch_past_the_time_limit_runs_its_items_one_by_one() -> None:
    """Each item's expression takes a few ms, together more than the limit of one call into QuickJS: the batch
    is given up and the items run one at a time, each within its own limit — no item fails."""
    slow = {"v": "={{ (() => { let s = 0; for (let i = 0; i < 30000; i++) s += i; return s + $json.n })() }}"}
    result = run([node("Start", "manualTrigger"), {**node("Set", "set", fields=slow, keepOnly=True),
                                                    "onError": "continue"}], [{"n": n} for n in range(300)])
    assert [row["v"] for row in fields(result)] == [449985000 + n for n in range(300)]
