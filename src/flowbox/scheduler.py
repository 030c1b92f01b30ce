"""The scheduler: schedule triggers (croniter), resuming executions suspended in a Wait, pruning.

One asyncio task on the service's loop. A schedule trigger fires by queueing an
execution (so a slow run never delays or doubles the next fire); each fire time
is computed from the previous fire time, never from "now", so a fire happens once.

Misfire rule (documented in the README): fire times missed while the loop was
late by up to `CATCH_UP` seconds are still fired, once each; older ones (the
server was down, or stalled) are skipped and logged, and the schedule resumes at
its next fire time after now.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from flowbox.errors import FlowboxError, WorkflowInvalid
from flowbox.node import Item

if TYPE_CHECKING:
    from flowbox.services import Services
    from flowbox.workflow import Workflow

logger = logging.getLogger("flowbox.scheduler")
CATCH_UP = 60.0
PRUNE_EVERY = 3600.0
TICK = 1.0


@dataclass
class Entry:
    """One schedule trigger node of an active workflow."""

    workflow_id: str
    node: str
    cron: str | None
    every: float | None
    zone: ZoneInfo
    next: dt.datetime

    def following(self, after: dt.datetime) -> dt.datetime:
        """The first fire time strictly after `after`."""
        if self.every:
            return after + dt.timedelta(seconds=self.every)
        return next_cron(self.cron or "", after, self.zone)


def next_cron(expression: str, after: dt.datetime, zone: ZoneInfo) -> dt.datetime:
    """Next fire of a 5-field cron, or a 6-field one with seconds first, in `zone`, as UTC."""
    from croniter import croniter

    fields = expression.split()
    start = after.astimezone(zone)
    itr = croniter(expression, start, second_at_beginning=len(fields) == 6)
    return itr.get_next(dt.datetime).astimezone(dt.UTC)


def schedule_entries(workflow: Workflow, workflow_id: str, now: dt.datetime) -> list[Entry]:
    """Entries for every enabled schedule node; a bad cron or zone is a WorkflowInvalid naming the node."""
    from croniter import croniter

    entries = []
    for node in workflow.nodes.values():
        if node.type != "schedule" or node.disabled:
            continue
        params = node.parameters
        cron = str(params.get("cron") or "").strip() or None
        every = params.get("every")
        zone_name = str(params.get("timezone") or workflow.timezone)
        try:
            zone = ZoneInfo(zone_name)
        except (ValueError, KeyError, OSError):
            raise WorkflowInvalid(f"node '{node.name}': unknown timezone {zone_name!r}", node=node.name,
                                  field="timezone") from None
        if cron:
            if len(cron.split()) not in (5, 6) or not croniter.is_valid(cron, second_at_beginning=len(
                    cron.split()) == 6):
                raise WorkflowInvalid(f"node '{node.name}': {cron!r} is not a cron expression (5 fields, or 6 "
                                      "with seconds first)", node=node.name, field="cron")
            entry = Entry(workflow_id, node.name, cron, None, zone, now)
        else:
            try:
                seconds = float(every)  # type: ignore[arg-type]
            except (TypeError, ValueError):
                raise WorkflowInvalid(f"node '{node.name}': set `cron` or `every` (seconds)", node=node.name,
                                      field="cron") from None
            if seconds < 1:
                raise WorkflowInvalid(f"node '{node.name}': `every` must be at least 1 second", node=node.name,
                                      field="every")
            entry = Entry(workflow_id, node.name, None, seconds, zone, now)
        entry.next = entry.following(now)
        entries.append(entry)
    return entries


class Scheduler:
    """Fires schedule triggers, resumes due Waits and prunes old executions."""

    def __init__(self, services: Services) -> None:
        self.services = services
        self.entries: dict[tuple[str, str], Entry] = {}
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._resuming: dict[str, float] = {}
        self._last_prune = 0.0

    async def start(self) -> None:
        self._task = asyncio.ensure_future(self._loop())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    def sync(self, workflow_id: str, workflow: Workflow | None) -> None:
        """(Re)register the schedule triggers of an active workflow; None removes them."""
        self.entries = {k: e for k, e in self.entries.items() if e.workflow_id != workflow_id}
        if workflow is not None:
            now = dt.datetime.now(dt.UTC)
            for entry in schedule_entries(workflow, workflow_id, now):
                self.entries[(workflow_id, entry.node)] = entry
        self.wake()

    def wake(self) -> None:
        self._wake.set()

    async def _loop(self) -> None:
        while True:
            try:
                await self._tick()
            except asyncio.CancelledError:
                raise
            except Exception:  # the scheduler must outlive one bad tick
                logger.exception("scheduler tick failed")
            now = dt.datetime.now(dt.UTC)
            soonest = min((e.next for e in self.entries.values()), default=now + dt.timedelta(seconds=TICK))
            delay = max(0.0, min(TICK, (soonest - now).total_seconds()))
            self._wake.clear()
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=delay)

    async def _tick(self) -> None:
        now = dt.datetime.now(dt.UTC)
        for entry in list(self.entries.values()):
            while entry.next <= now:
                fire_at = entry.next
                entry.next = entry.following(fire_at)
                late = (now - fire_at).total_seconds()
                if late > CATCH_UP:
                    logger.warning("schedule %s/%s: skipped the fire of %s (%.0f s late)", entry.workflow_id,
                                   entry.node, fire_at.isoformat(), late)
                    entry.next = entry.following(now)
                    break
                await self._fire(entry, fire_at)
        await self._resume_due(now)
        loop_time = asyncio.get_running_loop().time()
        if loop_time - self._last_prune > PRUNE_EVERY:
            self._last_prune = loop_time
            await self.prune()

    async def _fire(self, entry: Entry, at: dt.datetime) -> None:
        services = self.services
        try:
            record = await services.store.get_workflow(entry.workflow_id)
            workflow, _ = services.compiled(record)
            local = at.astimezone(entry.zone)
            item = Item({"timestamp": local.isoformat(), "timezone": entry.zone.key,
                         "scheduledAt": at.isoformat().replace("+00:00", "Z")})
            await services.enqueue(workflow, [item], mode="trigger", start_node=entry.node)
        except FlowboxError as exc:
            logger.error("schedule %s/%s could not fire: %s", entry.workflow_id, entry.node, exc.message)

    async def _resume_due(self, now: dt.datetime) -> None:
        loop_time = asyncio.get_running_loop().time()
        self._resuming = {k: t for k, t in self._resuming.items() if loop_time - t < 30}
        for record in await self.services.store.list_due(now, limit=200):
            if record.id in self._resuming:
                continue
            self._resuming[record.id] = loop_time
            await asyncio.to_thread(self.services.queue.enqueue, record.id)

    async def prune(self) -> int:
        """Delete finished executions past the configured age or count."""
        settings = self.services.settings
        older = None
        if settings.prune_max_age_days > 0:
            older = dt.datetime.now(dt.UTC) - dt.timedelta(days=settings.prune_max_age_days)
        keep = settings.prune_max_count if settings.prune_max_count > 0 else None
        if older is None and keep is None:
            return 0
        count = await self.services.store.prune_executions(older_than=older, keep=keep)
        if count:
            logger.info("pruned %d old executions", count)
        return count


def describe(entry: Entry) -> dict[str, Any]:
    """An entry as JSON (for the API and the editor)."""
    return {"workflowId": entry.workflow_id, "node": entry.node, "cron": entry.cron, "every": entry.every,
            "timezone": entry.zone.key, "next": entry.next.isoformat().replace("+00:00", "Z")}
