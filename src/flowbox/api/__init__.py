"""The HTTP API (Litestar): `/api/v1/...`, OpenAPI at `/api/docs`, `/healthz`, `/readyz`, `/metrics`.

One controller per resource module; every error leaves as
`{"error": {"code", "message", "details"}}` through the one table in `error_handlers()`.
Webhooks are served by `flowbox.api.webhooks` (plain ASGI, the hot path).
"""

from __future__ import annotations

from typing import Any

from litestar import Litestar, MediaType, Request, Response, get
from litestar.datastructures import State
from litestar.di import Provide
from litestar.exceptions import HTTPException, ValidationException
from litestar.openapi import OpenAPIConfig
from litestar.openapi.spec import Server
from litestar.params import Parameter

from flowbox import __version__
from flowbox.auth import AuthError
from flowbox.errors import (
    ConfigError,
    Conflict,
    CredentialError,
    FlowboxError,
    Forbidden,
    MethodNotAllowed,
    NodeError,
    NotFound,
    RateLimited,
    StoreError,
    TimedOut,
    Unauthorized,
    Unavailable,
    WorkflowInvalid,
)
from flowbox.services import Services
from flowbox.store.base import Page

STATUS = {
    WorkflowInvalid: 422, NotFound: 404, Conflict: 409, MethodNotAllowed: 405, Unavailable: 503,
    StoreError: 503, TimedOut: 408, CredentialError: 400, NodeError: 500, ConfigError: 500, AuthError: 400,
    Unauthorized: 401, Forbidden: 403, RateLimited: 429,
}


def error_response(status: int, code: str, message: str, details: Any = None,
                   headers: dict[str, str] | None = None) -> Response[Any]:
    """The one JSON error shape (DESIGN §8)."""
    return Response({"error": {"code": code, "message": message, "details": details}}, status_code=status,
                    media_type=MediaType.JSON, headers=headers)


def status_of(exc: FlowboxError) -> int:
    for cls in type(exc).__mro__:
        if cls in STATUS:
            return STATUS[cls]
    return 500


def _flowbox_error(request: Request[Any, Any, Any], exc: FlowboxError) -> Response[Any]:
    details = {k: v for k, v in exc.details.items() if v is not None} or None
    headers = {"Retry-After": str(exc.retry_after)} if isinstance(exc, RateLimited) else None
    return error_response(status_of(exc), exc.code, exc.message, details, headers)


def _validation_error(request: Request[Any, Any, Any], exc: ValidationException) -> Response[Any]:
    extra = exc.extra if isinstance(exc.extra, list) else None
    fields = [e.get("key") for e in extra or [] if isinstance(e, dict) and e.get("key")]
    message = exc.detail or "invalid request"
    if fields:
        message = f"{message}: {', '.join(str(f) for f in fields)}"
    return error_response(400, "invalid_request", message, extra)


def _http_error(request: Request[Any, Any, Any], exc: HTTPException) -> Response[Any]:
    code = {400: "invalid_request", 404: "not_found", 405: "method_not_allowed", 413: "body_too_large", 429: "rate_limited",
            401: "unauthorized", 403: "forbidden"}.get(exc.status_code, "http_error")
    return error_response(exc.status_code, code, exc.detail, None, exc.headers)


