"""Run the ASGI app under uvicorn: one process, one port, a clean stop on SIGTERM/SIGINT.

uvicorn handles the signals: it stops accepting connections, and our lifespan
shutdown lets running executions finish (up to `settings.shutdown_timeout`),
leaving queued ones queued for the next start.

The HTTP protocol is uvicorn's httptools one plus the limits it lacks (`LimitedHttpProtocol`):
httptools accepts request heads of any size and any number of headers, and uvicorn's only
timer is keep-alive after a response, so a client that never finishes its headers or its
body, or never sends anything, holds its connection for good. Every refusal, and uvicorn's
own 400 and 500 answers, is a JSON error (DESIGN §8):

    431 request line + headers over FLOWBOX_MAX_HEADER_KB, or more than FLOWBOX_MAX_HEADERS
    414 the URL alone over FLOWBOX_MAX_HEADER_KB
    408 headers unfinished FLOWBOX_HEADER_TIMEOUT s after the request's first byte, or the body
        FLOWBOX_BODY_TIMEOUT s after the headers (only while flowbox waits on the client)
    503 more than FLOWBOX_MAX_CONNECTIONS connections open (answered at once, then closed)
    400 not HTTP; 500 the app failed before it answered
    an idle connection (before its first request or between two) closes after FLOWBOX_KEEPALIVE_TIMEOUT s
    (FLOWBOX_HEADER_TIMEOUT or FLOWBOX_BODY_TIMEOUT 0: no such limit)

After an error answer the connection is half-closed and what the client still sends is read and
dropped for `LINGER` seconds, so that a client still sending sees the answer, not a reset.
"""

from __future__ import annotations

import contextlib
import logging
from asyncio import TimerHandle, Transport
from typing import Any

import orjson
from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol

from flowbox.errors import error_json
from flowbox.settings import Settings

logger = logging.getLogger("flowbox")

IDLE, HEAD, BODY = 0, 1, 2  # what the parser is reading
LINGER = 2.0  # seconds to drop what a client still sends after an error answer


class Refused(Exception):
    """Raised in a parser callback to stop parsing; the answer is in `LimitedHttpProtocol._refusal`."""


def error_answer(status: int, code: str, message: str, details: Any = None,
                 headers: list[tuple[bytes, bytes]] | None = None) -> bytes:
    """A whole HTTP/1.1 error response with a JSON body, ending the connection."""
    body = orjson.dumps(error_json(code, message, details))
    lines = [STATUS_LINE[status]]
    for name, value in [*(headers or []), (b"content-type", b"application/json"),
                        (b"content-length", str(len(body)).encode()), (b"connection", b"close")]:
        lines += [name, b": ", value, b"\r\n"]
    return b"".join([*lines, b"\r\n", body])


