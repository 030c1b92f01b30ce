"""Wait: pause the execution for some seconds, until a time, or until a webhook call resumes it."""

import datetime as dt

from flowbox.node import Context, Item, Param, node

MAX_WAIT = 366 * 24 * 3600


@node(type="wait", display_name="Wait", group="flow", icon="hourglass",
      description="Pause, then pass the items on",
      params=[
          Param("resume", "options", "time", options=("time", "webhook"),
                description="'time': wait `seconds` or until `until`; 'webhook': until /webhook-waiting/<id> is called"),
          Param("seconds", "number", 1, min=0, show_if={"resume": ["time"]}),
          Param("until", "string", "", show_if={"resume": ["time"]},
                description="ISO date-time to wait until (overrides seconds)"),
      ])
async def wait(ctx: Context, items: list[Item]) -> list[list[Item]]:
    if ctx.param("resume") == "webhook":
        ctx.wait_for_webhook()
    until = ctx.param("until")
    if until:
        if isinstance(until, str):
            try:
                moment = dt.datetime.fromisoformat(until.replace("Z", "+00:00"))
            except ValueError:
                raise ctx.error(f"'until' is not an ISO date-time: {until!r}") from None
        elif isinstance(until, dt.datetime):
            moment = until
        else:
            raise ctx.error(f"'until' must be an ISO date-time, got {until!r}")
        if moment.tzinfo is None:
            from zoneinfo import ZoneInfo

            moment = moment.replace(tzinfo=ZoneInfo(ctx.timezone))
    else:
        moment = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=float(ctx.param("seconds") or 0))
    if (moment - dt.datetime.now(dt.UTC)).total_seconds() > MAX_WAIT:
        raise ctx.error(f"wait until {moment.isoformat()} is more than a year away")
    await ctx.wait_until(moment)
    return [items]
