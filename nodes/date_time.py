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
from flowbox.nodes._dateformat import moment_to_strptime, render
from flowbox.nodes._n8n import Params

UNITS = ["seconds", "minutes", "hours", "days", "weeks", "months", "years"]
DIFF_UNITS = ["years", "quarters", "months", "weeks", "days", "hours", "minutes", "seconds", "milliseconds"]
SECONDS = {"seconds": 1, "minutes": 60, "hours": 3600, "days": 86400, "weeks": 604800}
NAMED_FORMATS = ["iso", "epoch", "epochMs", "date", "time", "rfc2822"]
OPERATIONS = ["format", "parse", "add", "subtract", "convertTimezone", "now", "diff", "extract", "round"]
WITH_VALUE = ["format", "parse", "add", "subtract", "convertTimezone", "diff", "extract", "round"]
WITH_FORMAT = ["format", "parse", "add", "subtract", "convertTimezone", "now", "round"]
PARTS = ["year", "quarter", "month", "week", "day", "hour", "minute", "second", "millisecond"]
ROUND_UNITS = ["second", "minute", "hour", "day", "week", "month", "year"]
_TEXT_FORMATS = ("%m/%d/%Y", "%m/%d/%Y %H:%M", "%m/%d/%Y %H:%M:%S", "%m/%d/%Y %I:%M %p", "%Y/%m/%d",
                 "%Y/%m/%d %H:%M:%S", "%B %d, %Y", "%B %d, %Y %I:%M %p", "%B %d, %Y %H:%M", "%b %d, %Y",
                 "%b %d, %Y %I:%M %p", "%d %B %Y", "%d %b %Y", "%a %b %d %Y", "%a %b %d %Y %H:%M:%S")
EPOCH_MS_FROM = 1e11  # 1e11 s is the year 5138: larger numbers are milliseconds


class DateError(ValueError):
    """A value or parameter of this node is not usable; the message says which."""


_V1_UNITS = {"quarters": ("months", 3), "milliseconds": ("seconds", 0.001)}


def from_n8n(params: dict[str, Any], version: float) -> tuple[dict[str, Any], N8nNotes]:
    """n8n's Date & Time. v1: `action` format (moment's `toFormat`, options fromFormat / fromTimezone /
    toTimezone; without a timezone the server's zone, as moment) and calculate (add / subtract `duration`
    `timeUnit`, written as JavaScript's toISOString). v2: addToDate, subtractFromDate, formatDate (Luxon's
    `format` or `customFormat`), extractDate, roundDate, getCurrentDate, each writing `outputFieldName` on
    its own item unless options.includeInputFields. getTimeBetweenDates is not supported."""
    p = Params(params, version)
    return _from_v1(p) if version < 2 else _from_v2(p)


def _from_format(p: Params, pattern: Any) -> str:
    """A moment parse pattern (`options.fromFormat`) as strptime's."""
    if not pattern:
        return ""
    if str(pattern).strip() in ("x", "X"):  # epoch milliseconds / seconds: flowbox reads a number as either
        p.approximated(f"fromFormat {pattern!r} (epoch {'milliseconds' if pattern == 'x' else 'seconds'}): an epoch "
                       "number is read as seconds or milliseconds by its size")
        return ""
    converted = moment_to_strptime(str(pattern))
    if converted is None:
        p.unsupported(f"fromFormat {pattern!r} uses a moment token flowbox cannot read")
        return ""
    return converted


