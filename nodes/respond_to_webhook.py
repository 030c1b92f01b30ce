"""Respond to Webhook: set the answer of a webhook run (with `respond: respondNode`)."""

import json
from typing import Any

from flowbox.node import Context, Item, N8n, N8nNotes, Param, node
from flowbox.nodes._n8n import Params, json_value, pairs


def from_n8n(params: dict[str, Any], version: float) -> tuple[dict[str, Any], N8nNotes]:
    """n8n's Respond to Webhook: `respondWith` firstIncomingItem (default) | json (`responseBody`, JSON text
    or an expression) | text (`responseBody`) | noData, `options.responseCode`,
    `options.responseHeaders.entries`. Binary, redirect, JWT and all-items answers are not supported."""
    p = Params(params, version)
    options = p.options("options", ("responseCode", "responseHeaders"))
    out: dict[str, Any] = {"status": options.get("responseCode", 200),
                           "headers": pairs(options.get("responseHeaders"), "options.responseHeaders", "entries")}
    respond = p.take("respondWith", "firstIncomingItem")
    if respond == "json":
        out["body"] = json_value(p.take("responseBody", "{}"), "responseBody")
    elif respond == "text":
        out["body"] = str(p.take("responseBody", ""))
    elif respond == "noData":
        out["body"] = ""
    elif respond != "firstIncomingItem":
        p.unsupported(f"respondWith {respond!r} is not supported")
    p.ignore("enableResponseOutput", "generalNotice", "webhookNotice")
    return p.done(out)


def to_n8n(params: dict[str, Any], version: float | None) -> tuple[dict[str, Any], float, N8nNotes]:
    """The inverse of `from_n8n`: Respond to Webhook v1.1; a text body as `text`, any other as `json`."""
    out: dict[str, Any] = {}
    body = params.get("body")
    if isinstance(body, str) and body.startswith("="):  # an n8n expression: n8n's JSON body takes it as it is
        out.update(respondWith="json", responseBody=body)
    elif isinstance(body, str) and body:
        out.update(respondWith="text", responseBody=body)
    elif body == "":
        out["respondWith"] = "noData"
    elif body is not None:
        out.update(respondWith="json", responseBody=json.dumps(body, ensure_ascii=False))
    options: dict[str, Any] = {}
    if params.get("status", 200) != 200:
        options["responseCode"] = params["status"]
    if params.get("headers"):
        options["responseHeaders"] = {"entries": [{"name": k, "value": v} for k, v in params["headers"].items()]}
    out["options"] = options
    return out, 1.1, []


N8N = N8n(types=("n8n-nodes-base.respondToWebhook",), versions=(1, 1.1, 1.2, 1.3, 1.4, 1.5), convert=from_n8n,
          export=to_n8n)


@node(n8n=N8N, type="respondToWebhook", display_name="Respond to Webhook", group="flow", icon="reply",
      description="Answer the webhook call with a status, headers and body; passes items on",
      params=[
          Param("status", "number", 200, min=100, max=599, integer=True),
          Param("headers", "json", {}),
          Param("body", "json", None, description="Response body (default: the first input item's json)"),
      ])
async def respond_to_webhook(ctx: Context, items: list[Item]) -> list[list[Item]]:
    body = ctx.param("body", 0) if items else ctx.raw_param("body")
    response = {"status": ctx.param("status", 0) if items else 200,
                "headers": (ctx.param("headers", 0) if items else None) or {},
                "body": body if body is not None else (items[0].json if items else {})}
    ctx.state["response"] = response
    ctx.respond(response)
    return [items]
