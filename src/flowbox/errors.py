"""Every exception flowbox raises, in one tree.

    FlowboxError
    ├─ ConfigError                  bad settings, a missing optional driver
    ├─ DataDirInUse                 another flowbox server holds the data dir's lock -> exit code 2
    ├─ WorkflowInvalid              cycle, unknown node type, bad connection, bad parameter
    │                               -> HTTP 422 / exit code 2; names the node (and field)
    ├─ NotFound                     no such workflow/execution/variable -> 404
    ├─ Conflict                     name taken, stale version -> 409
    ├─ InvalidInput                 a request that cannot be read (bad or too deeply nested JSON) -> 400
    ├─ MethodNotAllowed             a webhook path exists, not for this method -> 405
    ├─ TimedOut                     waited for an event that did not come -> 408
    ├─ Unavailable                  shutting down / queue or store down -> 503
    ├─ Unauthorized                 no or wrong login / key -> 401
    ├─ Forbidden                    logged in, but not allowed (role, not shared) -> 403
    ├─ RateLimited                  too many attempts -> 429 with Retry-After
    ├─ NodeError                    a node failed -> execution "error", exit code 1
    │   ├─ ExpressionError          a {{ }} expression failed (names node, parameter, expression)
    │   ├─ NodeTimeout              a node (or its code) ran past its time limit
    │   └─ StopAndError             raised on purpose by the stopAndError node
    ├─ CredentialError              missing, cannot decrypt, test failed
    └─ StoreError                   the database failed
        └─ DiskFull                 the disk is full, or below the free-space reserve -> 503 with Retry-After
    DuplicateNodeType(ValueError)   registry misuse at import time

The API and the CLI each map this tree to status/exit codes in one place.
"""

from __future__ import annotations

from typing import Any


class FlowboxError(Exception):
    """Base of every flowbox error. `code` is the machine-readable name used in JSON errors."""

    code = "error"
    headers: dict[str, str] = {}  # noqa: RUF012 - read only: headers the HTTP answer carries (WWW-Authenticate)

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.details = details

    def to_dict(self) -> dict[str, Any]:
        """The error as the `{"code", "message", "details"}` object of the HTTP API."""
        return {"code": self.code, "message": self.message, "details": self.details or None}


class ConfigError(FlowboxError):
    code = "config_error"


class DataDirInUse(FlowboxError):
    """Another process holds the data dir's lock (`flowbox.lock`); `holder` says who (pid, command, URL)."""

    code = "data_dir_in_use"

    def __init__(self, message: str, *, holder: Any = None) -> None:
        super().__init__(message)
        self.holder = holder


class WorkflowInvalid(FlowboxError):
    """The workflow cannot run. `node` (and `field`) say where."""

    code = "workflow_invalid"

    def __init__(self, message: str, *, node: str | None = None, field: str | None = None) -> None:
        super().__init__(message, node=node, field=field)
        self.node = node
        self.field = field


class NotFound(FlowboxError):
    code = "not_found"

    def __init__(self, kind: str, id: str) -> None:
        super().__init__(f"{kind} {id!r} not found", kind=kind, id=id)
        self.kind = kind
        self.id = id


class Conflict(FlowboxError):
    code = "conflict"


class InvalidInput(FlowboxError):
    """The request itself is malformed (its body is not valid JSON, or nested too deeply) -> 400."""

    code = "invalid_request"


class MethodNotAllowed(FlowboxError):
    """The path exists, but not for this HTTP method -> 405."""

    code = "method_not_allowed"


class TimedOut(FlowboxError):
    """Waited for something that did not happen in time (a test webhook call) -> 408."""

    code = "timeout"


class Unavailable(FlowboxError):
    """Shutting down, or a backing service does not answer -> 503."""

    code = "unavailable"


class Unauthorized(FlowboxError):
    """`challenge` is sent as WWW-Authenticate (a webhook that wants basic auth)."""

    code = "unauthorized"

    def __init__(self, message: str, *, challenge: str | None = None, **details: Any) -> None:
        super().__init__(message, **details)
        if challenge:
            self.headers = {"WWW-Authenticate": challenge}


class Forbidden(FlowboxError):
    code = "forbidden"


class RateLimited(FlowboxError):
    """Too many attempts; `retry_after` is the seconds to wait (sent as the Retry-After header)."""

    code = "rate_limited"

    def __init__(self, message: str, *, retry_after: float) -> None:
        super().__init__(message, retryAfter=max(1, int(retry_after + 0.999)))
        self.retry_after = max(1, int(retry_after + 0.999))


class NodeError(FlowboxError):
    """A node failed while running. The runner fills in `node` when the node did not."""

    code = "node_error"

    def __init__(self, message: str, *, node: str | None = None, item_index: int | None = None,
                 description: str | None = None) -> None:
        super().__init__(message, node=node, itemIndex=item_index)
        self.node = node
        self.item_index = item_index
        self.description = description


class ExpressionError(NodeError):
    code = "expression_error"

    def __init__(self, message: str, *, node: str | None = None, parameter: str | None = None,
                 expression: str | None = None, item_index: int | None = None) -> None:
        where = f"parameter '{parameter}'" if parameter else "expression"
        text = f"{where}: {{{{{expression}}}}}: {message}" if expression is not None else f"{where}: {message}"
        super().__init__(text, node=node, item_index=item_index)
        self.parameter = parameter
        self.expression = expression
        self.reason = message


class NodeTimeout(NodeError):
    code = "node_timeout"


class StopAndError(NodeError):
    code = "stop_and_error"


class CredentialError(FlowboxError):
    code = "credential_error"


class StoreError(FlowboxError):
    code = "store_error"


class DiskFull(StoreError):
    """No room to write: the disk is full, or has less free space than flowbox keeps in reserve
    (FLOWBOX_MIN_FREE_MB). Work is refused until space returns; `retry_after` is sent as Retry-After."""

    code = "disk_full"
    retry_after = 30


def error_json(code: str, message: str, details: Any = None) -> dict[str, Any]:
    """The body of every HTTP error answer (DESIGN §8): `{"error": {"code", "message", "details"}}`."""
    return {"error": {"code": code, "message": message, "details": details}}


def describe(exc: BaseException) -> str:
    """One line for any exception: a FlowboxError's message, a ValueError/TypeError's text, else `Type: text`."""
    if isinstance(exc, FlowboxError):
        return exc.message
    text = str(exc)
    if isinstance(exc, (ValueError, TypeError)) and text:
        return text
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


class DuplicateNodeType(ValueError):
    """Two node modules declared the same `type`."""
