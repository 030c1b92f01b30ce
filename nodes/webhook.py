"""Webhook trigger: starts the workflow when /webhook/<path> is called (served by `flowbox serve`).

The item it emits is `{"body", "query", "headers", "params", "method", "path"}`. Under
`flowbox run`, the run's input items stand for the request.
"""

from flowbox.node import Context, Item, Param, node


@node(type="webhook", display_name="Webhook", group="trigger", trigger=True, icon="webhook",
      description="Start the workflow on an HTTP call to /webhook/<path>",
      credentials=("httpBasicAuth", "httpHeaderAuth"),
      params=[
          Param("path", "string", "", required=True, description="URL path after /webhook/ (may hold :params)"),
          Param("method", "options", "POST", options=("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD")),
          Param("respond", "options", "immediately", options=("immediately", "lastNode", "respondNode"),
                description="When and what to answer the caller"),
          Param("responseData", "options", "firstEntryJson", options=("firstEntryJson", "allEntries"),
                show_if={"respond": ["lastNode"]}),
          Param("responseCode", "number", 200, min=100, max=599),
          Param("authentication", "options", "none", options=("none", "httpBasicAuth", "httpHeaderAuth"),
                description="Require callers to send this credential: basic auth, or a header name and value "
                            "(401 when missing, 403 when wrong)"),
      ])
async def webhook(ctx: Context, items: list[Item]) -> list[list[Item]]:
    return [items or [Item({"body": {}, "query": {}, "headers": {}, "params": {},
                            "method": ctx.raw_param("method"), "path": ctx.raw_param("path")})]]
