"""The code node's worker pool, with real worker processes (no mocks)."""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from flowbox.engine.codebox import CodePool, default_pool
from flowbox.errors import ConfigError, NodeError, NodeTimeout


@pytest.fixture(scope="module")
def pool() -> Iterator[CodePool]:
    pool = CodePool(size=2)
    yield pool
    pool.close_now()


def run(pool: CodePool, code: str, mode: str = "allItems", items: list[dict] | None = None, **kw: Any) -> list:
    return asyncio.run(pool.run(code, mode, items if items is not None else [], **kw))


def error_of(pool: CodePool, code: str, mode: str = "allItems", items: list[dict] | None = None,
             **kw: Any) -> NodeError:
    with pytest.raises(NodeError) as info:
        run(pool, code, mode, items, **kw)
    return info.value


def pid_of(pool: CodePool) -> int:
    return run(pool, "import os\nreturn [{'pid': os.getpid()}]")[0]["json"]["pid"]


def test_all_items(pool: CodePool) -> None:
    code = "total = sum(i['n'] for i in items)\nreturn [{'total': total}, {'json': {'count': len(items)}}]"
    assert run(pool, code, items=[{"n": 1}, {"n": 2}]) == [{"json": {"total": 3}}, {"json": {"count": 2}}]


def test_each_item_drops_none_and_pairs(pool: CodePool) -> None:
    code = "if item['n'] == 2:\n    return None\nitem['double'] = item['n'] * 2\nreturn item"
    assert run(pool, code, "eachItem", [{"n": 1}, {"n": 2}, {"n": 3}]) == [
        {"json": {"n": 1, "double": 2}, "pairedItem": 0},
        {"json": {"n": 3, "double": 6}, "pairedItem": 2},
    ]


def test_context_names(pool: CodePool) -> None:
    context = {"nodes": {"Fetch": [{"x": 10}, {"x": 20}]}, "now": "2024-05-01T10:30:00+02:00",
               "vars": {"region": "eu"}}
    code = """
return {
    'input': _input.item.json['n'], 'first': _input.first()['json'], 'count': len(_input.all()),
    'fetch': _('Fetch').item.json['x'], 'fetchLast': _('Fetch').last().json['x'],
    'hour': _now.hour, 'aware': _now.tzinfo is not None, 'region': _vars['region'], 'index': _itemIndex,
}"""
    out = run(pool, code, "eachItem", [{"n": 1}, {"n": 2}], context=context)
    assert [o["json"] for o in out] == [
        {"input": 1, "first": {"n": 1}, "count": 2, "fetch": 10, "fetchLast": 20, "hour": 10, "aware": True,
         "region": "eu", "index": 0},
        {"input": 2, "first": {"n": 1}, "count": 2, "fetch": 20, "fetchLast": 20, "hour": 10, "aware": True,
         "region": "eu", "index": 1},
    ]
    err = error_of(pool, "return _('Missing').all()", context=context)
    assert "Missing" in err.message and "line 1" in err.message


def test_syntax_error_names_user_line(pool: CodePool) -> None:
    err = error_of(pool, "x = 1\nreturn [x +]\n")
    assert err.message.startswith("SyntaxError") and "line 2" in err.message


def test_runtime_error_names_line_and_item(pool: CodePool) -> None:
    code = "n = item['n']\nif n == 3:\n    raise ValueError('bad n')\nreturn item"
    err = error_of(pool, code, "eachItem", [{"n": i} for i in range(5)])
    assert "ValueError: bad n" in err.message and "line 3" in err.message
    assert err.item_index == 3
    assert 'File "<code>", line 3' in (err.description or "")


def test_wrong_shapes_are_named(pool: CodePool) -> None:
    assert "returned an int 5" in error_of(pool, "return 5").message
    assert "returned None" in error_of(pool, "x = 1").message
    assert "item 1 of the returned list is a str 'b'" in error_of(pool, "return [{}, 'b']").message
    err = error_of(pool, "return {'s': {1, 2}}", "eachItem", [{}])
    assert "not JSON-serialisable" in err.message and "set {1, 2}" in err.message and err.item_index == 0


