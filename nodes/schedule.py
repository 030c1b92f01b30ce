"""Schedule trigger: starts the workflow on a cron expression or every N seconds (run by the scheduler)."""

import datetime as dt
from zoneinfo import ZoneInfo

from flowbox.node import Context, Item, Param, node


@node(type="schedule", display_name="Schedule Trigger", group="trigger", trigger=True, icon="clock",
      description="Start the workflow on a schedule: cron (5 fields, or 6 with seconds first) or every N seconds",
      params=[
          Param("cron", "string", "", description="Cron expression, e.g. '0 9 * * 1-5'"),
          Param("every", "number", None, min=1, description="Interval in seconds (when no cron is set)"),
          Param("timezone", "string", "", description="Zone for the cron (default: the workflow's)"),
      ])
async def schedule(ctx: Context, items: list[Item]) -> list[list[Item]]:
    if items:
        return [items]
    zone = ZoneInfo(ctx.raw_param("timezone") or ctx.timezone)
    now = dt.datetime.now(zone)
    return [[Item({"timestamp": now.isoformat(), "timezone": zone.key})]]
