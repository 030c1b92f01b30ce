"""Respond to Webhook: set the answer of a webhook run (with `respond: respondNode`)."""

from flowbox.node import Context, Item, Param, node


@node(type="respondToWebhook", display_name="Respond to Webhook", group="flow", icon="reply",
      description="Answer the webhook call with a status, headers and body; passes items on",
      params=[
          Param("status", "number", 200, min=100, max=599),
          Param("headers", "json", {}),
          Param("body", "json", None, description="Response body (default: the first input item's json)"),
      ])
async def respond_to_webhook(ctx: Context, items: list[Item]) -> list[list[Item]]:
    body = ctx.param("body", 0) if items else ctx.raw_param("body")
    response = {"status": int(ctx.param("status", 0) if items else 200),
                "headers": (ctx.param("headers", 0) if items else None) or {},
                "body": body if body is not None else (items[0].json if items else {})}
    ctx.state["response"] = response
    ctx.respond(response)
    return [items]
