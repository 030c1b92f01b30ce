"""Run the ASGI app under uvicorn: one process, one port, a clean stop on SIGTERM/SIGINT.

uvicorn handles the signals: it stops accepting connections, and our lifespan
shutdown lets running executions finish (up to `settings.shutdown_timeout`),
leaving queued ones queued for the next start.
"""

from __future__ import annotations

import logging

from flowbox.settings import Settings


def serve(settings: Settings) -> None:
    """Block serving until stopped."""
    import uvicorn

    from flowbox.app import build_app

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    app = build_app(settings)
    config = uvicorn.Config(app, host=settings.host, port=settings.port, lifespan="on", log_level="info",
                            access_log=False, timeout_graceful_shutdown=int(settings.shutdown_timeout) + 5,
                            http="httptools", loop="auto", server_header=False)
    server = uvicorn.Server(config)
    logging.getLogger("flowbox").info("flowbox on http://%s:%s (data in %s)", settings.host, settings.port,
                                      settings.data_dir)
    server.run()