def _from_v1(p: Params) -> tuple[dict[str, Any], N8nNotes]:
    action = p.take("action", "format")
    field = p.take("dataPropertyName", "data") or "data"
    if action == "calculate":
        options = p.options("options", ("fromFormat",))
        raw_unit = p.take("timeUnit", "days")
        unit, scale = _V1_UNITS.get(raw_unit, (raw_unit, 1))
        if unit not in UNITS:
            p.unsupported(f"time unit {unit!r} is not supported")
        amount = p.take("duration", 0)
        if scale != 1 and not isinstance(amount, (int, float)):
            p.unsupported(f"a duration in {raw_unit} from an expression is not supported")
        return p.done({"operation": "subtract" if p.take("operation", "add") == "subtract" else "add",
                       "value": p.take("value", ""), "amount": amount * scale if scale != 1 else amount,
                       "unit": unit, "outputField": field, "format": "isoUtcMs", "timezone": "local",
                       "fromFormat": _from_format(p, options.get("fromFormat"))})
    if action != "format":
        p.unsupported(f"action {action!r} is not supported")
        return p.done({})
    empty = p.raw.get("value") in (None, "")
    if empty:  # n8n formats nothing as moment's "Invalid date"; a required value left empty is kept as an
        p.approximated("the date is empty: the node writes \"Invalid date\", as n8n's does")  # expression of ''
    options = p.options("options", ("fromFormat", "fromTimezone", "toTimezone"))
    p.take("custom", False)
    out = {"operation": "format", "value": "={{ '' }}" if empty else p.take("value", ""), "outputField": field,
           "emptyResult": "Invalid date",
           "format": p.take("toFormat", "MM/DD/YYYY") or "", "formatSyntax": "moment", "timezone": "local",
           "fromFormat": _from_format(p, options.get("fromFormat"))}
    if options.get("fromTimezone") or options.get("toTimezone"):  # moment.tz: then the target (or workflow) zone
        out.update(operation="convertTimezone", timezone=options.get("fromTimezone") or "",
                   toTimezone=options.get("toTimezone") or "")
        if not out["fromFormat"]:
            out["textZone"] = "local"  # moment.tz reads only ISO text in the zone; other text as JavaScript's Date
    return p.done(out)


_V2_OUTPUT = {"formatDate": "formattedDate", "extractDate": "datePart", "roundDate": "roundedDate",
              "getCurrentDate": "currentDate", "addToDate": "newDate", "subtractFromDate": "newDate",
              "getTimeBetweenDates": "timeDifference"}


def _from_v2(p: Params) -> tuple[dict[str, Any], N8nNotes]:
    operation = p.take("operation", "getCurrentDate")
    if operation not in _V2_OUTPUT:
        p.unsupported(f"operation {operation!r} is not supported")
        p.ignore(*p.raw)
        return p.done({})
    options = p.options("options", ("includeInputFields", "timezone", "fromFormat", "isoString"))
    p.ignore("notice", "additionalFields")
    out: dict[str, Any] = {"outputField": p.take("outputFieldName", _V2_OUTPUT[operation]) or _V2_OUTPUT[operation],
                           "includeInputFields": bool(options.get("includeInputFields")), "emptyAsNull": True,
                           "format": "isoMs"}
    zone = options.get("timezone")
    if isinstance(zone, str) and zone:
        out["timezone"] = zone
    if operation == "getTimeBetweenDates":
        units = p.take("units", ["day"])
        units = [units] if isinstance(units, str) else list(units or [])
        unknown = [u for u in units if f"{u}s" not in DIFF_UNITS]
        if unknown:
            p.unsupported(f"units {', '.join(map(repr, unknown))} are not supported")
        out.update(operation="diff", value=p.take("startDate", ""), value2=p.take("endDate", ""),
                   units=[f"{u}s" for u in units if f"{u}s" in DIFF_UNITS],
                   isoDuration=bool(options.get("isoString")))
    elif operation in ("addToDate", "subtractFromDate"):
        unit = p.take("timeUnit", "days")
        if unit not in UNITS:
            p.unsupported(f"time unit {unit!r} is not supported")
        date, early = p.take("magnitude", ""), p.take(operation, "")  # early v2 exports named it as the operation
        out.update(operation="add" if operation == "addToDate" else "subtract", value=date or early,
                   amount=p.take("duration", 0), unit=unit)
    elif operation == "formatDate":
        fmt = p.take("format", "MM/dd/yyyy")
        if fmt == "custom":
            fmt = p.take("customFormat", "")
        out.update(operation="format", value=p.take("date", ""), format=fmt, formatSyntax="luxon")
        if zone is not True and "timezone" not in out:
            out["timezone"] = "local"  # without the option n8n formats in the server's zone
        if options.get("fromFormat"):
            p.unsupported("options.fromFormat (Luxon parse formats) is not supported")
    elif operation == "extractDate":
        part = p.take("part", "month")
        if part not in PARTS:
            p.unsupported(f"part {part!r} is not supported")
        out.update(operation="extract", value=p.take("date", ""), part=part)
    elif operation == "roundDate":
        mode = p.take("mode", "roundDown")
        unit = p.take("toNearest" if mode == "roundDown" else "to", "month")
        if unit not in ROUND_UNITS:
            p.unsupported(f"rounding to a {unit} is not supported")
        out.update(operation="round", value=p.take("date", ""), roundMode="up" if mode == "roundUp" else "down",
                   roundTo=unit)
    elif p.take("includeTime", True):
        out["operation"] = "now"
    else:
        out.update(operation="round", value="={{ $now }}", roundMode="down", roundTo="day")
    return p.done(out)


