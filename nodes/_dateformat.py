"""Date format patterns as n8n writes them: Luxon's tokens (`yyyy-MM-dd HH:mm`, Date & Time v2, expressions)
and moment's (`YYYY-MM-DD HH:mm`, Date & Time v1), rendered from a Python datetime; and a moment parse
pattern as a strptime one.

A token is a run of one letter (`yyyy`, `MM`); text in single quotes (Luxon) or square brackets (moment)
is literal, as is every character that is not a letter.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable

Render = Callable[[dt.datetime], str]

_MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
           "November", "December"]
_DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]


def _offset(value: dt.datetime, sep: str, narrow: bool = False) -> str:
    minutes = int((value.utcoffset() or dt.timedelta()).total_seconds() // 60)
    sign, minutes = ("-" if minutes < 0 else "+"), abs(minutes)
    hours, rest = divmod(minutes, 60)
    if narrow:
        return f"{sign}{hours}" + (f":{rest:02d}" if rest else "")
    return f"{sign}{hours:02d}{sep}{rest:02d}"


def _ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def _hour12(value: dt.datetime) -> int:
    return value.hour % 12 or 12


def _epoch(value: dt.datetime) -> float:
    return value.timestamp()


_COMMON: dict[str, Render] = {
    "HH": lambda v: f"{v.hour:02d}", "H": lambda v: str(v.hour),
    "hh": lambda v: f"{_hour12(v):02d}", "h": lambda v: str(_hour12(v)),
    "mm": lambda v: f"{v.minute:02d}", "m": lambda v: str(v.minute),
    "ss": lambda v: f"{v.second:02d}", "s": lambda v: str(v.second),
    "SSS": lambda v: f"{v.microsecond // 1000:03d}", "X": lambda v: str(int(_epoch(v) // 1)),
    "x": lambda v: str(round(_epoch(v) * 1000)),
    "MMMM": lambda v: _MONTHS[v.month - 1], "MMM": lambda v: _MONTHS[v.month - 1][:3],
    "MM": lambda v: f"{v.month:02d}", "M": lambda v: str(v.month),
    "WW": lambda v: f"{v.isocalendar()[1]:02d}", "W": lambda v: str(v.isocalendar()[1]),
}

LUXON: dict[str, Render] = {
    **_COMMON,
    "yyyy": lambda v: f"{v.year:04d}", "yy": lambda v: f"{v.year % 100:02d}", "y": lambda v: str(v.year),
    "dd": lambda v: f"{v.day:02d}", "d": lambda v: str(v.day),
    "EEEE": lambda v: _DAYS[v.weekday()], "EEE": lambda v: _DAYS[v.weekday()][:3], "E": lambda v: str(v.isoweekday()),
    "cccc": lambda v: _DAYS[v.weekday()], "ccc": lambda v: _DAYS[v.weekday()][:3], "c": lambda v: str(v.isoweekday()),
    "a": lambda v: "AM" if v.hour < 12 else "PM", "S": lambda v: str(v.microsecond // 1000),
    "ZZZ": lambda v: _offset(v, ""), "ZZ": lambda v: _offset(v, ":"), "Z": lambda v: _offset(v, ":", narrow=True),
    "z": lambda v: str(getattr(v.tzinfo, "key", v.tzname() or "")), "q": lambda v: str((v.month - 1) // 3 + 1),
    "ooo": lambda v: f"{v.timetuple().tm_yday:03d}", "o": lambda v: str(v.timetuple().tm_yday),
    "kkkk": lambda v: f"{v.isocalendar()[0]:04d}",
    "LLLL": lambda v: _MONTHS[v.month - 1], "LLL": lambda v: _MONTHS[v.month - 1][:3],
    "LL": lambda v: f"{v.month:02d}", "L": lambda v: str(v.month),
}

MOMENT: dict[str, Render] = {
    **_COMMON,
    "YYYY": lambda v: f"{v.year:04d}", "YY": lambda v: f"{v.year % 100:02d}", "Y": lambda v: str(v.year),
    "DD": lambda v: f"{v.day:02d}", "D": lambda v: str(v.day), "Do": lambda v: _ordinal(v.day),
    "DDDD": lambda v: f"{v.timetuple().tm_yday:03d}", "DDD": lambda v: str(v.timetuple().tm_yday),
    "dddd": lambda v: _DAYS[v.weekday()], "ddd": lambda v: _DAYS[v.weekday()][:3],
    "dd": lambda v: _DAYS[v.weekday()][:2], "d": lambda v: str(v.isoweekday() % 7),
    "A": lambda v: "AM" if v.hour < 12 else "PM", "a": lambda v: "am" if v.hour < 12 else "pm",
    "ZZ": lambda v: _offset(v, ""), "Z": lambda v: _offset(v, ":"), "Q": lambda v: str((v.month - 1) // 3 + 1),
    "S": lambda v: str(v.microsecond // 100000), "SS": lambda v: f"{v.microsecond // 10000:02d}",
    "k": lambda v: str(v.hour or 24), "kk": lambda v: f"{v.hour or 24:02d}",
}

_LITERAL = {"luxon": re.compile(r"'((?:[^']|'')*)'"), "moment": re.compile(r"\[([^\]]*)\]")}


def render(value: dt.datetime, pattern: str, syntax: str) -> str:
    """`value` written with a Luxon (`syntax` "luxon") or moment ("moment") pattern."""
    tokens = LUXON if syntax == "luxon" else MOMENT
    literal = _LITERAL["luxon" if syntax == "luxon" else "moment"]
    out: list[str] = []
    i = 0
    while i < len(pattern):
        quoted = literal.match(pattern, i)
        if quoted:
            out.append(quoted.group(1).replace("''", "'") if syntax == "luxon" else quoted.group(1))
            i = quoted.end()
            continue
        ch = pattern[i]
        if not ch.isalpha():
            out.append(ch)
            i += 1
            continue
        j = i
        while j < len(pattern) and pattern[j] == ch:
            j += 1
        run = pattern[i:j]
        if syntax == "moment" and run == "D" and pattern[j:j + 1] == "o":
            run, j = "Do", j + 1
        out.append(_longest(run, tokens, value))
        i = j
    return "".join(out)


def _longest(run: str, tokens: dict[str, Render], value: dt.datetime) -> str:
    """A run of one letter as the longest tokens that make it up (`MMMMM` = `MMMM` + `M`); unknown letters stay."""
    out = []
    while run:
        for size in range(len(run), 0, -1):
            if run[:size] in tokens:
                out.append(tokens[run[:size]](value))
                run = run[size:]
                break
        else:
            out.append(run[0])
            run = run[1:]
    return "".join(out)


_STRPTIME = {"YYYY": "%Y", "YY": "%y", "MMMM": "%B", "MMM": "%b", "MM": "%m", "M": "%m", "DD": "%d", "D": "%d",
             "HH": "%H", "H": "%H", "hh": "%I", "h": "%I", "mm": "%M", "m": "%M", "ss": "%S", "s": "%S",
             "SSS": "%f", "A": "%p", "a": "%p", "ZZ": "%z", "Z": "%z", "dddd": "%A", "ddd": "%a"}


def moment_to_strptime(pattern: str) -> str | None:
    """A moment parse pattern as strptime's, or None when it uses a token strptime cannot read."""
    out: list[str] = []
    i = 0
    while i < len(pattern):
        quoted = _LITERAL["moment"].match(pattern, i)
        if quoted:
            out.append(quoted.group(1).replace("%", "%%"))
            i = quoted.end()
            continue
        ch = pattern[i]
        j = i
        while ch.isalpha() and j < len(pattern) and pattern[j] == ch:
            j += 1
        if j == i:
            out.append("%%" if ch == "%" else ch)
            i += 1
            continue
        token = _STRPTIME.get(pattern[i:j])
        if token is None:
            return None
        out.append(token)
        i = j
    return "".join(out)