def test_item_errors_fail_only_their_items(pool: CodePool) -> None:
    code = ("if item['n'] == 1:\n    raise KeyError('nope')\nif item['n'] == 2:\n    return 'text'\n"
            "if item['n'] == 3:\n    return {'s': {1}}\nprint('ok', item['n'])\nreturn {'m': item['n']}")
    out = run(pool, code, "eachItem", [{"n": n} for n in range(5)], item_errors=True)
    assert [entry.get("pairedItem") for entry in out] == [0, 1, 2, 3, 4]
    assert [entry["json"] for entry in out if "json" in entry] == [{"m": 0}, {"m": 4}]
    errors = {entry["pairedItem"]: entry["error"] for entry in out if "error" in entry}
    assert all(isinstance(e, NodeError) and e.item_index == i for i, e in errors.items())
    assert errors[1].message == "KeyError: 'nope' (line 2, item 1)" and 'File "<code>", line 2' in \
        (errors[1].description or "")
    assert "returned a str 'text' for item 2" in errors[2].message
    assert "not JSON-serialisable for item 3" in errors[3].message
    assert "ok 0" in out.logs and "ok 4" in out.logs  # type: ignore[attr-defined]
    # without item_errors the first failing item fails the request; a syntax error always does
    assert error_of(pool, code, "eachItem", [{"n": n} for n in range(5)]).item_index == 1
    assert error_of(pool, "return {", "eachItem", [{}], item_errors=True).message.startswith("SyntaxError")


def test_print_does_not_break_protocol(pool: CodePool) -> None:
    code = """
import os, sys
print('hello', 'world')
print('to stderr', file=sys.stderr)
os.write(1, b'raw bytes on fd 1')
return [{'ok': True}]"""
    out = run(pool, code)
    assert out == [{"json": {"ok": True}}]
    assert "hello world" in out.logs and "to stderr" in out.logs  # type: ignore[attr-defined]
    assert run(pool, "return [{'still': 'fine'}]") == [{"json": {"still": "fine"}}]


def test_endless_loop_times_out_and_pool_recovers() -> None:
    pool = CodePool(size=1)
    try:
        before = pid_of(pool)
        start = time.monotonic()
        with pytest.raises(NodeTimeout, match="longer than 1 s"):
            run(pool, "while True:\n    pass", timeout=1.0)
        assert time.monotonic() - start < 2.0
        assert run(pool, "return [{'after': 1}]") == [{"json": {"after": 1}}]
        assert pid_of(pool) != before  # the stuck worker was replaced
    finally:
        pool.close_now()


def test_memory_bomb_fails_cleanly(pool: CodePool) -> None:
    err = error_of(pool, "x = ' ' * (2 * 1024**3)\nreturn []")
    assert "MemoryError" in err.message and "512 MB" in err.message
    assert run(pool, "return [{'after': 1}]") == [{"json": {"after": 1}}]


def test_worker_exit_fails_request_only(pool: CodePool) -> None:
    err = error_of(pool, "import os\nos._exit(3)")
    assert err.message == "code worker crashed: exit code 3"
    assert run(pool, "return [{'after': 1}]") == [{"json": {"after": 1}}]


def test_worker_does_not_see_server_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FLOWBOX_ENCRYPTION_KEY", "secret")
    pool = CodePool(size=1)
    try:
        env = run(pool, "import os\nreturn [dict(os.environ)]")[0]["json"]
        cwd = run(pool, "import os\nreturn [{'cwd': os.getcwd()}]")[0]["json"]["cwd"]
    finally:
        pool.close_now()
    assert "FLOWBOX_ENCRYPTION_KEY" not in env
    assert cwd == "/tmp" != os.getcwd()  # the sandbox's own scratch tmpfs
    assert set(env) <= {"PATH", "LANG", "LC_CTYPE", "HOME", "TMPDIR", "PWD"}


def test_ten_thousand_items_in_pool_processes(pool: CodePool) -> None:
    items = [{"i": i} for i in range(10_000)]
    code = "import os\nreturn {'pid': os.getpid(), 'i': item['i'] + 1}"
    run(pool, code, "eachItem", items[:10])  # warm-up

    async def three() -> list[list]:
        return await asyncio.gather(*(pool.run(code, "eachItem", items) for _ in range(3)))

    start = time.perf_counter()
    out = run(pool, code, "eachItem", items)
    elapsed = time.perf_counter() - start
    assert elapsed < 1.0
    assert len(out) == 10_000 and out[-1]["json"]["i"] == 10_000
    assert len({o["json"]["pid"] for o in out}) == 1  # one process ran them all
    results = asyncio.run(three())
    assert all(len({o["json"]["pid"] for o in result}) == 1 for result in results)


