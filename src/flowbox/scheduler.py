"""The scheduler: schedule triggers (croniter), resuming executions suspended in a Wait, pruning.

One asyncio task on the service's loop (the server's; `flowbox worker` runs none).
A schedule trigger fires by queueing an execution, so a slow run never delays,
skips or doubles the next fire; each fire time is computed from the previous fire
time, never from "now", so every fire time is fired once, with its own
`scheduledAt` in the trigger item.

Cron: 5 fields, or 6 with seconds first, or a croniter macro (`@hourly`, `@daily`...),
evaluated in the node's `timezone` (default: the workflow's). Across DST changes it
follows classic cron: a fire time in the skipped hour (spring forward) fires once, at
the first moment after the gap; in the repeated hour (fall back) a cron with a fixed
hour fires only the first time round, while one whose hour field is a wildcard
(`*`, `*/2`, ...) fires in both (it means "every hour", and there are two).
`every` N seconds fires N seconds after activation, then every N seconds.

Misfire rule (documented in the README):
- while the server runs, a fire time the loop reaches late (an event-loop stall,
  a suspended machine, a clock step) still fires, once, when it is at most
  `CATCH_UP` (60 s) late; older fire times are skipped and logged;
- fire times that fell while the server was down are not run: after a start, and
  after a workflow is activated, every schedule begins at its next fire time after
  now (as n8n does). Saving an active workflow whose schedule did not change keeps
  its next fire time.

Pruning (FLOWBOX_PRUNE_MAX_COUNT, FLOWBOX_PRUNE_MAX_AGE_DAYS) runs all the time, in a task
of its own beside the schedule loop: every `PRUNE_PAUSE` seconds a round deletes what the
settings no longer keep, in short writes (`Store.prune_executions`: ~256 KB of data each) with
a gap between them (`PRUNE_GAP`, 10 ms), so that webhook writes never wait long; a round that
cannot clear its backlog so within 10 s drops the gap and grows its writes (see
`SqlStore.prune_executions`). So the history holds at most what the settings keep plus what
arrives in a round: about a second, up to ~10 s when executions come in faster than gentle
pruning deletes them. After the deletes, the
space they freed goes back to the file system in short steps (`Store.release_space`:
SQLite's incremental vacuum; all of it while the disk is below its reserve), so the
database file shrinks with the history.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import math
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from flowbox.errors import FlowboxError, NotFound, WorkflowInvalid
from flowbox.node import Item
from flowbox.workflow import Workflow

logger = logging.getLogger("flowbox.scheduler")
CATCH_UP = 60.0
TICK = 1.0
PRUNE_PAUSE = 1.0  # seconds from the start of one prune round to the next
PRUNE_GAP = 0.01  # seconds between the writes of a prune round that keeps up
STEP_GAP = 0.02  # seconds between steps of giving space back (~2 ms each): at most ~10 % of the writer
PRUNE_LOG_EVERY = 60.0  # seconds between "pruned N executions" log lines


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

    def first_at_or_after(self, moment: dt.datetime) -> dt.datetime:
        """The first fire time of this entry's series (continuing from `next`) at or after `moment`."""
        if self.every:
            if self.next >= moment:
                return self.next
            steps = math.ceil((moment - self.next).total_seconds() / self.every)
            return self.next + dt.timedelta(seconds=steps * self.every)
        return next_cron(self.cron or "", moment - dt.timedelta(microseconds=1), self.zone)

    def same_schedule(self, other: Entry) -> bool:
        return (self.cron, self.every, self.zone.key) == (other.cron, other.every, other.zone.key)


def _cron_fields(expression: str) -> list[str]:
    return expression.split()


def _fixed_hour(expression: str) -> bool:
    """Whether a cron names its hours (then the repeated hour of a DST fall-back fires only once)."""
    fields = _cron_fields(expression)
    if len(fields) == 1:  # @hourly fires every hour; @daily & co. at midnight
        return fields[0].lower() not in ("@hourly",)
    hour = fields[2] if len(fields) == 6 else fields[1]
    return not hour.startswith("*")


def next_cron(expression: str, after: dt.datetime, zone: ZoneInfo) -> dt.datetime:
    """Next fire of a 5-field cron, or a 6-field one with seconds first, in `zone`, as UTC."""
    from croniter import croniter

    fields = _cron_fields(expression)
    itr = croniter(expression, after.astimezone(zone), second_at_beginning=len(fields) == 6)
    fixed = None
    for _ in range(1000):
        moment = itr.get_next(dt.datetime).astimezone(dt.UTC)
        local = moment.astimezone(zone)
        if local.fold == 1 and local.replace(fold=0).utcoffset() != local.utcoffset():
            # the second pass through a repeated (fall-back) hour
            if fixed is None:
                fixed = _fixed_hour(expression)
            if fixed:
                continue
        return moment
    raise WorkflowInvalid(f"cron {expression!r} has no next fire time")


