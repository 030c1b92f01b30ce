"""Webhook trigger: starts the workflow when /webhook/<path> is called (served by `flowbox serve`).

The item it emits is `{"body", "query", "headers", "params", "method", "path"}`. Under
`flowbox run`, the run's input items stand for the request.
"""

import re
from typing import Any

from flowbox.errors import WorkflowInvalid
from flowbox.node import Context, Item, N8n, N8nNotes, Param, WebhookSpec, node
from flowbox.nodes._n8n import Params

_SEGMENT = re.compile(r"[A-Za-z0-9._~!$&'()*+,;=@%-]+|:[A-Za-z_][A-Za-z0-9_]*")


def check_path(path: object) -> None:
    """Refuse a path no request can reach: not text, empty segments, odd characters, a `:name` twice."""
    if not isinstance(path, str):
        raise ValueError(f"must be a URL path (text); got {path!r}")
    segments = path.strip().strip("/").split("/")
    for segment in segments:
        if not _SEGMENT.fullmatch(segment):
            raise ValueError(f"{path!r} has a segment {segment!r} that is not a URL path part (letters, digits, "
                             "- . _ ~ and % escapes, or :name for a path parameter)")
    names = [s[1:] for s in segments if s.startswith(":")]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise ValueError(f"{path!r} names the path parameter ':{twice[0]}' twice")


def route(node: Any) -> WebhookSpec:
    """The route of one webhook node (its parameters over their defaults): what `/webhook/<path>` serves."""
    params = {**webhook.spec.defaults(), **node.parameters}  # type: ignore[attr-defined]
    path = str(params["path"] or "").strip().strip("/")
    if not path:
        raise WorkflowInvalid(f"node '{node.name}': webhook path is empty", node=node.name, field="path")
    auth = str(params["authentication"] or "none")
    credential = None
    if auth != "none":
        ref = (node.credentials or {}).get(auth)
        credential = str(ref.get("id") if isinstance(ref, dict) else ref) if ref else None
        if not credential:
            raise WorkflowInvalid(f"node '{node.name}': authentication {auth} needs a {auth} credential",
                                  node=node.name, field="credentials")
    return WebhookSpec(path=path, method=str(params["method"] or "POST").upper(), respond=str(params["respond"]),
                       response_data=str(params["responseData"]), response_code=int(params["responseCode"]),
                       auth=auth, credential=credential)


_RESPOND = {"onReceived": "immediately", "lastNode": "lastNode", "responseNode": "respondNode"}
_AUTH = {"none": "none", "basicAuth": "httpBasicAuth", "headerAuth": "httpHeaderAuth"}


def from_n8n(params: dict[str, Any], version: float) -> tuple[dict[str, Any], N8nNotes]:
    """n8n's Webhook: `httpMethod` (default GET), `path`, `responseMode` onReceived|lastNode|responseNode,
    `responseCode`, `responseData` firstEntryJson|allEntries, `authentication` none|basicAuth|headerAuth.
    Several methods, binary or custom answers and the request options are not supported."""
    p = Params(params, version)
    method = p.take("httpMethod", "GET")
    if p.take("multipleMethods", False) or not isinstance(method, str):
        p.unsupported("several HTTP methods on one webhook are not supported")
        method = "GET"
    respond = p.take("responseMode", "onReceived")
    if respond not in _RESPOND:
        p.unsupported(f"responseMode {respond!r} is not supported")
    data = p.take("responseData", "firstEntryJson")
    if respond == "lastNode" and data not in ("firstEntryJson", "allEntries"):
        p.unsupported(f"responseData {data!r} is not supported")
    auth = p.take("authentication", "none")
    if auth not in _AUTH:
        p.unsupported(f"authentication {auth!r} is not supported")
    options = p.options("options", ("responseCode",))
    code = options.get("responseCode", p.take("responseCode", 200))  # v2 moved it into the options
    if isinstance(code, dict):
        code = (code.get("values") or {}).get("responseCode", 200)
    p.approximated("the item also carries the request's 'method' and 'path' besides n8n's headers, params, "
                   "query and body")
    return p.done({"path": p.take("path", ""), "method": method.upper(), "respond": _RESPOND.get(respond, "immediately"),
                   "responseData": data if data in ("firstEntryJson", "allEntries") else "firstEntryJson",
                   "responseCode": code, "authentication": _AUTH.get(auth, "none")})


def to_n8n(params: dict[str, Any], version: float | None) -> tuple[dict[str, Any], float, N8nNotes]:
    """The inverse of `from_n8n`: Webhook v2 (responseCode in the options)."""
    respond = {flowbox: n8n for n8n, flowbox in _RESPOND.items()}[params.get("respond", "immediately")]
    out: dict[str, Any] = {"httpMethod": params.get("method", "POST"), "path": params.get("path", ""),
                           "responseMode": respond}
    if respond == "lastNode" and params.get("responseData", "firstEntryJson") != "firstEntryJson":
        out["responseData"] = params["responseData"]
    auth = {flowbox: n8n for n8n, flowbox in _AUTH.items()}[params.get("authentication", "none")]
    if auth != "none":
        out["authentication"] = auth
    out["options"] = {"responseCode": params["responseCode"]} if params.get("responseCode", 200) != 200 else {}
    return out, 2, []


N8N = N8n(types=("n8n-nodes-base.webhook",), versions=(1, 1.1, 2, 2.1), convert=from_n8n, export=to_n8n)


@node(n8n=N8N, type="webhook", display_name="Webhook", group="trigger", trigger=True, icon="webhook", webhook=route,
      description="Start the workflow on an HTTP call to /webhook/<path>",
      credentials=("httpBasicAuth", "httpHeaderAuth"),
      params=[
          Param("path", "string", "", required=True, check=check_path, placeholder="orders/new",
                description="URL path after /webhook/ (may hold :params)"),
          Param("method", "options", "POST", options=("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD")),
          Param("respond", "options", "immediately", options=("immediately", "lastNode", "respondNode"),
                description="When and what to answer the caller"),
          Param("responseData", "options", "firstEntryJson", options=("firstEntryJson", "allEntries"),
                show_if={"respond": ["lastNode"]}),
          Param("responseCode", "number", 200, min=100, max=599, integer=True),
          Param("authentication", "options", "none", options=("none", "httpBasicAuth", "httpHeaderAuth"),
                description="Require callers to send this credential: basic auth, or a header name and value "
                            "(401 when missing, 403 when wrong)"),
      ])
async def webhook(ctx: Context, items: list[Item]) -> list[list[Item]]:
    return [items or [Item({"body": {}, "query": {}, "headers": {}, "params": {},
                            "method": ctx.raw_param("method"), "path": ctx.raw_param("path")})]]
