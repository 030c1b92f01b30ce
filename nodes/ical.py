"""iCalendar: make an event `.ics` file (n8n's iCal v1, operation "createEventFile") with the `icalendar` library.

One output item per input item: empty json and the file (text/calendar, default name `event.ics`) in the
binary property `binaryPropertyName`. Times are written in UTC (`...Z`), or with the workflow's TZID when
`additionalFields.useWorkflowTimezone` is set; a time without an offset is read as UTC. `allDay` writes
dates and ends the event the day after `end` (as n8n does); an empty `end` is the start.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any
from zoneinfo import ZoneInfo

from flowbox.node import Context, Item, ItemErrors, N8n, N8nNotes, Param, make_binary, node
from flowbox.nodes._n8n import Params


def moment(value: Any, name: str) -> dt.datetime:
    """A parameter's date/time as an aware datetime (ISO text, a datetime, a date or epoch milliseconds)."""
    if isinstance(value, dt.datetime):
        parsed = value
    elif isinstance(value, dt.date):
        parsed = dt.datetime(value.year, value.month, value.day)
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        parsed = dt.datetime.fromtimestamp(value / 1000, dt.UTC)
    elif isinstance(value, str) and value.strip():
        try:
            parsed = dt.datetime.fromisoformat(value.strip())
        except ValueError:
            raise ValueError(f"parameter '{name}' must be an ISO date or date-time "
                             f"(e.g. 2024-05-01T09:30:00Z); got {value!r:.60}") from None
    else:
        raise ValueError(f"parameter '{name}' is required: the date and time at which the event "
                         f"{'begins' if name == 'start' else 'ends'}")
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


def _address(person: Any, what: str) -> Any:
    from icalendar import vCalAddress

    if not isinstance(person, dict) or not str(person.get("email") or "").strip():
        raise ValueError(f"parameter 'additionalFields.{what}': every person needs an 'email'")
    address = vCalAddress(f"mailto:{str(person['email']).strip()}")
    if person.get("name"):
        address.params["cn"] = str(person["name"])
    if person.get("rsvp") is not None and what == "attendeesUi":
        address.params["rsvp"] = "TRUE" if person.get("rsvp") else "FALSE"
    return address


def _first(value: Any, key: str) -> Any:
    """A single fixedCollection's row: n8n's `{key: {...}}` or the row itself."""
    if isinstance(value, dict) and key in value:
        value = value[key]
    return value[0] if isinstance(value, list) and value else value


def event_file(title: str, start: dt.datetime, end: dt.datetime, all_day: bool, options: dict[str, Any],
               timezone: str) -> bytes:
    """The VCALENDAR text of one event (n8n's `ics` fields: title, start, end and the additional fields)."""
    from icalendar import Calendar, Event, vRecur

    cal = Calendar()
    cal.add("prodid", "-//flowbox//iCal node//EN")
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("method", "PUBLISH")
    if options.get("calName"):
        cal.add("x-wr-calname", str(options["calName"]))
    event = Event()
    event.add("uid", str(options.get("uid") or uuid.uuid4()))
    event.add("summary", title)
    event.add("dtstamp", dt.datetime.now(dt.UTC).replace(microsecond=0))
    zone = ZoneInfo(timezone) if options.get("useWorkflowTimezone") else dt.UTC
    if all_day:
        event.add("dtstart", start.astimezone(zone).date())
        event.add("dtend", end.astimezone(zone).date() + dt.timedelta(days=1))
    else:
        event.add("dtstart", start.astimezone(zone).replace(microsecond=0))
        event.add("dtend", end.astimezone(zone).replace(microsecond=0))
    for key, prop in (("description", "description"), ("location", "location"), ("url", "url"),
                      ("status", "status")):
        if options.get(key):
            event.add(prop, str(options[key]))
    if options.get("busyStatus"):
        event.add("x-microsoft-cdo-busystatus", str(options["busyStatus"]))
    if options.get("sequence") not in (None, ""):
        event.add("sequence", int(options["sequence"]))
    if options.get("recurrenceRule"):
        rule = str(options["recurrenceRule"]).removeprefix("RRULE:")
        try:
            recur = vRecur.from_ical(rule)
        except ValueError:
            recur = {}
        if "FREQ" not in recur:
            raise ValueError(f"parameter 'additionalFields.recurrenceRule' is not an RRULE (FREQ=...;...): {rule!r:.80}")
        event.add("rrule", recur)
    geo = _first(options.get("geolocationUi"), "geolocationValues")
    if isinstance(geo, dict) and (geo.get("lat") not in (None, "") or geo.get("lon") not in (None, "")):
        try:
            event.add("geo", (float(geo.get("lat")), float(geo.get("lon"))))
        except (TypeError, ValueError):
            raise ValueError(f"parameter 'additionalFields.geolocationUi': latitude and longitude must be numbers; "
                             f"got {geo.get('lat')!r}, {geo.get('lon')!r}") from None
    organizer = _first(options.get("organizerUi"), "organizerValues")
    if organizer:
        event.add("organizer", _address(organizer, "organizerUi"))
    attendees = (options.get("attendeesUi") or {})
    attendees = attendees.get("attendeeValues", []) if isinstance(attendees, dict) else attendees
    for person in attendees if isinstance(attendees, list) else [attendees]:
        event.add("attendee", _address(person, "attendeesUi"))
    cal.add_component(event)
    if options.get("useWorkflowTimezone") and not all_day and hasattr(cal, "add_missing_timezones"):
        cal.add_missing_timezones()
    return cal.to_ical()


