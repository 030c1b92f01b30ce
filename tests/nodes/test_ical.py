"""iCal through the real engine: the .ics binary read back with icalendar, all-day events, options, bad dates."""

from __future__ import annotations

import base64
import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

import icalendar


def ical(**params: Any) -> dict[str, Any]:
    return {"name": "iCal", "type": "iCal", "parameters": {"operation": "createEventFile", **params}}


def files(result: Any, prop: str = "data") -> list[tuple[dict[str, Any], Any]]:
    assert result.status == "success", result.error
    out = []
    for item in result.runs["iCal"][-1].outputs[0]:
        entry = item.binary[prop]
        out.append((entry, icalendar.Calendar.from_ical(base64.b64decode(entry["data"]))))
    return out


def event_of(cal: Any) -> Any:
    [event] = cal.walk("VEVENT")
    return event


def test_an_event_file_per_item_in_utc(run_node):
    result = run_node(ical(title="{{ $json.title }}", start="{{ $json.at }}", end="2024-05-01T11:00:00+02:00"),
                      [{"title": "Standup", "at": "2024-05-01T08:30:00Z"}, {"title": "Retro", "at": "2024-05-01T09:00:00Z"}])
    [(entry, cal), (_, second)] = files(result)
    assert entry["fileName"] == "event.ics" and entry["mimeType"] == "text/calendar"
    assert result.runs["iCal"][-1].outputs[0][0].json == {}
    event = event_of(cal)
    assert str(event["summary"]) == "Standup" and event["uid"]
    assert event.decoded("dtstart") == dt.datetime(2024, 5, 1, 8, 30, tzinfo=dt.UTC)
    assert event.decoded("dtend") == dt.datetime(2024, 5, 1, 9, 0, tzinfo=dt.UTC)
    assert event.to_ical().decode().count("DTSTART:20240501T083000Z") == 1
    assert str(event_of(second)["summary"]) == "Retro" and event_of(second)["uid"] != event["uid"]


def test_all_day_ends_the_day_after_and_an_empty_end_is_the_start(run_node):
    [(_, cal)] = files(run_node(ical(title="Holiday", start="2024-12-24T10:00:00Z", allDay=True)))
    event = event_of(cal)
    assert event.decoded("dtstart") == dt.date(2024, 12, 24) and event.decoded("dtend") == dt.date(2024, 12, 25)


def test_options_become_ics_properties(run_node):
    options = {
        "attendeesUi": {"attendeeValues": [{"name": "Ann", "email": "ann@example.com", "rsvp": True}]},
        "organizerUi": {"organizerValues": {"name": "Org", "email": "org@example.com"}},
        "geolocationUi": {"geolocationValues": {"lat": "52.52", "lon": "13.40"}},
        "busyStatus": "TENTATIVE", "calName": "Team", "description": "Talk, then code", "fileName": "meet.ics",
        "location": "Room 1", "recurrenceRule": "FREQ=WEEKLY;COUNT=4", "sequence": 2, "status": "TENTATIVE",
        "uid": "fixed-uid@flowbox", "url": "https://example.com/meet",
    }
    [(entry, cal)] = files(run_node(ical(title="Meet", start="2024-05-01T08:00:00Z", end="2024-05-01T09:00:00Z",
                                         binaryPropertyName="invite", additionalFields=options)), "invite")
    assert entry["fileName"] == "meet.ics"
    assert str(cal["x-wr-calname"]) == "Team"
    event = event_of(cal)
    assert str(event["uid"]) == "fixed-uid@flowbox" and str(event["description"]) == "Talk, then code"
    assert str(event["location"]) == "Room 1" and str(event["status"]) == "TENTATIVE" and event["sequence"] == 2
    assert str(event["x-microsoft-cdo-busystatus"]) == "TENTATIVE" and str(event["url"]) == "https://example.com/meet"
    assert event["rrule"]["FREQ"] == ["WEEKLY"] and event["rrule"]["COUNT"] == [4]
    assert (event["geo"].latitude, event["geo"].longitude) == (52.52, 13.40)
    assert str(event["organizer"]) == "mailto:org@example.com" and event["organizer"].params["CN"] == "Org"
    attendee = event["attendee"]
    assert str(attendee) == "mailto:ann@example.com" and attendee.params["RSVP"] == "TRUE"


def test_workflow_timezone_writes_a_tzid(run_node):
    result = run_node(ical(title="x", start="2024-05-01T08:00:00Z", additionalFields={"useWorkflowTimezone": True}),
                      settings={"timezone": "Europe/Berlin"})
    [(entry, cal)] = files(result)
    text = base64.b64decode(entry["data"]).decode()
    assert "DTSTART;TZID=Europe/Berlin:20240501T100000" in text
    assert event_of(cal).decoded("dtstart") == dt.datetime(2024, 5, 1, 10, tzinfo=ZoneInfo("Europe/Berlin"))


def test_a_missing_or_bad_start_names_the_parameter_and_item(run_node):
    missing = run_node(ical(title="x", start="{{ $json.when }}"), [{"when": None}])
    assert missing.status == "error" and missing.error["node"] == "iCal"
    assert "parameter 'start' is required" in missing.error["message"]
    bad = run_node(ical(title="x", start="{{ $json.when }}"), [{"when": "2024-05-01T08:00:00Z"}, {"when": "tomorrow"}])
    assert bad.status == "error" and bad.error["message"].startswith("item 1: parameter 'start' must be an ISO date")


def test_end_before_start_and_a_bad_rrule_are_refused(run_node):
    result = run_node(ical(start="2024-05-01T08:00:00Z", end="2024-04-01T08:00:00Z"))
    assert result.status == "error" and "parameter 'end'" in result.error["message"]
    rule = run_node(ical(start="2024-05-01T08:00:00Z", additionalFields={"recurrenceRule": "EVERY=SOMETIMES"}))
    assert rule.status == "error" and "recurrenceRule" in rule.error["message"]
