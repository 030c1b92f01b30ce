"""The composition root: one running flowbox, its parts built and wired, started and stopped.

    runtime = Runtime(settings)
    await runtime.start()              # store open, active workflows live, recovery, queue, scheduler
    ops = runtime.operations(principal)  # what the API, the editor and the CLI call
    await runtime.stop()

Each part owns its state: `workflows` (stored workflows, what is live), `routes` + `webhooks`
(webhook calls), `runs` (executions: queue, inline, retries, waits), `recorder` (the one path from a
run to the store), `credentials`, `accounts` (users, keys, sessions), `access` (sharing rules),
`metrics`, `disk` (the free-space reserve). The queue, the scheduler and the trigger listeners get
the callables they need, not the runtime. Built once by `app.build_app()` (or `flowbox worker`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from flowbox.access import Access
from flowbox.accounts import Accounts
from flowbox.credential_vault import CredentialVault
from flowbox.engine.runner import EngineServices
from flowbox.errors import DiskFull, FlowboxError, StoreError
from flowbox.metrics import Metrics
from flowbox.operations import Operations
from flowbox.recorder import Recorder, engine_services
from flowbox.runs import Runs
from flowbox.settings import Settings
from flowbox.store.base import Store
from flowbox.webhooks import RouteTable, Webhooks
from flowbox.workflows import Workflows

logger = logging.getLogger("flowbox")


class Runtime:
    """flowbox as a running service (see the module docstring)."""

    def __init__(self, settings: Settings, store: Store | None = None) -> None:
        from flowbox.disk import Disk
        from flowbox.store import open_store

        self.settings = settings
        self.disk = Disk.from_settings(settings)
        self.store: Store = store if store is not None else open_store(settings.database_url, server=True)
        self.metrics = Metrics()
        self.engine = EngineServices()
        self.recorder = Recorder(self.store, self.engine, unsaved=self.disk.unsaved)
        self.access = Access(self.store)
        self.routes = RouteTable()
        self.workflows = Workflows(self.store, self.access, self.routes)
        self.runs = Runs(self.store, self.recorder, self.workflows, self.disk, self.metrics)
        self.webhooks = Webhooks(self.routes, self.workflows, self.runs,
                                 lambda type_, id: self.engine.credential(type_, id))
        self.credentials = CredentialVault(self.store, self.access, settings, lambda: self.engine.http_client())
        self.accounts = Accounts(self.store)
        self.queue: Any = None
        self.scheduler: Any = None
        self.trigger_listeners: Any = None  # flowbox.listeners.Listeners: in the process with the scheduler
        self._disk_watch: asyncio.Task[None] | None = None

    def operations(self, user: Any = None) -> Operations:
        """What `user` (a `flowbox.auth.Principal`; None: no restriction) may do."""
        return Operations(self, user)

    @property
    def vault(self) -> Any:
        return self.credentials.vault

    # ---- lifecycle
    async def start(self, *, consume: bool = True, schedule: bool = True, recover: bool = True) -> None:
        """Open the store and bring active workflows online; `consume`: run queued executions here."""
        from flowbox import registry
        from flowbox.tasks import Queue

        self.runs.loop = asyncio.get_running_loop()
        self.settings.ensure_dirs()
        registry.load(self.settings.nodes_dir)
        try:
            await self.store.open()
        except StoreError as exc:
            if self.disk.low():  # SQLite cannot even make its -shm/-wal files
                raise DiskFull(f"cannot open the database with {self.disk.describe()}: free some space, then start "
                               f"flowbox again ({exc.message})") from exc
            raise
        self._disk_watch = asyncio.ensure_future(self.disk.watch(self.store, self._crashed))
        self.engine = engine_services(self.store, await self.store.get_variables(), vault=self.vault,
                                      files_dir=self.settings.files_dir)
        self.engine.suspend_after = self.settings.wait_persist_seconds
        self.recorder = self.runs.recorder = Recorder(self.store, self.engine, unsaved=self.disk.unsaved)
        self.queue = self.runs.queue = Queue(self.settings, self.runs, self.store)
        if schedule:
            from flowbox.listeners import Listeners
            from flowbox.scheduler import Scheduler

            self.scheduler = Scheduler(self.settings, self.store, self.disk, self.workflows.compiled,
                                       self.runs.enqueue, self.queue.enqueue)
            self.trigger_listeners = Listeners(self.store, self.workflows.compiled, self.runs.enqueue, self.engine)
            self.workflows.on_live = [self.scheduler.sync, self.trigger_listeners.sync]
            self.runs.wake_scheduler = self.scheduler.wake
        await self.workflows.bring_active_online()
        self.runs.accepting = True  # no HTTP is served before start() returns; recovery may queue retries
        if recover:
            await self._recover()
        if consume:
            self.queue.start()
        if self.scheduler is not None:
            await self.scheduler.start()
        if self.trigger_listeners is not None:
            await self.trigger_listeners.start()

    async def stop(self, timeout: float | None = None) -> None:
        """Stop taking work; running executions get `timeout` seconds, then are cancelled (recorded crashed)."""
        if self.trigger_listeners is not None:
            await self.trigger_listeners.stop()  # first: an emit in progress still gets queued
        self.runs.accepting = False
        timeout = self.settings.shutdown_timeout if timeout is None else timeout
        if self.scheduler is not None:
            await self.scheduler.stop()
        if self.queue is not None:
            await asyncio.to_thread(self.queue.stop, timeout)  # no new queued work; current tasks finish
        await self.runs.stop(timeout)
        await self.engine.close()
        if self._disk_watch is not None:
            self._disk_watch.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._disk_watch
            self._disk_watch = None
        with contextlib.suppress(Exception):  # else the next start's recovery records them
            if self.disk.pending and await self.store.writable():
                await self.disk.record_unsaved(self.store, self._crashed)
        await self.store.close()

    async def _crashed(self, execution_id: str, node: str | None, message: str) -> None:
        await self.recorder.crashed(execution_id, node, message)

    async def _recover(self) -> None:
        """After a crash: "running" executions become "crashed" (retried when asked); queued ones run."""
        cursor = None
        while True:
            page = await self.store.list_executions(status="running", limit=200, cursor=cursor)
            for record in page.data:
                await self.recorder.crashed(record.id, record.last_node,
                                            "the server stopped while this execution was running")
                self.metrics.execution("crashed", record.mode)
                settings = (record.workflow_data or {}).get("settings") or {}
                if settings.get("retryOnCrash") and record.workflow_id and record.mode != "manual":
                    try:
                        await self.runs.retry(await self.store.get_execution(record.id), from_start=True)
                    except FlowboxError as exc:  # a full disk must not stop the start
                        logger.error("crashed execution %s was not retried: %s", record.id, exc.message)
            cursor = page.next_cursor
            if not cursor:
                break
        cursor = None
        while True:
            page = await self.store.list_executions(status="queued", limit=200, cursor=cursor)
            for record in page.data:
                try:
                    self.queue.enqueue(record.id)  # a duplicate is harmless: running it claims it first
                except FlowboxError as exc:  # a full disk must not stop the start: they stay queued
                    logger.error("queued executions could not be put back on the queue (they run at the next "
                                 "start): %s", exc.message)
                    return
            cursor = page.next_cursor
            if not cursor:
                break

    async def ready(self) -> dict[str, bool]:
        """Whether the store and the queue answer, writes work and the disk is above its reserve (/readyz)."""
        store_ok = queue_ok = writes_ok = False
        with contextlib.suppress(Exception):
            await self.store.get_variables()
            store_ok = True
        with contextlib.suppress(Exception):
            writes_ok = await self.store.writable()
        with contextlib.suppress(Exception):
            queue_ok = bool(self.queue is not None and await asyncio.to_thread(self.queue.ping))
        return {"store": store_ok, "writes": writes_ok, "disk": not self.disk.low(), "queue": queue_ok,
                "accepting": self.runs.accepting}
