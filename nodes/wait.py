"""Wait: pause the execution for some seconds, until a time, or until a webhook call resumes it."""

import datetime as dt
from typing import Any

from flowbox.node import Context, Item, N8n, N8nNotes, Param, node
from flowbox.nodes._n8n import Params, bad, is_expression

MAX_WAIT = 366 * 24 * 3600


_SECONDS = {"seconds": 1, "minutes": 60, "hours": 3600, "days": 86400}


def from_n8n(params: dict[str, Any], version: float) -> tuple[dict[str, Any], N8nNotes]:
    """n8n's Wait: `resume` timeInterval (default; `amount`, `unit`), specificTime (`dateTime`), webhook (with
    `limitWaitTime`: `limitType` afterTimeInterval `resumeAmount` `resumeUnit`, or atSpecifiedTime
    `maxDateAndTime`). Form resumes and webhook options are not supported."""
    p = Params(params, version)
    resume = p.take("resume", "timeInterval")
    if resume == "timeInterval":
        seconds = _interval(p, "amount", "unit")
        return p.done({} if seconds is None else {"resume": "time", "seconds": seconds})
    if resume == "specificTime":
        return p.done({"resume": "time", "until": p.take("dateTime", "")})
    if resume == "webhook":
        out: dict[str, Any] = {"resume": "webhook"}
        if p.take("limitWaitTime", False):
            if p.take("limitType", "afterTimeInterval") == "atSpecifiedTime":
                out["limitUntil"] = p.take("maxDateAndTime", "")
            elif (seconds := _interval(p, "resumeAmount", "resumeUnit")) is None:
                return p.done({})
            else:
                out["limitSeconds"] = seconds
        if p.take("incomingAuthentication", "none") != "none":
            p.unsupported("authentication of the resume call is not supported")
        p.ignore("httpMethod", "responseMode", "responseCode", "responseData", "limitType", "resumeAmount",
                 "resumeUnit", "maxDateAndTime")
        p.options("options", ())
        p.approximated("the run resumes on /webhook-waiting/<execution id>; the webhook's own options are not used")
        return p.done(out)
    p.unsupported(f"resume {resume!r} is not supported")
    return p.done({})


def _interval(p: Params, amount_name: str, unit_name: str) -> float | None:
    """n8n's amount and unit (hours by default) as seconds; None (reported) for an expression amount."""
    amount, unit = p.take(amount_name, 1), p.take(unit_name, "hours")
    if unit not in _SECONDS:
        raise bad(unit_name, f"must be seconds, minutes, hours or days; got {unit!r}")
    if is_expression(amount):
        p.unsupported(f"an expression for '{amount_name}' is not supported")
        return None
    return amount * _SECONDS[unit]


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
          Param("limitSeconds", "number", 0, min=0, max=MAX_WAIT, show_if={"resume": ["webhook"]},
                description="Go on without the call after this many seconds (0: no limit)"),
          Param("limitUntil", "string", "", show_if={"resume": ["webhook"]},
                description="Go on without the call at this ISO date-time (overrides limitSeconds)"),
      ])
async def wait(ctx: Context, items: list[Item]) -> list[list[Item]]:
    if ctx.param("resume") == "webhook":
        limit = None
        if ctx.param("limitUntil") or ctx.param("limitSeconds"):
            limit = _moment(ctx, ctx.param("limitUntil"), ctx.param("limitSeconds"))
        await ctx.wait_for_webhook(limit)
        return [items]
    await ctx.wait_until(_moment(ctx, ctx.param("until"), ctx.param("seconds")))
    return [items]


def _moment(ctx: Context, until: Any, seconds: float | None) -> dt.datetime:
    """The aware datetime `until` names (an ISO text or a datetime; naive in the workflow's zone), else `seconds`
    from now; at most a year away."""
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
        moment = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=seconds or 0)
    if (moment - dt.datetime.now(dt.UTC)).total_seconds() > MAX_WAIT:
        raise ctx.error(f"wait until {moment.isoformat()} is more than a year away")
    return moment
