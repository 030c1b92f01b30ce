"""`/healthz` (the process answers), `/readyz` (store and queue answer), `/metrics` (Prometheus text)."""

from __future__ import annotations

import asyncio
from typing import Any

from litestar import MediaType, Response, get
from litestar.datastructures import State

from flowbox.api import api_root
from flowbox.services import Services


@get("/healthz", include_in_schema=False)
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@get("/readyz", include_in_schema=False)
async def readyz(state: State) -> Response[dict[str, Any]]:
    services: Services = state.services
    checks = await services.ready()
    ok = all(checks.values())
    return Response({"status": "ok" if ok else "unavailable", "checks": checks}, status_code=200 if ok else 503)


@get("/metrics", include_in_schema=False, media_type=MediaType.TEXT)
async def metrics(state: State) -> Response[bytes]:
    services: Services = state.services
    depth = await asyncio.to_thread(services.queue.depth) if services.queue is not None else 0
    return Response(services.metrics.render(depth), media_type="text/plain; version=0.0.4; charset=utf-8")


HANDLERS = [healthz, readyz, metrics, api_root]
