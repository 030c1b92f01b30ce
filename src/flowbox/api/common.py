"""What the API's controllers share: the error table and the one JSON error shape (DESIGN §8), the
caller's operations as a dependency, and the paging parameters."""

from __future__ import annotations

from typing import Any

from litestar import MediaType, Request, Response
from litestar.datastructures import State
from litestar.di import Provide
from litestar.exceptions import HTTPException, ValidationException
from litestar.params import Parameter

from flowbox.auth import AuthError
from flowbox.errors import (
    ConfigError,
    Conflict,
    CredentialError,
    FlowboxError,
    Forbidden,
    InvalidInput,
    MethodNotAllowed,
    NodeError,
    NotFound,
    RateLimited,
    StoreError,
    TimedOut,
    Unauthorized,
    Unavailable,
    WorkflowInvalid,
    error_json,
)
from flowbox.operations import Operations
from flowbox.store.base import Page

STATUS = {
    WorkflowInvalid: 422, NotFound: 404, Conflict: 409, MethodNotAllowed: 405, Unavailable: 503,
    StoreError: 503, TimedOut: 408, CredentialError: 400, NodeError: 500, ConfigError: 500, AuthError: 400,
    Unauthorized: 401, Forbidden: 403, RateLimited: 429, InvalidInput: 400,
}


def error_response(status: int, code: str, message: str, details: Any = None,
                   headers: dict[str, str] | None = None) -> Response[Any]:
    """The one JSON error shape (DESIGN §8)."""
    return Response(error_json(code, message, details), status_code=status, media_type=MediaType.JSON,
                    headers=headers)


def status_of(exc: FlowboxError) -> int:
    for cls in type(exc).__mro__:
        if cls in STATUS:
            return STATUS[cls]
    return 500


def _flowbox_error(request: Request[Any, Any, Any], exc: FlowboxError) -> Response[Any]:
    details = {k: v for k, v in exc.details.items() if v is not None} or None
    retry_after = getattr(exc, "retry_after", None)  # RateLimited, DiskFull
    headers = {**exc.headers, **({"Retry-After": str(retry_after)} if retry_after else {})}
    return error_response(status_of(exc), exc.code, exc.message, details, headers or None)


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


def provide_services(state: State, request: Request[Any, Any, Any]) -> Operations:
    """The operations of the caller the guard let in (`flowbox.operations`: what they may see and change
    follows from who they are), on the running `Runtime` that `make_api` put on `app.state`."""
    return state.runtime.operations(request.scope.get("user"))


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