class JsonErrors:
    """Wraps the ASGI app so that a failure before the answer began is answered with a JSON 500 (uvicorn's
    own is text/plain); the exception still reaches uvicorn, which logs it and ends the connection."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        try:
            await self.app(scope, receive, send)
        except Exception:
            body = orjson.dumps(error_json("internal_error", "the server failed to answer this request"))
            with contextlib.suppress(RuntimeError):  # the answer had begun: uvicorn only closes the connection
                await send({"type": "http.response.start", "status": 500, "headers": [
                    (b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                    (b"connection", b"close")]})
                await send({"type": "http.response.body", "body": body})
            raise


class LimitedHttpProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with head-size, header-count, time and connection limits.

    Use `protocol_for(settings)`, which sets the class attributes below from the settings.
    """

    max_header_bytes = 32 * 1024
    max_headers = 100
    header_timeout = 10.0
    body_timeout = 60.0
    max_connections = 1000

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.app = JsonErrors(self.app)
        self._phase = IDLE
        self._head_size = 0  # request line + headers parsed so far
        self._head_bytes = 0  # bytes of whole reads that went into the unfinished head (a lower bound)
        self._header_count = 0
        self._deadline: TimerHandle | None = None
        self._refusal: tuple[int, str, str, dict[str, Any]] | None = None
        self._closing = False  # answered with an error: what the client still sends is dropped

    # connection events

    def connection_made(self, transport: Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        if len(self.connections) > self.max_connections:
            transport.write(error_answer(503, "unavailable", f"more than {self.max_connections:,} connections are "
                                         "open; try again shortly", {"maxConnections": self.max_connections},
                                         [*self.server_state.default_headers, (b"retry-after", b"1")]))
            self._closing = True
            transport.close()  # no lingering: under a flood, lingering sockets would pile up
            return
        # uvicorn arms its keep-alive timer only after a response: a new connection gets it too
        idle = self.timeout_keep_alive or self.header_timeout
        if idle > 0:
            self.timeout_keep_alive_task = self.loop.call_later(idle, self.timeout_keep_alive_handler)

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._closing:
            return
        in_head = self._phase == HEAD
        super().data_received(data)
        if self._closing:
            return
        if self._phase == HEAD:
            if in_head:  # the head began before this read and is still unfinished: all of it is head
                self._head_bytes += len(data)
            if self._head_bytes > self.max_header_bytes:
                self._refuse(*self._too_large())
            elif self._deadline is None and self.header_timeout > 0:
                self._deadline = self.loop.call_later(self.header_timeout, self._head_timed_out)
        elif self._phase == BODY and self._deadline is None and self.body_timeout > 0:
            self._deadline = self.loop.call_later(self.body_timeout, self._body_timed_out)

    def handle_websocket_upgrade(self) -> None:
        self._disarm()  # the connection is the websocket protocol's from here on
        self._phase = IDLE
        super().handle_websocket_upgrade()

    def send_400_response(self, msg: str) -> None:
        """uvicorn calls this when parsing fails: because of a limit (`_refusal`), or as the request is not HTTP."""
        self._refuse(*(self._refusal or (400, "invalid_request", "invalid HTTP request", None)))

    # parser callbacks

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._phase = HEAD
        self._head_size = self._head_bytes = self._header_count = 0

    def on_url(self, url: bytes) -> None:
        super().on_url(url)
        self._head_size += len(url)
        if self._head_size > self.max_header_bytes:
            self._refusal = (414, "uri_too_long", f"the URL is longer than {self.max_header_bytes:,} bytes",
                             {"maxBytes": self.max_header_bytes})
            raise Refused

    def on_header(self, name: bytes, value: bytes) -> None:
        self._head_size += len(name) + len(value) + 4
        self._header_count += 1
        if self._header_count > self.max_headers:
            self._refusal = (431, "headers_too_large", f"more than {self.max_headers} request headers",
                             {"maxHeaders": self.max_headers})
            raise Refused
        if self._head_size > self.max_header_bytes:
            self._refusal = self._too_large()
            raise Refused
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        self._disarm()
        self._phase = BODY
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        self._disarm()
        self._phase = IDLE
        super().on_message_complete()

    # limits

    def _too_large(self) -> tuple[int, str, str, dict[str, Any]]:
        return (431, "headers_too_large", f"request line and headers are larger than {self.max_header_bytes:,} bytes",
                {"maxBytes": self.max_header_bytes})

    def _head_timed_out(self) -> None:
        self._deadline = None
        self._refuse(408, "timeout", f"request headers not received within {self.header_timeout:g} s",
                     {"headerTimeout": self.header_timeout})

    def _body_timed_out(self) -> None:
        self._deadline = None
        cycle = self.cycle
        if self.flow.read_paused or (cycle is not None and cycle.waiting_for_100_continue):
            # flowbox is not reading (the app has not asked for more yet): the client is not late
            self._deadline = self.loop.call_later(self.body_timeout, self._body_timed_out)
            return
        self._refuse(408, "timeout", f"request body not received within {self.body_timeout:g} s",
                     {"bodyTimeout": self.body_timeout})

    def _refuse(self, status: int, code: str, message: str, details: Any = None) -> None:
        """Answer with a JSON error where HTTP allows it, then end the connection."""
        if self._closing:
            return
        self._closing = True
        self._disarm()
        self._unset_keepalive_if_required()
        cycle = self.cycle
        if self._phase == BODY:  # the request being read has a cycle: answer unless the app has begun to
            answer = cycle is not None and not cycle.response_started
        else:  # a new request, or none: answer unless a response to an earlier one is still going out
            answer = cycle is None or cycle.response_complete
        if cycle is not None and not cycle.response_complete:
            cycle.disconnected = True  # the app's reads end, and whatever it answers goes nowhere
            cycle.message_event.set()
        logger.debug("refused a request from %s: %s %s", self.client, status, message)
        transport = self.transport
        if transport.is_closing():
            return
        if answer:
            transport.write(error_answer(status, code, message, details, self.server_state.default_headers))
        if not transport.can_write_eof():
            transport.close()
            return
        transport.write_eof()
        self.flow.resume_reading()  # keep reading (and dropping) until the client closes, or LINGER
        self._deadline = self.loop.call_later(LINGER, transport.close)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None


def _open_files_for(connections: int, spare: int = 100) -> int:
    """Raise the open-files limit to fit `connections` sockets and `spare` files (store, queue, logs) where the
    hard limit allows; returns how many connections fit."""
    try:
        import resource
    except ImportError:  # Windows
        return connections
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = connections + spare
    if soft == resource.RLIM_INFINITY or soft >= want:
        return connections
    with contextlib.suppress(ValueError, OSError):
        soft = want if hard == resource.RLIM_INFINITY else min(want, hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    if soft >= want:
        return connections
    fit = max(1, soft - spare)
    logger.warning("at most %d connections at once (FLOWBOX_MAX_CONNECTIONS is %d): the process may open %d files",
                   fit, connections, soft)
    return fit


def protocol_for(settings: Settings) -> type[LimitedHttpProtocol]:
    """`LimitedHttpProtocol` with the limits of `settings` (uvicorn builds one protocol per connection)."""
    cap = _open_files_for(settings.max_connections)
    return type("LimitedHttpProtocol", (LimitedHttpProtocol,), {
        "max_header_bytes": settings.max_header_bytes, "max_headers": settings.max_headers,
        "header_timeout": settings.header_timeout, "body_timeout": settings.body_timeout, "max_connections": cap})


def serve(settings: Settings) -> None:
    """Block serving until stopped."""
    import uvicorn

    from flowbox.app import build_app

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    app = build_app(settings)
    config = uvicorn.Config(app, host=settings.host, port=settings.port, lifespan="on", log_level="info",
                            access_log=False, timeout_graceful_shutdown=int(settings.shutdown_timeout) + 5,
                            http=protocol_for(settings), loop="auto", server_header=False,
                            timeout_keep_alive=settings.keepalive_timeout)  # type: ignore[arg-type]  # a float works
    server = uvicorn.Server(config)
    logging.getLogger("flowbox").info("flowbox on http://%s:%s (data in %s)", settings.host, settings.port,
                                      settings.data_dir)
    server.run()
