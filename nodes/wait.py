"""Wait: pause the execution for some seconds, until a time, or until a webhook call resumes it."""

import datetime as dt
from typing import Any

from flowbox.node import Context, Item, N8n, N8nNotes, Param, node
from flowbox.nodes._n8n import Params, bad, is_expression

MAX_WAIT = 366 * 24 * 3600


_SECONDS = {"seconds": 1, "minutes": 60, "hours": 3600, "days": 86400}


def from_n8n(params: dict[str, Any], version: float) -> tuple[dict[str, Any], N8nNotes]:
    """n8n's Wait: `resume` timeInterval (default; `amount`, `unit`), specificTime (`dateTime`), webhook.
    Form resumes and webhook options are not supported."""
    p = Params(params, version)
    resume = p.take("resume", "timeInterval")
    if resume == "timeInterval":
        amount, unit = p.take("amount", 1), p.take("unit", "hours")
        if unit not in _SECONDS:
            raise bad("unit", f"must be seconds, minutes, hours or days; got {unit!r}")
        if is_expression(amount):
            p.unsupported("an expression for 'amount' is not supported")
            return p.done({})
        return p.done({"resume": "time", "seconds": amount * _SECONDS[unit]})
    if resume == "specificTime":
        return p.done({"resume": "time", "until": p.take("dateTime", "")})
    if resume == "webhook":
        if p.take("limitWaitTime", False):
            p.unsupported("a time limit on the webhook wait is not supported")
        if p.take("incomingAuthentication", "none") != "none":
            p.unsupported("authentication of the resume call is not supported")
        p.ignore("httpMethod", "responseMode", "responseCode", "responseData", "limitType", "resumeAmount",
                 "resumeUnit", "maxDateAndTime")
        p.options("options", ())
        p.approximated("the run resumes on /webhook-waiting/<execution id>; the webhook's own options are not used")
        return p.done({"resume": "webhook"})
    p.unsupported(f"resume {resume!r} is not supported")
    return p.done({})


N8N = N8n(types=("n8n-nodes-base.wait",), versions=(1, 1.1), convert=from_n8n)


@node(n8n=N8N, type="wait", display_name="Wait", group="flow", icon="hourglass",
      description="Pause, then pass the items on",
      params=[
          Param("resume", "options", "time", options=("time", "webhook"),
                description="'time': wait `seconds` or until `until`; 'webhook': until /webhook-waiting/<id> is called"),
          Param("seconds", "number", 1, min=0, max=MAX_WAIT, show_if={"resume": ["time"]},
                description="At most a year (366 days)"),
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
        moment = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=ctx.param("seconds") or 0)
    if (moment - dt.datetime.now(dt.UTC)).total_seconds() > MAX_WAIT:
        raise ctx.error(f"wait until {moment.isoformat()} is more than a year away")
    await ctx.wait_until(moment)
    return [items]
