"""Condition ops (If / Filter / Switch): regexes match in bounded time, with JavaScript-style syntax too."""

from __future__ import annotations

import time

import pytest

from flowbox.conditions import REGEX_TIMEOUT, check


@pytest.mark.parametrize(("pattern", "text", "expected"), [
    ("^ab+c$", "abbbc", True),
    ("/^AB/i", "abc", True),
    ("/^b$/m", "a\nb", True),
    ("/x/g", "axb", True),
    (r"(?<year>\d{4})-(?<=\d{4}-)\d{2}", "2026-12", True),  # named group and lookbehind, as in JS
    ("^(a+)+$", "a" * 28 + "!", False),
])
def test_regex_ops(pattern: str, text: str, expected: bool) -> None:
    assert check("regex", text, pattern) is expected
    assert check("notRegex", text, pattern) is not expected


def test_a_backtracking_regex_fails_within_its_time_limit() -> None:
    started = time.perf_counter()
    with pytest.raises(ValueError, match=r"took longer than .* 41-character value"):
        check("regex", "a" * 40 + "!", "^(a|aa)+$")
    assert time.perf_counter() - started < REGEX_TIMEOUT * 3 + 0.2


def test_an_invalid_regex_names_itself() -> None:
    with pytest.raises(ValueError, match=r"invalid regex '\(unclosed'"):
        check("regex", "x", "(unclosed")
