"""The one ASGI app `flowbox serve` runs: API, webhooks, health and the editor on one port.

    /api/v1/..., /api/docs      Litestar (flowbox.api)
    /webhook/, /webhook-test/,  flowbox.api.webhooks (plain ASGI: the hot path)
    /webhook-waiting/
    /healthz /readyz /metrics   Litestar
    everything else             NiceGUI (flowbox.ui) on a FastAPI shell

`Root` owns the ONE lifespan: on startup it starts the `Runtime` (store, queue consumer,
scheduler), then Litestar's lifespan, then NiceGUI's (by forwarding the lifespan
protocol to the shell); on shutdown the reverse. Mounted sub-apps get no lifespan
events of their own, which is why nothing is mounted under anything else here.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
from typing import Any

from flowbox.runtime import Runtime
from flowbox.settings import Settings

logger = logging.getLogger("flowbox")

Scope = dict[str, Any]
API_PREFIXES = ("/api/", "/healthz", "/readyz", "/metrics", "/login", "/logout", "/setup")
WEBHOOK_PREFIXES = ("/webhook",)  # /webhook/, /webhook-test/, /webhook-waiting/; any other /webhook*: JSON 404


class Root:
    """Routes by path prefix and runs the shared lifespan."""

    def __init__(self, runtime: Runtime, api: Any, webhooks: Any, shell: Any | None) -> None:
        self.runtime = runtime
        self.api = api
        self.webhooks = webhooks
        self.app = shell  # NiceGUI looks for the uvicorn server through `.app`

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        kind = scope["type"]
        if kind == "lifespan":
            await self.lifespan(receive, send)
            return
        path = scope.get("path", "")
        if path.startswith(WEBHOOK_PREFIXES) and kind == "http":
            await self.webhooks(scope, receive, send)
        elif path.startswith(API_PREFIXES) or path == "/api" or self.app is None:
            await self.api(scope, receive, send)
        else:
            await self.editor(scope, receive, send)

    async def editor(self, scope: Scope, receive: Any, send: Any) -> None:
        """The editor's door: once users exist, a page without a session goes to the login form and its
        websocket/uploads get 401; cross-site websockets and unsafe requests are refused; every response
        carries the security headers (`flowbox.sessions`). The user is left in `scope["flowbox.user"]`."""
        from flowbox import sessions
        from flowbox.audit import set_actor

        path, kind = scope.get("path", ""), scope["type"]
        method = scope.get("method", "GET")
        if kind == "http" and method in ("GET", "HEAD") and path.startswith(self.static_prefixes):
            await self.app(scope, receive, send)  # versioned JS/CSS of the editor: nothing secret
            return
        if not sessions.same_origin(scope) and (kind == "websocket" or method not in sessions.SAFE_METHODS):
            await _refuse(scope, send, 403, "cross-site request refused")
            return
        principal = None
        scope["flowbox.open"] = not await self.runtime.accounts.auth_required()
        if not scope["flowbox.open"]:
            cookie = sessions.read_cookie(sessions.header(scope.get("headers", ()), b"cookie"))
            principal = await self.runtime.accounts.authenticate_session(cookie)
            if principal is None:
                if kind == "http" and method in ("GET", "HEAD") and not path.startswith("/_nicegui"):
                    from flowbox.api.login import login_location

                    await _refuse(scope, send, 303, "", location=login_location(path, scope.get("query_string", b"")))
                else:
                    await _refuse(scope, send, 401, "log in first")
                return
            client = scope.get("client")
            set_actor(principal.email, client[0] if client else None)  # handlers of this connection inherit it
        scope["flowbox.user"] = principal
        if kind != "http":
            await self.app(scope, receive, send)
            return

        async def send_secured(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                present = {k.lower() for k, _ in message.get("headers", ())}
                extra = [(k, v) for k, v in sessions.SECURITY_HEADERS if k not in present]
                message = {**message, "headers": [*message.get("headers", ()), *extra]}
            await send(message)

        await self.app(scope, receive, send_secured)

    @property
    def static_prefixes(self) -> tuple[str, ...]:
        from nicegui import __version__

        return (f"/_nicegui/{__version__}/", "/favicon.ico")

    async def lifespan(self, receive: Any, send: Any) -> None:
        message = await receive()
        assert message["type"] == "lifespan.startup"
        try:
            await self.runtime.start()
            async with contextlib.AsyncExitStack() as stack:
                await stack.enter_async_context(self.api.lifespan())
                if self.app is not None:
                    await stack.enter_async_context(_forwarded_lifespan(self.app))
                # what start-up loaded stays for good: keep the cyclic GC from rescanning it (full
                # collections over the editor's ~0.5 M objects were the p99 latency spikes)
                gc.collect()
                gc.freeze()
                await send({"type": "lifespan.startup.complete"})
                message = await receive()  # lifespan.shutdown
                logger.info("shutting down: finishing running executions")
            await self.runtime.stop()
        except BaseException as exc:
            logger.exception("startup failed")
            with contextlib.suppress(Exception):
                await self.runtime.stop(timeout=0)
            await send({"type": "lifespan.startup.failed", "message": f"{type(exc).__name__}: {exc}"})
            return
        await send({"type": "lifespan.shutdown.complete"})


async def _refuse(scope: Scope, send: Any, status: int, message: str, location: str | None = None) -> None:
    """Answer without the editor: a redirect, or a JSON error (a websocket is closed instead)."""
    if scope["type"] == "websocket":
        await send({"type": "websocket.close", "code": 4401 if status == 401 else 4403})
        return
    import orjson

    from flowbox.errors import error_json
    from flowbox.sessions import SECURITY_HEADERS

    code = {401: "unauthorized", 403: "forbidden"}.get(status, "redirect")
    body = b"" if location else orjson.dumps(error_json(code, message))
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
               (b"cache-control", b"no-store"), *SECURITY_HEADERS]
    if location:
        headers.append((b"location", location.encode("latin-1")))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


@contextlib.asynccontextmanager
async def _forwarded_lifespan(app: Any) -> Any:
    """Run another ASGI app's lifespan (startup on enter, shutdown on exit)."""
    inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    started: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    stopped: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    async def send(message: dict[str, Any]) -> None:
        kind = message["type"]
        if kind == "lifespan.startup.complete" and not started.done():
            started.set_result(None)
        elif kind == "lifespan.startup.failed" and not started.done():
            started.set_exception(RuntimeError(message.get("message") or "startup failed"))
        elif kind in ("lifespan.shutdown.complete", "lifespan.shutdown.failed") and not stopped.done():
            stopped.set_result(None)

    task = asyncio.ensure_future(app({"type": "lifespan", "asgi": {"version": "3.0"}, "state": {}}, inbox.get, send))
    await inbox.put({"type": "lifespan.startup"})
    await asyncio.wait([started, task], return_when=asyncio.FIRST_COMPLETED)
    started.result() if started.done() else None
    try:
        yield
    finally:
        await inbox.put({"type": "lifespan.shutdown"})
        await asyncio.wait([stopped, task], timeout=10, return_when=asyncio.FIRST_COMPLETED)


def build_app(settings: Settings, runtime: Runtime | None = None) -> Root:
    """The whole service as one ASGI app (nothing starts until the server sends lifespan.startup)."""
    from flowbox.api import make_api
    from flowbox.api.webhooks import WebhookApp

    runtime = runtime or Runtime(settings)
    api = make_api(runtime)
    shell = None
    if settings.ui:
        from flowbox.ui import mount_ui

        shell = mount_ui(runtime)
    return Root(runtime, api, WebhookApp(runtime), shell)