OPTIONS = (
    Param("attendeesUi", "collection", {}, description="{attendeeValues: [{name, email, rsvp}]}"),
    Param("busyStatus", "options", "", options=("", "BUSY", "TENTATIVE"),
          description="Busy status for Microsoft applications, like Outlook"),
    Param("calName", "string", "", description="The calendar's (not the event's) name"),
    Param("description", "string", ""),
    Param("fileName", "string", "", placeholder="e.g. event.ics", description="Default: event.ics"),
    Param("geolocationUi", "collection", {}, description="{geolocationValues: {lat, lon}}"),
    Param("location", "string", "", description="The intended venue"),
    Param("recurrenceRule", "string", "", description="RRULE, e.g. FREQ=WEEKLY;COUNT=4"),
    Param("organizerUi", "collection", {}, description="{organizerValues: {name, email}}"),
    Param("sequence", "number", 0, integer=True, min=0, description="Revision number of an updated event"),
    Param("status", "options", "CONFIRMED", options=("CONFIRMED", "CANCELLED", "TENTATIVE")),
    Param("uid", "string", "", description="Unique id of the event (generated when empty)"),
    Param("url", "string", ""),
    Param("useWorkflowTimezone", "boolean", False, description="Write times in the workflow's timezone, not UTC"),
)


def from_n8n(params: dict[str, Any], version: float) -> tuple[dict[str, Any], N8nNotes]:
    """n8n's iCalendar v1, operation createEventFile (same names)."""
    p = Params(params, version)
    out = p.same(("operation", "title", "start", "end", "allDay", "binaryPropertyName"),
                 collections={"additionalFields": [o.name for o in OPTIONS]})
    if out.get("operation", "createEventFile") != "createEventFile":
        p.unsupported(f"operation {out['operation']!r} is not supported")
    return p.done(out)


N8N = N8n(types=("n8n-nodes-base.iCal",), versions=(1,), convert=from_n8n)

@node(n8n=N8N, type="iCal", display_name="iCalendar", group="files", icon="calendar",
      description="Create an iCalendar (.ics) event file",
      params=[
          Param("operation", "options", "createEventFile", options=("createEventFile",), required=True),
          Param("title", "string", "", placeholder="e.g. New Event", description="Event title"),
          Param("start", "datetime", "", required=True, description="When the event begins"),
          Param("end", "datetime", "", description="When the event ends (default: the start)"),
          Param("allDay", "boolean", False, description="The event lasts all day (times are ignored)"),
          Param("binaryPropertyName", "string", "data", required=True,
                description="The binary property to put the file in"),
          Param("additionalFields", "collection", {}, fields=OPTIONS, label="Options"),
      ])
async def ical(ctx: Context, items: list[Item]) -> list[list[Item]]:
    out: list[Item] = []
    errors = ItemErrors(ctx)
    for i, item in enumerate(items):
        try:
            start = moment(ctx.param("start", i), "start")
            end_value = ctx.param("end", i)
            end = moment(end_value, "end") if end_value not in (None, "") else start
            if end < start:
                raise ValueError(f"parameter 'end' ({end.isoformat()}) is before 'start' ({start.isoformat()})")
            options = dict(ctx.param("additionalFields", i) or {})
            data = event_file(ctx.param("title", i), start, end, ctx.param("allDay", i), options,
                              ctx.timezone)
            prop = ctx.param("binaryPropertyName", i) or "data"
            binary = make_binary(data, str(options.get("fileName") or "event.ics"), "text/calendar")
        except ValueError as exc:
            errors.fail(item, i, ValueError(f"item {i}: {exc}"), out)
            continue
        out.append(Item({}, {prop: binary}, item))
    return errors.outputs(out)
