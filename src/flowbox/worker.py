"""`flowbox worker`: a process that runs queued executions, for scale-out.

Scale-out is the same code with two settings: `FLOWBOX_DATABASE_URL=postgresql://...`
(the store every process shares) and `FLOWBOX_REDIS_URL=redis://...` (the queue).
Then:

- `flowbox serve` takes webhooks, API calls and schedule fires, records each execution
  as "queued" and puts its id on the Redis queue. It runs no queued execution itself
  (so a deploy or restart of the web process interrupts no run, and capacity is the
  number of workers); executions that must answer inline (a webhook with
  `respond: lastNode`/`respondNode`, a test webhook) still run in the server.
  Run ONE server with the scheduler (several would fire every schedule several times).
- `flowbox worker` (this module; any number, on any machine) consumes the queue with
  `FLOWBOX_WORKERS` (or `--concurrency`) consumer threads, each handing one execution
  at a time to the worker's event loop: that is its limit on executions running at
  once. It serves no HTTP, fires no schedule and does no crash recovery (the server
  does that at its start).
- On SIGTERM/SIGINT a worker stops taking work, lets running executions finish for
  up to `FLOWBOX_SHUTDOWN_TIMEOUT` seconds, then cancels them (recorded "crashed")
  and exits 0; a second signal cancels at once. Ids taken off the queue while
  stopping go back on it.

A worker on a SQLite store works when it shares the server's data dir on one machine
(SQLite allows several processes), which is handy for trying scale-out; PostgreSQL is
the store for several machines.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import socket

from flowbox.errors import ConfigError
from flowbox.settings import Settings

logger = logging.getLogger("flowbox.worker")


def check_settings(settings: Settings) -> None:
    """A worker needs the Redis queue; warn when its store is a local SQLite file."""
    if not settings.redis_url:
        raise ConfigError("flowbox worker needs a shared queue: set FLOWBOX_REDIS_URL (e.g. redis://127.0.0.1:6379/0)"
                          " and FLOWBOX_DATABASE_URL (postgresql://...), the same as the server's")
    if not settings.database_url.startswith(("postgresql:", "postgres:")):
        logger.warning("flowbox worker on a SQLite store (%s): only the server on this machine, sharing the data"
                       " dir, sees its executions; use FLOWBOX_DATABASE_URL=postgresql://... to scale out",
                       settings.database_url)


async def run(settings: Settings, concurrency: int | None = None) -> int:
    """Consume the queue until SIGTERM/SIGINT; returns how many queued executions this worker handled."""
    from flowbox.runtime import Runtime

    check_settings(settings)
    runtime = Runtime(settings)
    # no webhooks are served, no schedules fired, no recovery (the server does it)
    await runtime.start(consume=False, schedule=False, recover=False)
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    signals = 0

    def on_signal(signum: int) -> None:
        nonlocal signals
        signals += 1
        if signals == 1:
            logger.info("%s: finishing running executions (up to %.0f s), taking no new ones",
                        signal.Signals(signum).name, settings.shutdown_timeout)
            stop.set()
        else:
            logger.warning("second signal: cancelling running executions now")
            runtime.queue.cancel_running()

    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, on_signal, signum)
    name = f"{socket.gethostname()}:{os.getpid()}"
    try:
        runtime.queue.start(concurrency or settings.workers, worker=True)
        logger.info("flowbox worker %s ready: %d consumer thread(s) on queue %r, store %s", name,
                    concurrency or settings.workers, runtime.queue.huey.name, _safe_url(settings.database_url))
        await stop.wait()
    finally:
        await runtime.stop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            with contextlib.suppress(Exception):
                loop.remove_signal_handler(signum)
    handled = runtime.queue.handled
    logger.info("flowbox worker %s stopped: handled %d queued execution(s)", name, handled)
    return handled


def _safe_url(url: str) -> str:
    """A database URL without its password (for logs)."""
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(url)
    if parts.password:
        netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
        return urlunsplit(parts._replace(netloc=netloc, query=""))
    return urlunsplit(parts._replace(query=""))


def main(settings: Settings, concurrency: int | None = None) -> None:
    """Block running the worker until stopped (the `flowbox worker` command)."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    check_settings(settings)
    asyncio.run(run(settings, concurrency))
