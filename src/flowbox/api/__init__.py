"""The HTTP API (Litestar): `/api/v1/...`, OpenAPI at `/api/docs`, `/healthz`, `/readyz`, `/metrics`.

One controller per resource module (what they share is in `flowbox.api.common`); every error leaves as
`{"error": {"code", "message", "details"}}` through the one table in `common.error_handlers()`.
Webhooks are served by `flowbox.api.webhooks` (plain ASGI, the hot path).
"""

from __future__ import annotations

from typing import Any

from litestar import Litestar
from litestar.openapi import OpenAPIConfig
from litestar.openapi.spec import Server

from flowbox import __version__
from flowbox.api import health
from flowbox.api.auth import guard
from flowbox.api.body import JsonRequest
from flowbox.api.common import error_handlers
from flowbox.runtime import Runtime


def make_api(runtime: Runtime) -> Litestar:
    """The Litestar app with every controller; `runtime` is on `app.state.runtime`."""
    handlers: list[Any] = [*health.HANDLERS]
    for module in _controller_modules():
        handlers.extend(module.HANDLERS)
    app = Litestar(
        route_handlers=handlers,
        exception_handlers=error_handlers(),
        guards=[guard],  # every route but flowbox.auth.PUBLIC needs an API key once a user exists
        openapi_config=OpenAPIConfig(title="flowbox", version=__version__, path="/api/docs",
                                     servers=[Server(url="/")], render_plugins=_docs_plugins()),
        request_max_body_size=runtime.settings.max_body_bytes,
        request_class=JsonRequest,  # the JSON depth rule (flowbox.api.body)
        debug=False,
    )
    app.state.runtime = runtime
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
        if info.name in ("health", "webhooks", "docs", "common"):
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
