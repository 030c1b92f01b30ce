"""`/healthz` (the process answers), `/readyz` (store and queue answer), `/metrics` (Prometheus text),
`/api` (where the API and its docs are)."""

from __future__ import annotations

import asyncio
from typing import Any

from litestar import MediaType, Response, get
from litestar.datastructures import State

from flowbox import __version__


@get("/healthz", include_in_schema=False)
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@get("/readyz", include_in_schema=False)
async def readyz(state: State) -> Response[dict[str, Any]]:
    checks = await state.runtime.ready()
    ok = all(checks.values())
    return Response({"status": "ok" if ok else "unavailable", "checks": checks}, status_code=200 if ok else 503)


@get("/metrics", include_in_schema=False, media_type=MediaType.TEXT)
async def metrics(state: State) -> Response[bytes]:
    runtime = state.runtime
    depth = await asyncio.to_thread(runtime.queue.depth) if runtime.queue is not None else 0
    return Response(runtime.metrics.render(depth), media_type="text/plain; version=0.0.4; charset=utf-8")




@get("/api", include_in_schema=False)
async def api_root() -> dict[str, Any]:
    return {"name": "flowbox", "version": __version__, "api": "/api/v1", "docs": "/api/docs"}


HANDLERS = [healthz, readyz, metrics, api_root]