def test_concurrency_is_bounded_by_size() -> None:
    pool = CodePool(size=2)
    code = "import os, time\ntime.sleep(0.3)\nreturn [{'pid': os.getpid()}]"

    async def four() -> list[list]:
        return await asyncio.gather(*(pool.run(code, "allItems", []) for _ in range(4)))

    try:
        start = time.monotonic()
        results = asyncio.run(four())
        elapsed = time.monotonic() - start
    finally:
        pool.close_now()
    assert 0.55 < elapsed < 1.5
    assert len({r[0]["json"]["pid"] for r in results}) == 2


def test_cancel_kills_the_running_code() -> None:
    pool = CodePool(size=1)

    async def cancelled_then_next() -> list:
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(pool.run("while True:\n    pass", "allItems", [], timeout=30), 0.3)
        return await pool.run("return [{'next': 1}]", "allItems", [], timeout=5)

    try:
        start = time.monotonic()
        assert asyncio.run(cancelled_then_next()) == [{"json": {"next": 1}}]
        assert time.monotonic() - start < 3
    finally:
        pool.close_now()


def test_cpu_limit_kills_the_worker() -> None:
    pool = CodePool(size=1, cpu_seconds=1)
    try:
        err = error_of(pool, "while True:\n    pass", timeout=10)
        assert "CPU time limit" in err.message
        assert run(pool, "return [{'after': 1}]") == [{"json": {"after": 1}}]
    finally:
        pool.close_now()


def test_default_pool_is_shared() -> None:
    assert default_pool() is default_pool()
    assert run(default_pool(), "return [{'v': 1}]") == [{"json": {"v": 1}}]


def test_without_bwrap_the_code_node_refuses_naming_it_and_the_fallback(tmp_path: Path,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    pool = CodePool(size=1)
    try:
        err = error_of(pool, "return []")
    finally:
        pool.close_now()
    assert "bubblewrap (bwrap), which is not installed" in err.message
    assert "FLOWBOX_CODE_SANDBOX=process" in err.message


def test_without_user_namespaces_the_code_node_says_what_is_missing(tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    fake = tmp_path / "bwrap"
    fake.write_text("#!/bin/sh\necho 'bwrap: No permissions to creating new namespace' >&2\nexit 1\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{tmp_path}:{os.environ['PATH']}")
    pool = CodePool(size=1)
    try:
        err = error_of(pool, "return []")
    finally:
        pool.close_now()
    assert "sandbox cannot start (bwrap: No permissions to creating new namespace)" in err.message
    assert "unprivileged user namespaces" in err.message and "FLOWBOX_CODE_SANDBOX=process" in err.message


def test_process_fallback_runs_code_and_says_so(monkeypatch: pytest.MonkeyPatch,
                                                caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setenv("FLOWBOX_CODE_SANDBOX", "process")
    with caplog.at_level(logging.WARNING, logger="flowbox.codebox"):
        pool = CodePool(size=1)
    try:
        assert run(pool, "import os\nreturn [{'pid': os.getpid() != 1}]") == [{"json": {"pid": True}}]
        assert run(pool, "return {'n': item['n'] + 1}", "eachItem", [{"n": 1}]) == [
            {"json": {"n": 2}, "pairedItem": 0}]
    finally:
        pool.close_now()
    assert "FLOWBOX_CODE_SANDBOX=process" in caplog.text and "without the sandbox" in caplog.text
    monkeypatch.setenv("FLOWBOX_CODE_SANDBOX", "off")
    with pytest.raises(ConfigError, match="FLOWBOX_CODE_SANDBOX must be 'strict' or 'process'"):
        CodePool(size=1)


def test_the_seccomp_filter_is_built_for_this_machine() -> None:
    from flowbox.engine.codeseccomp import seccomp_program

    program = seccomp_program(os.uname().machine)
    assert program is not None and len(program) % 8 == 0 and len(program) // 8 < 255
    assert seccomp_program("sparc") is None