def valid_cron(expression: str) -> bool:
    from croniter import croniter

    fields = _cron_fields(expression)
    if len(fields) == 1:
        return fields[0].startswith("@") and croniter.is_valid(fields[0])
    return len(fields) in (5, 6) and croniter.is_valid(expression, second_at_beginning=len(fields) == 6)


def schedule_entries(workflow: Workflow, workflow_id: str, now: dt.datetime) -> list[Entry]:
    """Entries for every enabled timer trigger (its `timer()` says when); a bad cron or zone is a
    WorkflowInvalid naming the node."""
    from flowbox import registry

    entries = []
    for node in workflow.nodes.values():
        spec = registry.get_or_none(node.type)
        if spec is None or spec.timer is None or node.disabled:
            continue
        when = spec.timer(node, workflow.timezone)
        try:
            zone = ZoneInfo(when.timezone)
        except (ValueError, KeyError, OSError):
            raise WorkflowInvalid(f"node '{node.name}': unknown timezone {when.timezone!r}", node=node.name,
                                  field="timezone") from None
        if when.cron:
            if not valid_cron(when.cron):
                raise WorkflowInvalid(f"node '{node.name}': {when.cron!r} is not a cron expression (5 fields, or 6 "
                                      "with seconds first)", node=node.name, field="cron")
            entry = Entry(workflow_id, node.name, " ".join(when.cron.split()), None, zone, now)
        else:
            try:
                seconds = float(when.every)  # type: ignore[arg-type]
            except (TypeError, ValueError):
                raise WorkflowInvalid(f"node '{node.name}': set `cron` or `every` (seconds)", node=node.name,
                                      field="cron") from None
            if not math.isfinite(seconds) or seconds < 1:
                raise WorkflowInvalid(f"node '{node.name}': `every` must be at least 1 second", node=node.name,
                                      field="every")
            entry = Entry(workflow_id, node.name, None, seconds, zone, now)
        entry.next = entry.following(now)
        entries.append(entry)
    return entries


