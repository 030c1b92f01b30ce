"""Date & Time: format, parse, shift, convert and compare dates (stdlib datetime + zoneinfo).

Dates are read from an ISO 8601 string, an RFC 2822 string, epoch seconds or
milliseconds (a number, or digits; 1e11 and above count as ms), a `fromFormat`
strptime pattern, or a datetime from an expression. A date without an offset is
in `timezone` (default: the workflow's). Results are written to `outputField` of
a copy of the item, expressed in `timezone` (`toTimezone` for convertTimezone).
"""

from __future__ import annotations

import calendar
import datetime as dt
import re
from email.utils import format_datetime, parsedate_to_datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from flowbox.node import Context, Item, ItemErrors, N8n, N8nNotes, Param, node, set_path
from flowbox.nodes._n8n import Params

UNITS = ["seconds", "minutes", "hours", "days", "weeks", "months", "years"]
SECONDS = {"seconds": 1, "minutes": 60, "hours": 3600, "days": 86400, "weeks": 604800}
NAMED_FORMATS = ["iso", "epoch", "epochMs", "date", "time", "rfc2822"]
WITH_VALUE = ["format", "parse", "add", "subtract", "convertTimezone", "diff"]
WITH_FORMAT = ["format", "parse", "add", "subtract", "convertTimezone", "now"]
EPOCH_MS_FROM = 1e11  # 1e11 s is the year 5138: larger numbers are milliseconds


class DateError(ValueError):
    """A value or parameter of this node is not usable; the message says which."""


def from_n8n(params: dict[str, Any], version: float) -> tuple[dict[str, Any], N8nNotes]:
    """n8n's Date & Time v2 addToDate / subtractFromDate (`magnitude`, `duration`, `timeUnit`,
    `outputFieldName`) with `options.includeInputFields`; n8n's other operations, its Luxon formats and
    v1's layout are not supported."""
    p = Params(params, version)
    operation = p.take("operation", "getCurrentDate") if version >= 2 else "v1"
    if operation not in ("addToDate", "subtractFromDate"):
        p.unsupported(f"operation {operation!r} is not supported" if version >= 2
                      else "Date & Time v1 is not supported")
        p.ignore(*params)
        return p.done({})
    unit = p.take("timeUnit", "days")
    if unit not in UNITS:
        p.unsupported(f"time unit {unit!r} is not supported")
    options = p.options("options", ("includeInputFields",))
    if not options.get("includeInputFields"):
        p.unsupported("an output without the input fields (n8n's default) is not supported")
    p.ignore("notice")
    p.approximated("the new date is ISO 8601 text as flowbox writes it (n8n's Luxon text has milliseconds)")
    return p.done({"operation": "add" if operation == "addToDate" else "subtract",
                   "value": p.take("magnitude", ""), "amount": p.take("duration", 0), "unit": unit,
                   "outputField": p.take("outputFieldName", "newDate"), "format": "iso"})


N8N = N8n(types=("n8n-nodes-base.dateTime",), versions=(1, 2), convert=from_n8n)


@node(n8n=N8N,
    type="dateTime", display_name="Date & Time", group="transform", icon="calendar",
    description="Format, parse, add to, convert and compare dates",
    params=[
        Param("operation", "options", default="format", required=True,
              options=["format", "parse", "add", "subtract", "convertTimezone", "now", "diff"]),
        Param("value", "datetime", default="", required=True, show_if={"operation": WITH_VALUE},
              description="The date: ISO 8601 or RFC 2822 text, epoch seconds or milliseconds, or a datetime"),
        Param("fromFormat", "string", default="", show_if={"operation": WITH_VALUE},
              description="strptime pattern to read `value` with (empty: detect ISO, RFC 2822, epoch)"),
        Param("value2", "string", default="{{ $now }}", show_if={"operation": ["diff"]},
              description="The end date: the result is value2 - value"),
        Param("amount", "number", default=1, show_if={"operation": ["add", "subtract"]}),
        Param("unit", "options", default="days", options=UNITS, show_if={"operation": ["add", "subtract", "diff"]},
              description="months and years use calendar arithmetic (Jan 31 + 1 month = Feb 28/29); "
                          "diff in months/years counts whole calendar months/years"),
        Param("toTimezone", "string", default="UTC", show_if={"operation": ["convertTimezone"]},
              description="IANA zone name, e.g. Europe/Berlin"),
        Param("timezone", "string", default="",
              description="IANA zone of dates without an offset, and of the result (empty: the workflow's)"),
        Param("format", "string", default="iso", show_if={"operation": WITH_FORMAT},
              description="Output format: iso, epoch, epochMs, date (YYYY-MM-DD), time (HH:MM:SS), rfc2822, "
                          "or a strftime pattern such as %d/%m/%Y %H:%M"),
        Param("outputField", "string", default="date", required=True,
              description="Field of the item to write the result to (dotted paths nest)"),
    ],
)
async def date_time(ctx: Context, items: list[Item]) -> list[list[Item]]:
    """Compute one result per item and write it to `outputField`; a bad value fails only its item
    when the node's onError is "continue" or "errorOutput"."""
    out: list[Item] = []
    errors = ItemErrors(ctx)
    for i, item in enumerate(items):
        try:
            result = _compute(ctx, i)
        except DateError as exc:
            errors.fail(item, i, exc, out)
            continue
        out.append(item.derive(set_path(item.json, ctx.param("outputField", i), result)))
    return errors.outputs(out)


