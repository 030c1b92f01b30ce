"""Expressions: values, typing rules, and the sandbox. Every escape attempt must fail with a clear error."""

from __future__ import annotations

import datetime as dt
import time

import pytest

from flowbox.engine.expressions import base_namespace, compile_value, split_template, to_text
from flowbox.errors import ExpressionError


def ev(template: str, json: dict | None = None, **names: object) -> object:
    ns = base_namespace()
    ns["_S_json"] = json if json is not None else {"a": 2, "name": "Ada", "d": {"x": [1, 2]}}
    for key, value in names.items():
        ns[f"_S_{key}"] = value
    return compile_value(template, node="N", parameter="p").get(ns)


@pytest.mark.parametrize(("template", "expected"), [
    ("{{ $json.a * 3 }}", 6),
    ("{{ $json.a > 1 }}", True),
    ("{{ $json.d }}", {"x": [1, 2]}),
    ("{{ $json.missing }}", None),
    ("{{ $json['missing'] }}", None),
    ("{{ $json.d.x[1] }}", 2),
    ("{{ $json['d']['x'][0] }}", 1),
    ("Hello {{ $json.name }}!", "Hello Ada!"),
    ("n={{ $json.missing }}", "n="),
    ("{{ $json.d }} x", '{"x": [1, 2]} x'),
    ("{{ True }}/{{ None }}", "true/"),
    ("  {{ $json.a }}  ", 2),
    ("{{ {'a': {'b': 1}} }}", {"a": {"b": 1}}),
    ("{{ [i * 2 for i in range(3)] }}", [0, 2, 4]),
    ("{{ $json.name.upper() + '!' }}", "ADA!"),
    ("{{ '$json' }}", "$json"),
    ("{{ f'{$json.a}-{$json.name}' }}", "2-Ada"),
    ("{{ sorted([3, 1, 2]) }}", [1, 2, 3]),
    ("{{ sum(x for x in [1, 2, 3]) }}", 6),
    ("{{ len($json.name) }}", 3),
    ("{{ $json.get('name') }}", "Ada"),
    ("{{ list($json.keys()) }}", ["a", "name", "d"]),
    ("{{ round(2.567, 1) }}", 2.6),
    ("{{ 'a,b'.split(',') }}", ["a", "b"]),
    ("{{ $json.a if $json.a else 0 }}", 2),
    ("no template", "no template"),
    ("{{ 2 ** 10 }}", 1024),
    ("{{ timedelta(days=1).days }}", 1),
])
def test_values(template: str, expected: object) -> None:
    assert ev(template) == expected


def test_nested_structures_are_templates_too() -> None:
    ns = base_namespace()
    ns["_S_json"] = {"id": 7}
    value = compile_value({"q": ["x{{ $json.id }}", {"deep": "{{ $json.id }}"}], "plain": 1}, node="N", parameter="p")
    assert value.get(ns) == {"q": ["x7", {"deep": 7}], "plain": 1}


def test_constants_are_not_recompiled() -> None:
    value = compile_value({"a": [1, "b"]}, node="N", parameter="p")
    assert value.fn is None and value.const == {"a": [1, "b"]}


def test_datetime_methods() -> None:
    now = dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.UTC)
    assert ev("{{ $now.year }}", now=now) == 2026
    assert ev("{{ $now.strftime('%Y-%m-%d') }}", now=now) == "2026-01-02"
    assert ev("{{ ($now + timedelta(days=1)).day }}", now=now) == 3
    assert ev("{{ $now }}", now=now) == now
    assert ev("at {{ $now }}", now=now) == "at 2026-01-02T03:04:05+00:00"


def test_split_template_handles_braces_inside() -> None:
    assert split_template("a {{ {'x': {'y': 1}} }} b") == ["a ", (" {'x': {'y': 1}} ",), " b"]
    assert split_template("{{1}}{{2}}") == [("1",), ("2",)]


def test_to_text() -> None:
    assert to_text(None) == "" and to_text([1]) == "[1]" and to_text(False) == "false" and to_text(1.5) == "1.5"


# ---------------------------------------------------------------- escape attempts