class Scheduler:
    """Fires schedule triggers, resumes due Waits and prunes old executions."""

    def __init__(self, settings: Any, store: Any, disk: Any, compiled: Callable[[Any], tuple[Workflow, Any]],
                 enqueue: Callable[..., Awaitable[Any]], resume: Callable[[str], None]) -> None:
        """`compiled(record)` loads a stored workflow (`Workflows.compiled`), `enqueue(workflow, items, mode=,
        start_node=)` queues a run (`Runs.enqueue`), `resume(id)` puts a due Wait's execution on the queue."""
        self.settings = settings
        self.store = store
        self.disk = disk
        self.compiled = compiled
        self.enqueue = enqueue
        self.resume = resume
        self.entries: dict[tuple[str, str], Entry] = {}
        self.fired = 0
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._prune_task: asyncio.Task[None] | None = None
        self._resuming: dict[str, float] = {}
        self.pruned = 0  # executions this scheduler pruned
        self.released = 0  # bytes it gave back to the file system


    async def start(self) -> None:
        if self._task is None or self._task.done():
            self._task = asyncio.ensure_future(self._loop())
        if self._prune_task is None or self._prune_task.done():
            self._prune_task = asyncio.ensure_future(self._housekeeping())

    async def stop(self) -> None:
        for task in (self._task, self._prune_task):
            if task is not None and not task.done():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
        self._task = self._prune_task = None

    def sync(self, workflow_id: str, workflow: Workflow | None) -> None:
        """(Re)register the schedule triggers of an active workflow; None removes them.

        An entry whose schedule did not change keeps its next fire time (saving a workflow
        never skips or repeats a fire); a new or changed one starts at its next fire after now.
        """
        old = {k: e for k, e in self.entries.items() if e.workflow_id == workflow_id}
        new: dict[tuple[str, str], Entry] = {}
        if workflow is not None:
            now = dt.datetime.now(dt.UTC)
            for entry in schedule_entries(workflow, workflow_id, now):  # raises before anything changes
                key = (workflow_id, entry.node)
                previous = old.get(key)
                new[key] = previous if previous is not None and previous.same_schedule(entry) else entry
        for key in old:
            del self.entries[key]
        self.entries.update(new)
        self.wake()

    def wake(self) -> None:
        self._wake.set()

    def next_delay(self, now: dt.datetime) -> float:
        soonest = min((e.next for e in self.entries.values()), default=now + dt.timedelta(seconds=TICK))
        return max(0.0, min(TICK, (soonest - now).total_seconds()))

    async def _loop(self) -> None:
        while True:
            self._wake.clear()
            try:
                await self._tick()
            except asyncio.CancelledError:
                raise
            except Exception:  # the scheduler must outlive one bad tick
                logger.exception("scheduler tick failed")
            delay = self.next_delay(dt.datetime.now(dt.UTC))
            if delay > 0:
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), timeout=delay)

    def due(self, now: dt.datetime) -> list[tuple[Entry, dt.datetime]]:
        """Advance every entry past `now`; the (entry, fire time) pairs to fire, oldest first.

        Fire times more than CATCH_UP seconds before `now` are skipped (and logged).
        """
        fires: list[tuple[Entry, dt.datetime]] = []
        cutoff = now - dt.timedelta(seconds=CATCH_UP)
        for entry in list(self.entries.values()):
            if entry.next < cutoff:
                resume = entry.first_at_or_after(cutoff)
                logger.warning("schedule %s/%s: skipped fire times from %s to before %s (more than %.0f s late)",
                               entry.workflow_id, entry.node, _iso(entry.next), _iso(resume), CATCH_UP)
                entry.next = resume
            while entry.next <= now:
                fires.append((entry, entry.next))
                entry.next = entry.following(entry.next)
        fires.sort(key=lambda pair: pair[1])
        return fires

    async def _tick(self) -> None:
        now = dt.datetime.now(dt.UTC)
        for entry, at in self.due(now):
            if self.entries.get((entry.workflow_id, entry.node)) is entry:  # not removed meanwhile
                await self._fire(entry, at)
        await self._resume_due(now)

    async def _fire(self, entry: Entry, at: dt.datetime) -> None:
        try:
            record = await self.store.get_workflow(entry.workflow_id)
            if not record.active:  # deactivated behind our back (another process): forget it
                self.sync(entry.workflow_id, None)
                return
            workflow, _ = self.compiled(record)
            local = at.astimezone(entry.zone)
            item = Item({"timestamp": local.isoformat(), "timezone": entry.zone.key, "scheduledAt": _iso(at)})
            await self.enqueue(workflow, [item], mode="trigger", start_node=entry.node)
            self.fired += 1
        except NotFound:
            self.sync(entry.workflow_id, None)
        except FlowboxError as exc:
            logger.error("schedule %s/%s could not fire at %s: %s", entry.workflow_id, entry.node, _iso(at),
                         exc.message)

    async def _resume_due(self, now: dt.datetime) -> None:
        loop_time = asyncio.get_running_loop().time()
        self._resuming = {k: t for k, t in self._resuming.items() if loop_time - t < 30}
        for record in await self.store.list_due(now, limit=200):
            if record.id in self._resuming:
                continue
            self._resuming[record.id] = loop_time
            await asyncio.to_thread(self.resume, record.id)

    async def _housekeeping(self) -> None:
        """Every PRUNE_PAUSE seconds until cancelled: a prune round, then free space given back in short
        steps until none is left or the next round is due (see the module docstring)."""
        loop = asyncio.get_running_loop()
        logged, reported = loop.time() - PRUNE_LOG_EVERY, 0  # the first round is logged at once
        while True:
            started = loop.time()
            try:
                await self.prune(gap=PRUNE_GAP)
                while loop.time() - started < PRUNE_PAUSE and await self.release_space():
                    await asyncio.sleep(STEP_GAP)
            except asyncio.CancelledError:
                raise
            except Exception:  # a failed round (a full disk, a lost connection) is tried again next time
                logger.exception("pruning executions failed")
            if self.pruned > reported and loop.time() - logged > PRUNE_LOG_EVERY:
                logger.info("pruned %d old executions", self.pruned - reported)
                logged, reported = loop.time(), self.pruned
            await asyncio.sleep(max(0.0, PRUNE_PAUSE - (loop.time() - started)))

    async def release_space(self) -> int:
        """One step of giving the space deletes freed back to the file system; the bytes released."""
        low = self.disk.low()  # below the reserve: every free page goes back
        released = await self.store.release_space(keep_free=0 if low else None)
        self.released += released
        return released

    async def prune(self, gap: float = 0.0) -> int:
        """Delete finished executions past the configured age or count (`gap` seconds between writes)."""
        settings = self.settings
        older = None
        if settings.prune_max_age_days > 0:
            older = dt.datetime.now(dt.UTC) - dt.timedelta(days=settings.prune_max_age_days)
        keep = settings.prune_max_count if settings.prune_max_count > 0 else None
        if older is None and keep is None:
            return 0
        count = await self.store.prune_executions(older_than=older, keep=keep, gap=gap)
        self.pruned += count
        return count


def _iso(moment: dt.datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def describe(entry: Entry) -> dict[str, Any]:
    """An entry as JSON (for the API and the editor)."""
    return {"workflowId": entry.workflow_id, "node": entry.node, "cron": entry.cron, "every": entry.every,
            "timezone": entry.zone.key, "next": _iso(entry.next)}
