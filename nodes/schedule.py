"""Schedule trigger: starts the workflow on a cron expression or every N seconds (run by the scheduler)."""

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

from flowbox.node import Context, Item, N8n, N8nNotes, Param, TimerSpec, node
from flowbox.nodes._n8n import Params, bad, rows


def timer(node: Any, timezone: str) -> TimerSpec:
    """When one schedule node fires: its cron, else every `every` seconds, in its zone or the workflow's."""
    params = node.parameters
    every = params.get("every")
    return TimerSpec(cron=str(params.get("cron") or "").strip() or None, every=every,
                     timezone=str(params.get("timezone") or timezone or "UTC"))


def _from_schedule_trigger(params: dict[str, Any], version: float) -> tuple[dict[str, Any], N8nNotes]:
    """n8n's Schedule Trigger: one `rule.interval` entry — `field` seconds/minutes (every N), hours/days
    (at `triggerAtMinute`/`triggerAtHour`), or cronExpression. Weeks, months and several rules are not
    supported."""
    p = Params(params, version)
    rules = rows(p.take("rule", {"interval": [{"field": "days"}]}), "interval", "rule") or [{"field": "days"}]
    if len(rules) != 1:
        p.unsupported(f"{len(rules)} schedule rules on one node are not supported (one per node)")
        return p.done({})
    rule = rules[0]
    field = rule.get("field", "days")
    minute, hour = rule.get("triggerAtMinute", 0), rule.get("triggerAtHour", 0)
    if field == "seconds":
        return p.done({"every": rule.get("secondsInterval", 30)})
    if field == "minutes":
        return p.done({"cron": f"*/{rule.get('minutesInterval', 5)} * * * *"})
    if field == "hours":
        return p.done({"cron": f"{minute} */{rule.get('hoursInterval', 1)} * * *"})
    if field == "days":
        return p.done({"cron": f"{minute} {hour} */{rule.get('daysInterval', 1)} * *"})
    if field == "cronExpression":
        return p.done({"cron": str(rule.get("expression", ""))})
    p.unsupported(f"a schedule every few {field} is not supported; use a cron expression")
    return p.done({})


_CRON_MODES = {"everyMinute": "* * * * *", "everyHour": "{minute} * * * *", "everyDay": "{minute} {hour} * * *",
               "everyWeek": "{minute} {hour} * * {weekday}", "everyMonth": "{minute} {hour} {dayOfMonth} * *"}


def _from_cron(params: dict[str, Any], version: float) -> tuple[dict[str, Any], N8nNotes]:
    """n8n's legacy Cron node: one `triggerTimes.item` entry (everyMinute ... everyMonth, everyX, custom)."""
    p = Params(params, version)
    times = rows(p.take("triggerTimes", {}), "item", "triggerTimes")
    if len(times) != 1:
        p.unsupported(f"{len(times)} trigger times on one node are not supported (one per node)")
        return p.done({})
    entry = {"minute": 0, "hour": 14, "weekday": 1, "dayOfMonth": 1, **times[0]}
    mode = entry.get("mode", "everyDay")
    if mode in _CRON_MODES:
        return p.done({"cron": _CRON_MODES[mode].format(**entry)})
    if mode == "custom":
        return p.done({"cron": str(entry.get("cronExpression", ""))})
    if mode == "everyX":
        seconds = {"minutes": 60, "hours": 3600}.get(entry.get("unit", "hours"), 3600)
        return p.done({"every": int(entry.get("value", 2)) * seconds})
    p.unsupported(f"cron mode {mode!r} is not supported")
    return p.done({})


def _from_interval(params: dict[str, Any], version: float) -> tuple[dict[str, Any], N8nNotes]:
    """n8n's legacy Interval node: `interval` (default 1) in `unit` seconds (default) | minutes | hours."""
    p = Params(params, version)
    unit = p.take("unit", "seconds")
    if unit not in ("seconds", "minutes", "hours"):
        raise bad("unit", f"must be seconds, minutes or hours; got {unit!r}")
    return p.done({"every": p.take("interval", 1) * {"seconds": 1, "minutes": 60, "hours": 3600}[unit]})


def _to_schedule_trigger(params: dict[str, Any], version: float | None) -> tuple[dict[str, Any], float, N8nNotes]:
    """The inverse (of all three): Schedule Trigger v1.2 with a cron expression, or every N seconds."""
    notes: N8nNotes = []
    if params.get("timezone"):
        notes.append(("approximated", f"timezone {params['timezone']!r}: n8n's schedule uses the workflow's "
                                      "timezone setting"))
    if str(params.get("cron") or "").strip():
        rule = {"field": "cronExpression", "expression": str(params["cron"]).strip()}
    else:
        rule = {"field": "seconds", "secondsInterval": params.get("every") or 30}
    return {"rule": {"interval": [rule]}}, 1.2, notes


N8N = (N8n(types=("n8n-nodes-base.scheduleTrigger",), versions=(1, 1.1, 1.2), convert=_from_schedule_trigger,
           export=_to_schedule_trigger),
       N8n(types=("n8n-nodes-base.cron",), versions=(1,), convert=_from_cron),
       N8n(types=("n8n-nodes-base.interval",), versions=(1,), convert=_from_interval))


@node(n8n=N8N, type="schedule", display_name="Schedule Trigger", group="trigger", trigger=True, icon="clock", timer=timer,
      description="Start the workflow on a schedule: cron (5 fields, or 6 with seconds first) or every N seconds",
      params=[
          Param("cron", "string", "", description="Cron expression, e.g. '0 9 * * 1-5'"),
          Param("every", "number", None, min=1, max=366 * 24 * 3600, description="Interval in seconds (when no cron is set)"),
          Param("timezone", "string", "", description="Zone for the cron (default: the workflow's)"),
      ])
async def schedule(ctx: Context, items: list[Item]) -> list[list[Item]]:
    if items:
        return [items]
    zone = ZoneInfo(ctx.raw_param("timezone") or ctx.timezone)
    now = dt.datetime.now(zone)
    return [[Item({"timestamp": now.isoformat(), "timezone": zone.key})]]