ESCAPES = [
    ("{{ __import__('os').system('id') }}", "not allowed"),
    ("{{ ().__class__.__bases__[0].__subclasses__() }}", "not allowed"),
    ("{{ [].__class__ }}", "not allowed"),
    ("{{ $json.__class__ }}", "not allowed"),
    ("{{ (lambda: 0).__globals__ }}", "not allowed"),
    ("{{ (x for x in []).gi_frame }}", "not available"),
    ("{{ (x for x in []).gi_frame.f_back.f_globals }}", "not available"),
    ("{{ (lambda: 0).func_globals }}", "not available"),
    ("{{ '{0.__class__}'.format(1) }}", "format"),
    ("{{ '{x.__class__}'.format_map({'x': 1}) }}", "format"),
    ("{{ str.format('{0.__class__}', 1) }}", "format"),
    ("{{ getattr(1, '__class__') }}", "not defined"),
    ("{{ eval('1') }}", "not defined"),
    ("{{ exec('x=1') }}", "not defined"),
    ("{{ open('/etc/passwd').read() }}", "not defined"),
    ("{{ compile('1', 'x', 'eval') }}", "not defined"),
    ("{{ globals() }}", "not defined"),
    ("{{ vars() }}", "not defined"),
    ("{{ type(1) }}", "not defined"),
    ("{{ breakpoint() }}", "not defined"),
    ("{{ __builtins__ }}", "not allowed"),
    ("{{ _G_attr }}", "not allowed"),
    ("{{ [x for x in [1]] and _secret }}", "not allowed"),
    ("{{ (lambda _x: _x)(1) }}", "not allowed"),
    ("{{ [_ for _ in [1]][0].__class__ }}", "not allowed"),
    ("{{ import os }}", "syntax"),
    ("{{ $json.d.x.append(1) }}", "not available"),
    ("{{ $json.update({'a': 1}) }}", "not available"),
    ("{{ $json.pop('a') }}", "not available"),
    ("{{ $json.d.x.sort() }}", "not available"),
    ("{{ datetime.now().tzinfo.utcoffset }}", "not available"),
    ("{{ datetime.__subclasses__() }}", "not allowed"),
    ("{{ datetime.max }}", "not available"),
    ("{{ int.from_bytes(b'1', 'big') }}", "not available"),
    ("{{ (1).to_bytes(10**10, 'big') }}", "not available"),
    ("{{ $json.name.upper.__call__ }}", "not allowed"),
    ("{{ $json.name.upper.__self__ }}", "not allowed"),
    ("{{ [f for f in [len]][0].__self__ }}", "not allowed"),
    ("{{ $json.keys.__self__ }}", "not allowed"),
    ("{{ (x := 1) and x.__class__ }}", "not allowed"),
]


@pytest.mark.parametrize(("template", "reason"), ESCAPES)
def test_escape_attempts_fail_clearly(template: str, reason: str) -> None:
    with pytest.raises(ExpressionError) as info:
        ev(template)
    message = str(info.value)
    assert reason in message.lower(), message
    assert "parameter 'p'" in message  # names the parameter and the expression
    assert "{{" in message


RESOURCE_BOMBS = [
    "{{ 'a' * 10**10 }}",
    "{{ [0] * 10**9 }}",
    "{{ 10 ** 10 ** 10 }}",
    "{{ 2 ** 10 ** 8 }}",
    "{{ pow(10, 10**10) }}",
    "{{ 1 << 10**10 }}",
    "{{ 'a'.ljust(10**10) }}",
    "{{ 'x'.center(10**10) }}",
    "{{ '1'.zfill(10**10) }}",
    "{{ ('a' * 10**6).replace('a', 'a' * 1000) }}",
    "{{ ','.join(['aaaa' * 1000] * 10**4) }}",
    "{{ '\\t'.expandtabs(10**10) }}",
    "{{ '%999999999d' % 1 }}",
    "{{ '%.999999999f' % 1 }}",
    "{{ f'{1:>999999999}' }}",
    "{{ list(range(10**12)) }}",
    "{{ (10**5000) * (10**5000) * (10**5000) * (10**5000) * (10**5000) * (10**5000) * (10**5000) }}",
    "{{ ('a' * 9_000_000) + ('b' * 9_000_000) }}",
]


@pytest.mark.parametrize("template", RESOURCE_BOMBS)
def test_resource_bombs_fail_fast(template: str) -> None:
    start = time.monotonic()
    with pytest.raises(ExpressionError) as info:
        ev(template)
    assert time.monotonic() - start < 1.0, "must fail before doing the work"
    assert "too large" in str(info.value) or "too long" in str(info.value) or "too wide" in str(info.value)


@pytest.mark.parametrize("template", [
    "{{ [x for x in range(10**5) for y in range(10**4) if x < 0] }}",
    "{{ sum(1 for x in range(10**7) for y in range(10**7)) }}",
    "{{ (lambda f: f(f))(lambda f: [f(f) for _ in range(2)]) }}",
    "{{ any(x < 0 for x in range(10**7) for y in range(10**3)) }}",
])
def test_endless_work_is_cut_by_the_time_limit(template: str) -> None:
    start = time.monotonic()
    with pytest.raises(ExpressionError) as info:
        ev(template)
    assert time.monotonic() - start < 5
    assert "longer than" in str(info.value) or "too deeply nested" in str(info.value)


def test_timeout_leaves_the_thread_usable() -> None:
    with pytest.raises(ExpressionError):
        ev("{{ [x for x in range(10**7) for y in range(10**7)] }}")
    time.sleep(0.2)  # a late interrupt would surface here
    assert ev("{{ 1 + 1 }}") == 2


def test_runtime_error_names_parameter_and_expression() -> None:
    with pytest.raises(ExpressionError) as info:
        ev("total: {{ $json.a / 0 }}")
    assert str(info.value) == "parameter 'p': {{ $json.a / 0 }}: ZeroDivisionError: division by zero"


def test_unknown_dollar_name_is_reported_with_dollar() -> None:
    with pytest.raises(ExpressionError) as info:
        ev("{{ $nope }}")
    assert "name '$nope' is not defined" in str(info.value)