N8N = N8n(types=("n8n-nodes-base.dateTime",), versions=(1, 2), convert=from_n8n)


@node(n8n=N8N,
    type="dateTime", display_name="Date & Time", group="transform", icon="calendar",
    description="Format, parse, add to, convert, compare, round and take apart dates",
    params=[
        Param("operation", "options", default="format", required=True, options=OPERATIONS),
        Param("value", "datetime", default="", required=True, show_if={"operation": WITH_VALUE},
              description="The date: ISO 8601 or RFC 2822 text, epoch seconds or milliseconds, or a datetime"),
        Param("fromFormat", "string", default="", show_if={"operation": WITH_VALUE},
              description="strptime pattern to read `value` with (empty: detect ISO, RFC 2822, epoch)"),
        Param("value2", "string", default="{{ $now }}", show_if={"operation": ["diff"]},
              description="The end date: the result is value2 - value"),
        Param("amount", "number", default=1, show_if={"operation": ["add", "subtract"]}),
        Param("units", "list", default=[], show_if={"operation": ["diff"]},
              description="diff in several units at once: an object such as {\"days\": 2, \"hours\": 3.5} "
                          "(Luxon's diff: whole units but the last; one of " + ", ".join(DIFF_UNITS) + ")"),
        Param("isoDuration", "boolean", default=False, show_if={"operation": ["diff"]},
              description="With units: the difference as an ISO 8601 duration (P2DT3H30M)"),
        Param("unit", "options", default="days", options=UNITS, show_if={"operation": ["add", "subtract", "diff"]},
              description="months and years use calendar arithmetic (Jan 31 + 1 month = Feb 28/29); "
                          "diff in months/years counts whole calendar months/years"),
        Param("part", "options", default="month", options=PARTS, show_if={"operation": ["extract"]},
              description="The part of the date to output, as a number (week: the ISO week)"),
        Param("roundMode", "options", default="down", options=("down", "up"), show_if={"operation": ["round"]}),
        Param("roundTo", "options", default="day", options=ROUND_UNITS, show_if={"operation": ["round"]},
              description="down: the start of the date's unit; up: the start of the next one"),
        Param("toTimezone", "string", default="", show_if={"operation": ["convertTimezone"]},
              description="IANA zone name, e.g. Europe/Berlin (empty: the workflow's)"),
        Param("timezone", "string", default="",
              description="IANA zone of dates without an offset, and of the result (empty: the workflow's; "
                          "local: the server's)"),
        Param("format", "string", default="iso", show_if={"operation": WITH_FORMAT},
              description="Output format: iso, isoMs, isoUtcMs, epoch, epochMs, date (YYYY-MM-DD), time "
                          "(HH:MM:SS), rfc2822, or a pattern in `formatSyntax`"),
        Param("formatSyntax", "options", default="strftime", options=("strftime", "luxon", "moment"),
              show_if={"operation": WITH_FORMAT},
              description="How a format pattern is written: strftime (%d/%m/%Y), Luxon (dd/MM/yyyy, n8n's "
                          "expressions and Date & Time v2) or moment (DD/MM/YYYY, Date & Time v1)"),
        Param("outputField", "string", default="date", required=True,
              description="Field of the item to write the result to (dotted paths nest)"),
        Param("includeInputFields", "boolean", default=True,
              description="Write the result onto a copy of the item; off: an item with only the result"),
        Param("textZone", "options", default="timezone", options=("timezone", "local"),
              show_if={"operation": WITH_VALUE},
              description="Zone of a date written otherwise than ISO 8601 (08/01/2022): `timezone`'s, or the "
                          "server's, as moment.tz reads such text (n8n's Date & Time v1)"),
        Param("emptyAsNull", "boolean", default=False,
              description="A missing or null date gives null instead of failing the item"),
        Param("emptyResult", "string", default="", show_if={"operation": ["format", "convertTimezone"]},
              description="Text an empty date gives instead of failing the item (n8n's Date & Time v1: "
                          "\"Invalid date\")"),
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
        base = item.json if ctx.param("includeInputFields", i) else {}
        out.append(item.derive(set_path(base, ctx.param("outputField", i), result)))
    return errors.outputs(out)


def _compute(ctx: Context, i: int) -> Any:
    op = ctx.param("operation", i)
    tz = zone(ctx.param("timezone", i) or ctx.timezone)
    fmt, syntax = ctx.param("format", i), ctx.param("formatSyntax", i)
    if op == "now":
        return format_date(dt.datetime.now(tz), fmt, syntax)
    raw = ctx.param("value", i)
    if raw in (None, "") and ctx.param("emptyAsNull", i):
        return None
    if raw in (None, ""):
        if ctx.param("emptyResult", i):
            return ctx.param("emptyResult", i)
        raise DateError("parameter 'value' is empty: give the date (ISO 8601 text, epoch seconds or milliseconds, "
                        "or a datetime), or set emptyAsNull")
    pattern = ctx.param("fromFormat", i) or None
    text_zone = (zone("local") if ctx.param("textZone", i) == "local" and isinstance(raw, str) and not pattern
                 and not _ISO_TEXT.match(raw.strip()) else tz)
    value = to_datetime(raw, text_zone, pattern)
    if op == "diff" and ctx.param("units", i):
        found = diff_units(value, to_datetime(ctx.param("value2", i), tz, pattern), list(ctx.param("units", i)))
        return iso_duration(found) if ctx.param("isoDuration", i) else found
    if op == "diff":
        return diff(value, to_datetime(ctx.param("value2", i), tz, pattern), ctx.param("unit", i))
    if op in ("add", "subtract"):
        amount = ctx.param("amount", i)
        value = shift(value.astimezone(tz), -amount if op == "subtract" else amount, ctx.param("unit", i))
    elif op == "convertTimezone":
        tz = zone(ctx.param("toTimezone", i) or ctx.timezone)
    elif op == "extract":
        return extract(value.astimezone(tz), ctx.param("part", i))
    elif op == "round":
        value = round_date(value.astimezone(tz), ctx.param("roundTo", i), up=ctx.param("roundMode", i) == "up")
    elif op not in ("format", "parse"):
        raise DateError(f"unknown operation {op!r}")
    return format_date(value.astimezone(tz), fmt, syntax)


def extract(value: dt.datetime, part: str) -> int:
    """One part of `value` as a number (week: its ISO week number)."""
    if part == "week":
        return value.isocalendar()[1]
    if part == "quarter":
        return (value.month - 1) // 3 + 1
    if part == "millisecond":
        return value.microsecond // 1000
    return int(getattr(value, part))


def round_date(value: dt.datetime, unit: str, *, up: bool = False) -> dt.datetime:
    """The start of `value`'s `unit` (weeks start on Monday), or with `up` the start of the next one."""
    start = value.replace(microsecond=0)
    cut = ROUND_UNITS.index(unit)
    if cut >= 1:
        start = start.replace(second=0)
    if cut >= 2:
        start = start.replace(minute=0)
    if cut >= 3:
        start = start.replace(hour=0)
    if unit == "week":
        start -= dt.timedelta(days=start.weekday())
    if unit in ("month", "year"):
        start = start.replace(day=1)
    if unit == "year":
        start = start.replace(month=1)
    return shift(start, 1, f"{unit}s") if up else start


_ISO_TEXT = re.compile(r"[+-]?\d{4,6}-?(\d\d-?\d\d|W\d\d(-?\d)?|\d{3})([T ]\d\d(:?\d\d(:?\d\d([.,]\d+)?)?)?"
                       r"\s*(Z|[+-]\d\d(:?\d\d)?)?)?$")


def zone(name: Any) -> dt.tzinfo:
    """The IANA zone `name` ("local": the server's own zone), or a clear error."""
    if str(name).strip() == "local":
        return dt.datetime.now().astimezone().tzinfo or dt.UTC
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
    for known in _TEXT_FORMATS:  # what JavaScript's Date reads too: 08/01/2022, April 11, 2023 2:30 PM
        try:
            return dt.datetime.strptime(text, known)
        except ValueError:
            continue
    try:
        return parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        pass
    raise DateError(f"cannot read a date from {value!r}: give an ISO 8601 text (2024-05-31T14:30:00), "
                    f"epoch seconds or milliseconds, or set 'fromFormat'")


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


def diff_units(start: dt.datetime, end: dt.datetime, units: list[str]) -> dict[str, int | float]:
    """`end - start` spread over `units` as Luxon's diff does: from the largest unit down, whole calendar
    years/quarters/months and wall-clock weeks/days, then elapsed time; the last unit keeps the fraction."""
    unknown = [u for u in units if u not in DIFF_UNITS]
    if unknown or not units:
        raise DateError(f"unknown units {unknown or units!r}: use {', '.join(DIFF_UNITS)}")
    chosen = [u for u in DIFF_UNITS if u in units]
    end = end.astimezone(start.tzinfo)
    out: dict[str, int | float] = {}
    cursor = start
    for n, unit in enumerate(chosen):
        last = n == len(chosen) - 1
        step, size = {"years": ("months", 12), "quarters": ("months", 3), "weeks": ("days", 7)}.get(unit, (unit, 1))
        if step in ("months", "days"):
            whole = int(diff(cursor, end, "months") / size) if step == "months" else int(
                (end.replace(tzinfo=None) - cursor.replace(tzinfo=None)).days / size)
            moved = shift(cursor, whole * size, step)
            if last and moved != end:
                beyond = shift(cursor, (whole + (1 if end > moved else -1)) * size, step)
                fraction = (end - moved) / abs(beyond - moved)
                out[unit] = whole + fraction
            else:
                out[unit] = whole
            cursor = moved
            continue
        seconds = (end - cursor).total_seconds()
        length = 0.001 if unit == "milliseconds" else SECONDS[unit]
        whole = int(seconds / length)
        out[unit] = seconds / length if last else whole
        cursor = cursor + dt.timedelta(seconds=whole * length)
    return {k: int(v) if float(v).is_integer() else v for k, v in out.items()}


def iso_duration(parts: dict[str, int | float]) -> str:
    """Luxon's Duration.toISO() of `diff_units`' object: P1Y2M3W4DT5H6M7.5S (PT0S when nothing)."""
    seconds = parts.get("seconds", 0) + parts.get("milliseconds", 0) / 1000
    date = "".join(f"{parts[k]}{c}" for k, c in (("years", "Y"), ("months", "M"), ("weeks", "W"), ("days", "D"))
                   if parts.get(k)) + (f"{parts['quarters'] * 3}M" if parts.get("quarters") else "")
    time = "".join(f"{parts[k]}{c}" for k, c in (("hours", "H"), ("minutes", "M")) if parts.get(k))
    if seconds:
        time += f"{int(seconds) if float(seconds).is_integer() else round(seconds, 3)}S"
    return "P" + date + (f"T{time}" if time else "") if date or time else "PT0S"


def format_date(value: dt.datetime, fmt: Any, syntax: str = "strftime") -> Any:
    """`value` in a named format (iso, isoMs, isoUtcMs, epoch, epochMs, date, time, rfc2822) or a pattern
    (strftime, or Luxon's / moment's tokens, `flowbox.nodes._dateformat`)."""
    fmt = str(fmt or "iso")
    if fmt == "iso":
        return value.isoformat()
    if fmt == "isoMs":  # Luxon's toISO(): milliseconds, the offset (Z in UTC)
        text = value.isoformat(timespec="milliseconds")
        return text[:-6] + "Z" if getattr(value.tzinfo, "key", None) == "UTC" and text.endswith("+00:00") else text
    if fmt == "isoUtcMs":  # JavaScript's toISOString()
        return value.astimezone(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    if syntax in ("luxon", "moment"):
        return render(value, fmt, syntax)
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

