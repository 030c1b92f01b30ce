"""dateTime through the real engine."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest


def dtnode(**params: Any) -> dict[str, Any]:
    return {"name": "Date", "type": "dateTime", "parameters": params}


def results(result: Any, field: str = "date") -> list[Any]:
    assert result.status == "success", result.error
    return [item.json[field] for item in result.runs["Date"][-1].outputs[0]]


@pytest.mark.parametrize(("value", "fmt", "expected"), [
    ("2024-05-31T14:30:00Z", "%d/%m/%Y %H:%M", "31/05/2024 14:30"),
    ("2024-05-31T14:30:00+02:00", "iso", "2024-05-31T12:30:00+00:00"),
    ("2024-05-31", "iso", "2024-05-31T00:00:00+00:00"),
    (1717165800, "iso", "2024-05-31T14:30:00+00:00"),
    (1717165800123, "iso", "2024-05-31T14:30:00.123000+00:00"),
    ("1717165800", "date", "2024-05-31"),
    ("Fri, 31 May 2024 14:30:00 GMT", "epoch", 1717165800),
    ("2024-05-31T14:30:00Z", "epochMs", 1717165800000),
    ("2024-05-31T14:30:05Z", "time", "14:30:05"),
    ("2024-05-31T14:30:00Z", "rfc2822", "Fri, 31 May 2024 14:30:00 +0000"),
])
def test_format(run_node, value, fmt, expected):
    assert results(run_node(dtnode(operation="format", value=value, format=fmt))) == [expected]


def test_naive_values_use_the_workflow_timezone(run_node):
    result = run_node(dtnode(operation="format", value="2024-01-15 09:00", format="epoch"),
                      settings={"timezone": "Europe/Berlin"})
    assert results(result) == [int(dt.datetime(2024, 1, 15, 8, tzinfo=dt.UTC).timestamp())]
    result = run_node(dtnode(operation="format", value="2024-01-15T09:00:00Z"), settings={"timezone": "Asia/Tokyo"})
    assert results(result) == ["2024-01-15T18:00:00+09:00"]


def test_timezone_param_overrides_the_workflow(run_node):
    result = run_node(dtnode(operation="format", value="2024-07-01T12:00:00", timezone="America/New_York"))
    assert results(result) == ["2024-07-01T12:00:00-04:00"]


def test_values_from_item_expressions(run_node):
    result = run_node(dtnode(operation="format", value="{{ $json.when }}", format="date", outputField="day"),
                      [{"when": "2024-02-29T10:00:00Z"}, {"when": 1700000000}])
    assert results(result, "day") == ["2024-02-29", "2023-11-14"]


def test_datetime_object_from_expression(run_node):
    [now] = results(run_node(dtnode(operation="format", value="{{ $now }}", format="epoch")))
    assert abs(now - dt.datetime.now(dt.UTC).timestamp()) < 5


def test_parse_with_from_format(run_node):
    result = run_node(dtnode(operation="parse", value="31.05.2024 14:30", fromFormat="%d.%m.%Y %H:%M",
                             timezone="Europe/Paris"))
    assert results(result) == ["2024-05-31T14:30:00+02:00"]


@pytest.mark.parametrize(("value", "op", "amount", "unit", "expected"), [
    ("2024-01-31T10:00:00Z", "add", 1, "months", "2024-02-29T10:00:00+00:00"),
    ("2023-01-31T10:00:00Z", "add", 1, "months", "2023-02-28T10:00:00+00:00"),
    ("2024-02-29T00:00:00Z", "add", 1, "years", "2025-02-28T00:00:00+00:00"),
    ("2024-03-31T00:00:00Z", "subtract", 1, "months", "2024-02-29T00:00:00+00:00"),
    ("2024-01-15T00:00:00Z", "subtract", 14, "months", "2022-11-15T00:00:00+00:00"),
    ("2024-01-01T00:00:00Z", "add", 90, "minutes", "2024-01-01T01:30:00+00:00"),
    ("2024-01-01T00:00:00Z", "subtract", 1, "seconds", "2023-12-31T23:59:59+00:00"),
    ("2024-01-01T00:00:00Z", "add", 2, "weeks", "2024-01-15T00:00:00+00:00"),
    ("2024-01-01T00:00:00Z", "add", 1.5, "days", "2024-01-02T12:00:00+00:00"),
])
def test_add_and_subtract(run_node, value, op, amount, unit, expected):
    assert results(run_node(dtnode(operation=op, value=value, amount=amount, unit=unit))) == [expected]


def test_days_keep_wall_time_across_dst_and_hours_do_not(run_node):
    berlin = {"timezone": "Europe/Berlin"}
    days = run_node(dtnode(operation="add", value="2024-03-30T12:00:00", amount=1, unit="days"), settings=berlin)
    assert results(days) == ["2024-03-31T12:00:00+02:00"]
    hours = run_node(dtnode(operation="add", value="2024-03-30T12:00:00", amount=24, unit="hours"), settings=berlin)
    assert results(hours) == ["2024-03-31T13:00:00+02:00"]


def test_convert_timezone(run_node):
    result = run_node(dtnode(operation="convertTimezone", value="2024-06-01T12:00:00Z", toTimezone="Asia/Kolkata"))
    assert results(result) == ["2024-06-01T17:30:00+05:30"]


def test_now(run_node):
    [now] = results(run_node(dtnode(operation="now"), settings={"timezone": "Europe/Berlin"}))
    parsed = dt.datetime.fromisoformat(now)
    assert parsed.utcoffset() in (dt.timedelta(hours=1), dt.timedelta(hours=2))
    assert abs((parsed - dt.datetime.now(dt.UTC)).total_seconds()) < 5


@pytest.mark.parametrize(("value", "value2", "unit", "expected"), [
    ("2024-01-01T00:00:00Z", "2024-01-03T12:00:00Z", "days", 2.5),
    ("2024-01-01T00:00:00Z", "2024-01-01T03:00:00Z", "hours", 3),
    ("2024-01-01T03:00:00Z", "2024-01-01T00:00:00Z", "minutes", -180),
    ("2024-01-31T00:00:00Z", "2024-02-29T00:00:00Z", "months", 1),  # as add: Jan 31 + 1 month = Feb 29
    ("2024-01-31T00:00:00Z", "2024-02-28T00:00:00Z", "months", 0),
    ("2024-01-31T00:00:00Z", "2024-03-31T00:00:00Z", "months", 2),
    ("2020-02-29T00:00:00Z", "2024-02-28T00:00:00Z", "years", 3),
    ("2024-05-01T00:00:00Z", "2023-04-01T00:00:00Z", "months", -13),
])
def test_diff(run_node, value, value2, unit, expected):
    result = run_node(dtnode(operation="diff", value=value, value2=value2, unit=unit, outputField="d"))
    assert results(result, "d") == [expected]


def test_output_field_nests_and_input_is_not_changed(run_node):
    result = run_node(dtnode(operation="format", value="{{ $json.meta.at }}", format="date", outputField="meta.day"),
                      [{"meta": {"at": "2024-05-31T00:00:00Z"}, "keep": 1}])
    [item] = result.runs["Date"][-1].outputs[0]
    assert item.json == {"meta": {"at": "2024-05-31T00:00:00Z", "day": "2024-05-31"}, "keep": 1}
    assert result.runs["Start"][-1].outputs[0][0].json == {"meta": {"at": "2024-05-31T00:00:00Z"}, "keep": 1}
    assert item.source is result.runs["Start"][-1].outputs[0][0]


def test_unparseable_value_is_named(run_node):
    result = run_node(dtnode(operation="format", value="{{ $json.v }}"), [{"v": "2024-01-01"}, {"v": "next tuesday"}])
    assert result.status == "error"
    assert result.error["node"] == "Date" and "'next tuesday'" in result.error["message"]


def test_from_format_mismatch_is_named(run_node):
    result = run_node(dtnode(operation="parse", value="2024/01/01", fromFormat="%d.%m.%Y"))
    assert "'2024/01/01'" in result.error["message"] and "%d.%m.%Y" in result.error["message"]


def test_unknown_timezone_and_format(run_node):
    bad_tz = run_node(dtnode(operation="now", timezone="Mars/Olympus"))
    assert "Mars/Olympus" in bad_tz.error["message"]
    bad_format = run_node(dtnode(operation="now", format="fancy"))
    assert "fancy" in bad_format.error["message"]


def test_missing_value_is_refused_before_running(run_node):
    from flowbox.errors import WorkflowInvalid

    with pytest.raises(WorkflowInvalid, match="value"):
        run_node(dtnode(operation="format"))


def test_on_error_continue_and_error_output_are_per_item(run_node):
    inputs = [{"v": "2024-01-01T00:00:00Z"}, {"v": "garbage"}]
    cont = run_node({**dtnode(operation="format", value="{{ $json.v }}", format="date"), "onError": "continue"},
                    inputs)
    assert cont.status == "success"
    first, second = (i.json for i in cont.runs["Date"][-1].outputs[0])
    assert first["date"] == "2024-01-01" and "garbage" in second["error"]
    routed = run_node({**dtnode(operation="format", value="{{ $json.v }}", format="date"), "onError": "errorOutput"},
                      inputs)
    ok, failed = routed.runs["Date"][-1].outputs
    assert [i.json["date"] for i in ok] == ["2024-01-01"]
    assert [i.json["v"] for i in failed] == ["garbage"] and "garbage" in failed[0].json["error"]


@pytest.mark.parametrize(("syntax", "fmt", "expected"), [
    ("luxon", "yyyy/MM/dd HH:mm:ss.SSS", "2024/03/05 07:08:09.123"),
    ("luxon", "d LLL yy, h:mm a 'at' ZZ", "5 Mar 24, 7:08 AM at +01:00"),
    ("luxon", "EEEE, MMMM d", "Tuesday, March 5"),
    ("luxon", "X|x|q|o|WW", "1709618889|1709618889123|1|65|10"),
    ("moment", "YYYY-MM-DD [week] W, dddd Do", "2024-03-05 week 10, Tuesday 5th"),
    ("moment", "MM/DD/YYYY hh:mm A Z", "03/05/2024 07:08 AM +01:00"),
    ("moment", "X", "1709618889"),
])
def test_luxon_and_moment_patterns(run_node, syntax, fmt, expected):
    node = dtnode(operation="format", value="2024-03-05T07:08:09.123+01:00", format=fmt, formatSyntax=syntax,
                  timezone="Europe/Berlin")
    assert results(run_node(node)) == [expected]


@pytest.mark.parametrize(("params", "expected"), [
    ({"operation": "extract", "part": "hour"}, 14),
    ({"operation": "extract", "part": "week"}, 22),
    ({"operation": "extract", "part": "quarter"}, 2),
    ({"operation": "round", "roundTo": "hour"}, "2024-05-31T14:00:00+00:00"),
    ({"operation": "round", "roundTo": "week"}, "2024-05-27T00:00:00+00:00"),
    ({"operation": "round", "roundTo": "month", "roundMode": "up"}, "2024-06-01T00:00:00+00:00"),
    ({"operation": "round", "roundTo": "day", "format": "isoMs"}, "2024-05-31T00:00:00.000Z"),
    ({"operation": "add", "amount": 1, "unit": "days", "format": "isoUtcMs"}, "2024-06-01T14:30:15.000Z"),
])
def test_extract_round_and_iso_with_milliseconds(run_node, params, expected):
    node = dtnode(value="2024-05-31T14:30:15Z", **params)
    assert results(run_node(node, settings={"timezone": "UTC"})) == [expected]


def test_result_alone_and_an_empty_date_as_null(run_node):
    node = dtnode(operation="format", value="{{ $json.at }}", format="yyyy", formatSyntax="luxon",
                  outputField="year", includeInputFields=False, emptyAsNull=True)
    result = run_node(node, [{"at": "2024-05-31", "keep": 1}, {"at": None, "keep": 2}])
    assert [i.json for i in result.runs["Date"][-1].outputs[0]] == [{"year": "2024"}, {"year": None}]


def test_dates_as_javascript_reads_them(run_node):
    node = dtnode(operation="format", value="{{ $json.at }}", format="iso")
    result = run_node(node, [{"at": "08/01/2022"}, {"at": "April 11, 2023 2:30 PM"}], settings={"timezone": "UTC"})
    assert results(result) == ["2022-08-01T00:00:00+00:00", "2023-04-11T14:30:00+00:00"]


def test_a_workflow_without_a_timezone_takes_flowbox_timezone(monkeypatch):
    from flowbox.workflow import load_workflow

    data = {"name": "t", "nodes": [], "connections": {}}
    assert load_workflow(data).timezone == "UTC"
    monkeypatch.setenv("FLOWBOX_TIMEZONE", "America/New_York")  # as n8n's GENERIC_TIMEZONE
    assert load_workflow(data).timezone == "America/New_York"
    assert load_workflow({**data, "settings": {"timezone": "Asia/Tokyo"}}).timezone == "Asia/Tokyo"


@pytest.mark.parametrize(("start", "end", "units", "expected"), [
    ("2024-01-31T10:00:00Z", "2024-03-01T16:30:00Z", ["months", "days", "hours"], {"months": 1, "days": 1, "hours": 6.5}),
    ("2024-01-01T00:00:00Z", "2024-01-03T12:00:00Z", ["days"], {"days": 2.5}),
    ("2024-01-01T00:00:00Z", "2025-07-01T00:00:00Z", ["years", "months"], {"years": 1, "months": 6}),
    ("2024-01-01T00:00:00Z", "2024-01-22T01:00:00Z", ["weeks", "days", "minutes"],
     {"weeks": 3, "days": 0, "minutes": 60}),
    ("2024-03-05T00:00:00Z", "2024-03-01T00:00:00Z", ["days"], {"days": -4}),
])
def test_a_difference_in_several_units(run_node, start, end, units, expected):
    """diff with `units`: Luxon's diff, whole units from the largest down, the last unit keeps the fraction."""
    result = run_node(dtnode(operation="diff", value=start, value2=end, units=units))
    assert results(result) == [expected]


def test_a_difference_as_an_iso_duration(run_node):
    result = run_node(dtnode(operation="diff", value="2024-01-01T00:00:00Z", value2="2024-01-03T04:30:00Z",
                             units=["days", "hours", "minutes"], isoDuration=True))
    assert results(result) == ["P2DT4H30M"]


def test_an_empty_date_fails_unless_told_what_it_gives(run_node):
    """An expression that gives no date fails the item, gives `emptyResult` (n8n v1: "Invalid date") or null."""
    failed = run_node(dtnode(operation="format", value="{{ '' }}", format="date"))
    assert failed.status == "error" and "parameter 'value' is empty" in failed.error["message"]
    given = run_node(dtnode(operation="format", value="{{ '' }}", emptyResult="Invalid date"))
    assert results(given) == ["Invalid date"]
    assert results(run_node(dtnode(operation="format", value="{{ '' }}", emptyAsNull=True))) == [None]