def _compute(ctx: Context, i: int) -> Any:
    op = ctx.param("operation", i)
    tz = zone(ctx.param("timezone", i) or ctx.timezone)
    if op == "now":
        return format_date(dt.datetime.now(tz), ctx.param("format", i))
    pattern = ctx.param("fromFormat", i) or None
    value = to_datetime(ctx.param("value", i), tz, pattern)
    if op == "diff":
        return diff(value, to_datetime(ctx.param("value2", i), tz, pattern), ctx.param("unit", i))
    if op in ("add", "subtract"):
        amount = ctx.param("amount", i)
        value = shift(value, -amount if op == "subtract" else amount, ctx.param("unit", i))
    elif op == "convertTimezone":
        tz = zone(ctx.param("toTimezone", i))
    elif op not in ("format", "parse"):
        raise DateError(f"unknown operation {op!r}")
    return format_date(value.astimezone(tz), ctx.param("format", i))


def zone(name: Any) -> ZoneInfo:
    """The IANA zone `name`, or a clear error."""
    try:
        return ZoneInfo(str(name).strip())
    except (ZoneInfoNotFoundError, ValueError):
        raise DateError(f"unknown timezone {name!r} (use an IANA name such as Europe/Berlin or UTC)") from None


def to_datetime(value: Any, tz: dt.tzinfo, pattern: str | None = None) -> dt.datetime:
    """An aware datetime from `value`; naive values are taken to be in `tz`."""
    parsed = _parse(value, tz, pattern)
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=tz)


def _parse(value: Any, tz: dt.tzinfo, pattern: str | None) -> dt.datetime:
    if isinstance(value, dt.datetime):
        return value
    if isinstance(value, dt.date):
        return dt.datetime.combine(value, dt.time())
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return _from_epoch(value)
    if not isinstance(value, str) or not value.strip():
        raise DateError(f"cannot read a date from {value!r}: give an ISO 8601 text, epoch seconds or milliseconds")
    text = value.strip()
    if pattern:
        try:
            return dt.datetime.strptime(text, pattern)
        except ValueError:
            raise DateError(f"cannot read a date from {value!r} with format {pattern!r}") from None
    if re.fullmatch(r"-?\d+(\.\d+)?", text):
        return _from_epoch(float(text))
    try:
        return dt.datetime.fromisoformat(text)
    except ValueError:
        pass
    try:
        return parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        raise DateError(f"cannot read a date from {value!r}: give an ISO 8601 text (2024-05-31T14:30:00), "
                        f"epoch seconds or milliseconds, or set 'fromFormat'") from None


def _from_epoch(number: float) -> dt.datetime:
    seconds = number / 1000 if abs(number) >= EPOCH_MS_FROM else number
    try:
        return dt.datetime.fromtimestamp(seconds, dt.UTC)
    except (OverflowError, OSError, ValueError):
        raise DateError(f"epoch value {number!r} is out of range") from None


def shift(value: dt.datetime, amount: float, unit: str) -> dt.datetime:
    """`value` moved by `amount` units: calendar months/years (clamping the day), wall-clock
    days/weeks (keeps the time of day across DST), elapsed seconds/minutes/hours."""
    if unit in ("months", "years"):
        if amount != int(amount):
            raise DateError(f"cannot add a fraction of {unit}: {amount!r}")
        months = int(amount) * (12 if unit == "years" else 1)
        year, month = divmod(value.year * 12 + value.month - 1 + months, 12)
        if not 1 <= year <= 9999:
            raise DateError(f"adding {amount} {unit} to {value.isoformat()} leaves the supported years")
        day = min(value.day, calendar.monthrange(year, month + 1)[1])
        return value.replace(year=year, month=month + 1, day=day)
    if unit not in SECONDS:
        raise DateError(f"unknown unit {unit!r}: use one of {', '.join(UNITS)}")
    delta = dt.timedelta(seconds=amount * SECONDS[unit])
    try:
        if unit in ("days", "weeks"):
            return value + delta  # aware arithmetic in Python is wall-clock time
        return (value.astimezone(dt.UTC) + delta).astimezone(value.tzinfo)
    except OverflowError:
        raise DateError(f"adding {amount} {unit} to {value.isoformat()} leaves the supported years") from None


def diff(start: dt.datetime, end: dt.datetime, unit: str) -> int | float:
    """`end - start` in `unit`: whole calendar months/years, else a number (int when exact)."""
    if unit in ("months", "years"):
        end = end.astimezone(start.tzinfo)
        months = (end.year - start.year) * 12 + end.month - start.month
        # whole months m with start + m months <= end, as `add` counts (Jan 31 -> Feb 29 2024 is 1)
        if months > 0 and shift(start, months, "months") > end:
            months -= 1
        elif months < 0 and shift(start, months, "months") < end:
            months += 1
        return months if unit == "months" else int(months / 12)
    if unit not in SECONDS:
        raise DateError(f"unknown unit {unit!r}: use one of {', '.join(UNITS)}")
    result = (end - start).total_seconds() / SECONDS[unit]
    return int(result) if result.is_integer() else result


def format_date(value: dt.datetime, fmt: Any) -> Any:
    """`value` in a named format (iso, epoch, epochMs, date, time, rfc2822) or a strftime pattern."""
    fmt = str(fmt or "iso")
    if fmt == "iso":
        return value.isoformat()
    if fmt == "epoch":
        seconds = value.timestamp()
        return int(seconds) if seconds.is_integer() else seconds
    if fmt == "epochMs":
        return round(value.timestamp() * 1000)
    if fmt == "date":
        return value.date().isoformat()
    if fmt == "time":
        return value.strftime("%H:%M:%S")
    if fmt == "rfc2822":
        return format_datetime(value)
    if "%" not in fmt:
        raise DateError(f"unknown format {fmt!r}: use one of {', '.join(NAMED_FORMATS)} or a strftime "
                        f"pattern such as %Y-%m-%d")
    return value.strftime(fmt)