def _unexpected(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    import logging

    logging.getLogger("flowbox").exception("unexpected error on %s %s", request.method, request.url.path)
    return error_response(500, "internal_error", f"{type(exc).__name__}: {exc}")


def error_handlers() -> dict[Any, Any]:
    return {FlowboxError: _flowbox_error, ValidationException: _validation_error, HTTPException: _http_error,
            Exception: _unexpected}


MAX_LIMIT = 250
UNFINISHED = ("new", "queued", "running")


def provide_services(state: State, request: Request[Any, Any, Any]) -> Services:
    """The running `Services` (put on `app.state` by `make_api`), acting for the caller the guard let in
    (`flowbox.services.ForUser`: what they may see and change follows from it)."""
    from flowbox.services import ForUser

    return ForUser(state.services, request.scope.get("user"))  # type: ignore[return-value]


SERVICES = {"services": Provide(provide_services, sync_to_thread=False)}

LIMIT = Parameter(default=50, ge=1, le=MAX_LIMIT, description=f"page size, 1..{MAX_LIMIT}")
CURSOR = Parameter(default=None, description="`nextCursor` of the previous page")


def invalid(request: Request[Any, Any, Any], field: str, message: str, source: str = "body") -> ValidationException:
    """A 400 naming `field`, in the shape Litestar's own validation errors have."""
    return ValidationException(detail=f"Validation failed for {request.method} {request.url.path}",
                               extra=[{"key": field, "message": message, "source": source}])


def page_json(page: Page[Any], to_json: Any) -> dict[str, Any]:
    """A list response (DESIGN §8): `{"data": [...], "nextCursor": ...}`."""
    return {"data": [to_json(item) for item in page.data], "nextCursor": page.next_cursor}


def make_api(services: Services) -> Litestar:
    """The Litestar app with every controller; `services` is on `app.state.services`."""
    from flowbox.api import health
    from flowbox.api.auth import guard

    handlers: list[Any] = [*health.HANDLERS]
    for module in _controller_modules():
        handlers.extend(module.HANDLERS)
    app = Litestar(
        route_handlers=handlers,
        exception_handlers=error_handlers(),
        guards=[guard],  # every route but flowbox.auth.PUBLIC needs an API key once a user exists
        openapi_config=OpenAPIConfig(title="flowbox", version=__version__, path="/api/docs",
                                     servers=[Server(url="/")], render_plugins=_docs_plugins()),
        request_max_body_size=services.settings.max_body_bytes,
        debug=False,
    )
    app.state.services = services
    _document_errors(app)
    return app


def _document_errors(app: Litestar) -> None:
    """Make the OpenAPI schema say what error responses really look like: Litestar documents its own
    `{"status_code", "detail"}` body, flowbox answers `{"error": {"code", "message", "details"}}`."""
    from litestar.openapi.spec import Components, OpenAPIMediaType, Reference, Schema
    from litestar.openapi.spec.enums import OpenAPIType

    schema = app.openapi_schema
    schema.components = schema.components or Components()
    schema.components.schemas = schema.components.schemas or {}
    schema.components.schemas["Error"] = Schema(
        type=OpenAPIType.OBJECT, required=["error"], description="Every error (DESIGN §8)",
        properties={"error": Schema(type=OpenAPIType.OBJECT, required=["code", "message"], properties={
            "code": Schema(type=OpenAPIType.STRING, examples=["not_found"]),
            "message": Schema(type=OpenAPIType.STRING),
            "details": Schema(description="more about the error: the field, the node, ... (or null)")})})
    body = {"application/json": OpenAPIMediaType(schema=Reference(ref="#/components/schemas/Error"))}
    for path in (schema.paths or {}).values():
        for operation in (path.get, path.put, path.post, path.delete, path.patch):
            for code, response in ((operation.responses or {}) if operation else {}).items():
                if str(code).startswith(("4", "5")) and not isinstance(response, Reference):
                    response.content = dict(body)


def _controller_modules() -> list[Any]:
    """Resource modules (workflows, executions, nodes, variables) present in this package."""
    import importlib
    import pkgutil

    import flowbox.api as package

    out = []
    for info in pkgutil.iter_modules(package.__path__):
        if info.name in ("health", "webhooks", "docs"):
            continue
        module = importlib.import_module(f"{package.__name__}.{info.name}")
        if hasattr(module, "HANDLERS"):
            out.append(module)
    return out


def _docs_plugins() -> list[Any]:
    try:
        from flowbox.api.docs import plugins
    except ImportError:
        return []
    return plugins()


@get("/api", include_in_schema=False)
async def api_root() -> dict[str, Any]:
    return {"name": "flowbox", "version": __version__, "api": "/api/v1", "docs": "/api/docs"}
