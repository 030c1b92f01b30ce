"""Webhook endpoints as plain ASGI: `/webhook/<path>`, `/webhook-test/<path>`, `/webhook-waiting/<id>`.

This is the hot path (every production call runs a workflow), so it skips the
framework: read the body (413 past the limit), parse it by content type (JSON with
the depth rule of `flowbox.api.body`), hand a `WebhookRequest` to `flowbox.webhooks`, and
write the reply with orjson. Errors use the same JSON shape and status table as the
API. A client that goes away before its body is complete runs nothing.
"""

from __future__ import annotations

import base64
from typing import Any
from urllib.parse import parse_qs, unquote

import orjson

from flowbox.api.body import load_json
from flowbox.api.common import status_of
from flowbox.errors import FlowboxError, error_json
from flowbox.ratelimit import RateLimit, retry_after
from flowbox.runtime import Runtime
from flowbox.webhooks import WebhookReply, WebhookRequest

JSON_HEADERS = [(b"content-type", b"application/json")]
# Webhook answers come from the editor's origin but say what a workflow wants: a page they serve must not
# run as flowbox (script in a sandboxed, opaque origin; no MIME sniffing; never framed by the editor).
WEBHOOK_SECURITY_HEADERS = [(b"content-security-policy", b"sandbox; frame-ancestors 'none'"),
                            (b"x-content-type-options", b"nosniff")]


def without_flowbox_cookies(cookie_header: str) -> str:
    """A `Cookie` header without flowbox's own cookies (the editor session), for a workflow to see."""
    kept = [part for part in cookie_header.split(";") if not part.strip().startswith("flowbox_")]
    return ";".join(kept).strip()


PREFIXES = ("webhook", "webhook-test", "webhook-waiting")


class BodyTooLarge(Exception):
    pass


class Disconnected(Exception):
    """The client went away before its request body was complete."""


def parse_query(raw: bytes) -> dict[str, Any]:
    """`a=1&b=2&b=3` -> {"a": "1", "b": ["2", "3"]}."""
    if not raw:
        return {}
    parsed = parse_qs(raw.decode("latin-1"), keep_blank_values=True)
    return {k: v[0] if len(v) == 1 else v for k, v in parsed.items()}


def parse_body(raw: bytes, content_type: str) -> tuple[Any, dict[str, Any] | None]:
    """The webhook item's `body` (and binary data for bodies that are not text)."""
    if not raw:
        return {}, None
    kind = content_type.split(";", 1)[0].strip().lower()
    if kind == "application/json" or kind.endswith("+json"):
        return load_json(raw), None
    if kind == "application/x-www-form-urlencoded":
        return parse_query(raw), None
    try:
        return raw.decode("utf-8"), None
    except UnicodeDecodeError:
        return {}, {"data": {"data": base64.b64encode(raw).decode(), "mimeType": kind or "application/octet-stream",
                             "fileName": "body"}}


class WebhookApp:
    """ASGI app for the three webhook prefixes."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        rate = runtime.settings.webhook_rate_limit
        self.limit = RateLimit(rate, max(1.0, 2 * rate)) if rate > 0 else None

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        path: str = scope["path"]
        method: str = scope["method"]
        prefix, _, rest = path[1:].partition("/")
        if prefix not in PREFIXES or not rest:  # /webhook, /webhooks/x, ...: no such webhook
            self.runtime.metrics.webhook(404)
            await self._send(send, _error(404, "not_found", f"no webhook at {path}; webhooks are /webhook/<path>"),
                             head=method == "HEAD")
            return
        if self.limit is not None:
            client = scope.get("client")
            wait = self.limit.take(client[0] if client else "-")
            if wait:
                reply = _error(429, "rate_limited", "too many webhook calls from this address; slow down",
                               {"retryAfter": int(retry_after(wait))})
                reply.headers["Retry-After"] = retry_after(wait)
                self.runtime.metrics.webhook(429)
                await self._send(send, reply, head=method == "HEAD")
                return
        try:
            headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
            if "cookie" in headers:  # the editor shares this origin: its login never reaches a workflow
                headers["cookie"] = without_flowbox_cookies(headers["cookie"])
            raw = await self._read_body(receive, headers)
            body, binary = parse_body(raw, headers.get("content-type", ""))
            request = WebhookRequest(method=method, path=unquote(rest), headers=headers,
                                     query=parse_query(scope.get("query_string", b"")), body=body, binary=binary)
            if prefix == "webhook-waiting":
                await self.runtime.runs.resume(rest.strip("/"), request.item({}))
                reply = WebhookReply(200, {"executionId": rest.strip("/"), "status": "resumed"})
            else:
                reply = await self.runtime.webhooks.handle(method, rest, request, test=prefix == "webhook-test")
        except Disconnected:
            return  # nobody to answer, and a partial body must not run a workflow
        except BodyTooLarge:
            limit = self.runtime.settings.max_body_bytes
            reply = _error(413, "body_too_large", f"request body is larger than {limit:,} bytes")
        except FlowboxError as exc:
            reply = _error(status_of(exc), exc.code, exc.message,
                           {k: v for k, v in exc.details.items() if v is not None} or None)
            reply.headers.update(exc.headers)  # WWW-Authenticate
            if getattr(exc, "retry_after", None):  # DiskFull
                reply.headers["Retry-After"] = str(exc.retry_after)  # type: ignore[attr-defined]
        self.runtime.metrics.webhook(reply.status)
        await self._send(send, reply, head=method == "HEAD")

    async def _read_body(self, receive: Any, headers: dict[str, str]) -> bytes:
        limit = self.runtime.settings.max_body_bytes
        declared = headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > limit:
            raise BodyTooLarge
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                raise Disconnected
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                raise BodyTooLarge
            chunks.append(chunk)
            if not message.get("more_body"):
                break
        return b"".join(chunks)

    async def _send(self, send: Any, reply: WebhookReply, *, head: bool) -> None:
        body = reply.body
        headers = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in reply.headers.items()]
        if isinstance(body, bytes):
            payload = body
        elif isinstance(body, str) and any(k == b"content-type" for k, _ in headers):
            payload = body.encode()
        else:
            payload = orjson.dumps(body, default=str)
            if not any(k == b"content-type" for k, _ in headers):
                headers += JSON_HEADERS
        headers = [(k, v) for k, v in headers if not (k == b"set-cookie" and v.lstrip().startswith(b"flowbox_"))]
        headers += WEBHOOK_SECURITY_HEADERS
        headers.append((b"content-length", str(len(payload)).encode()))
        await send({"type": "http.response.start", "status": reply.status, "headers": headers})
        await send({"type": "http.response.body", "body": b"" if head else payload})


def _error(status: int, code: str, message: str, details: Any = None) -> WebhookReply:
    return WebhookReply(status, error_json(code, message, details))
