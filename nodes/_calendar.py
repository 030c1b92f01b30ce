"""An .ics calendar as n8n's Extract from File (fromIcs, ts-ics) gives it, read with the icalendar library."""

from __future__ import annotations

import datetime as dt
from typing import Any


def calendar_object(text: str) -> dict[str, Any]:
    """An .ics calendar as n8n's fromIcs gives it (ts-ics): version, prodId, method, name and `events`, each with
    uid, summary, description, location, url, status, start/end/stamp/created as {date, type}, organizer,
    attendees and recurrenceRule when the event has them."""
    from icalendar import Calendar

    try:
        cal = Calendar.from_ical(text)
    except ValueError as exc:
        raise ValueError(f"the file is not an iCalendar (.ics) file ({exc})") from None
    out: dict[str, Any] = {}
    for key, prop in (("version", "VERSION"), ("prodId", "PRODID"), ("method", "METHOD"), ("name", "X-WR-CALNAME")):
        if prop in cal:
            out[key] = str(cal[prop])
    out["events"] = [_event(ev) for ev in cal.walk("VEVENT")]
    return out


def _event(ev: Any) -> dict[str, Any]:
    event: dict[str, Any] = {}
    for key, prop in (("uid", "UID"), ("summary", "SUMMARY"), ("description", "DESCRIPTION"),
                      ("location", "LOCATION"), ("url", "URL"), ("status", "STATUS")):
        if prop in ev:
            event[key] = str(ev[prop])
    for key, prop in (("start", "DTSTART"), ("end", "DTEND"), ("stamp", "DTSTAMP"), ("created", "CREATED")):
        if prop in ev:
            event[key] = _when(ev[prop].dt)
    if "SEQUENCE" in ev:
        event["sequence"] = int(ev["SEQUENCE"])
    if "ORGANIZER" in ev:
        event["organizer"] = _person(ev["ORGANIZER"])
    attendees = ev.get("ATTENDEE")
    if attendees is not None:
        event["attendees"] = [_person(a) for a in (attendees if isinstance(attendees, list) else [attendees])]
    if "RRULE" in ev:
        event["recurrenceRule"] = ev["RRULE"].to_ical().decode()
    return event


def _when(value: Any) -> dict[str, Any]:
    if isinstance(value, dt.datetime):
        moment = value.astimezone(dt.UTC) if value.tzinfo else value
        return {"date": moment.isoformat().replace("+00:00", "Z"), "type": "DATE-TIME"}
    return {"date": f"{value.isoformat()}T00:00:00Z", "type": "DATE"}


def _person(address: Any) -> dict[str, Any]:
    person: dict[str, Any] = {"email": str(address).removeprefix("mailto:").removeprefix("MAILTO:")}
    if address.params.get("CN"):
        person["name"] = str(address.params["CN"])
    return person
