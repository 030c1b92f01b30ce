"""Schedules: cron with seconds, `every`, timezones and DST, the misfire rule, re-sync on change, pruning.

The firing tests run a real `flowbox serve` and read the executions from its SQLite file;
the rest are unit tests on `flowbox.scheduler` (with a real SqliteStore for pruning).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from support import node, workflow

from flowbox.errors import WorkflowInvalid
from flowbox.scheduler import CATCH_UP, Entry, Scheduler, next_cron, schedule_entries
from flowbox.workflow import load_workflow

from .test_queue import CLEAN_EXIT, import_workflow, query

UTC = dt.UTC


def at(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))


def fires(expression: str, after: str, zone: str, n: int) -> list[str]:
    out, moment = [], at(after)
    for _ in range(n):
        moment = next_cron(expression, moment, ZoneInfo(zone))
        out.append(moment.isoformat().replace("+00:00", "Z"))
    return out


def schedule_wf(*params: dict[str, Any], settings: dict[str, Any] | None = None, name: str = "sched") -> Any:
    nodes = [node(f"S{i}", "schedule", **p) for i, p in enumerate(params)]
    return load_workflow(workflow(*nodes, name=name, settings=settings, connections={}), id="wf1")


# ---------------------------------------------------------------- cron arithmetic


def test_cron_in_a_timezone() -> None:
    # 09:00 in Berlin is 07:00 UTC in summer (CEST) and 08:00 UTC in winter (CET)
    assert fires("0 9 * * *", "2025-06-01T12:00:00Z", "Europe/Berlin", 2) == [
        "2025-06-02T07:00:00Z", "2025-06-03T07:00:00Z"]
    assert fires("0 9 * * *", "2025-12-01T12:00:00Z", "Europe/Berlin", 1) == ["2025-12-02T08:00:00Z"]
    # weekdays at 08:30 in New York, from a Friday evening UTC (still Friday afternoon there)
    assert fires("30 8 * * 1-5", "2025-01-10T20:00:00Z", "America/New_York", 2) == [
        "2025-01-13T13:30:00Z", "2025-01-14T13:30:00Z"]
    # a day boundary that differs from UTC's: midnight in Tokyo is 15:00 UTC the day before
    assert fires("0 0 * * *", "2025-03-01T00:00:00Z", "Asia/Tokyo", 1) == ["2025-03-01T15:00:00Z"]


def test_cron_with_seconds_and_macros() -> None:
    assert fires("*/15 * * * * *", "2025-03-01T10:00:07Z", "UTC", 3) == [
        "2025-03-01T10:00:15Z", "2025-03-01T10:00:30Z", "2025-03-01T10:00:45Z"]
    assert fires("* * * * * *", "2025-03-01T10:00:00.5Z", "UTC", 2) == ["2025-03-01T10:00:01Z",
                                                                         "2025-03-01T10:00:02Z"]
    assert fires("@hourly", "2025-03-01T10:20:00Z", "UTC", 1) == ["2025-03-01T11:00:00Z"]
    assert fires("@daily", "2025-03-01T10:20:00Z", "Europe/Berlin", 1) == ["2025-03-01T23:00:00Z"]


def test_cron_across_dst_changes() -> None:
    berlin = "Europe/Berlin"
    # spring forward (02:00 -> 03:00 on 2025-03-30): 02:30 does not exist, it fires once right after the gap
    assert fires("30 2 * * *", "2025-03-29T12:00:00Z", berlin, 2) == ["2025-03-30T01:00:00Z",
                                                                      "2025-03-31T00:30:00Z"]
    # fall back (03:00 -> 02:00 on 2025-10-26): a fixed 02:30 fires once, not in both passes
    assert fires("30 2 * * *", "2025-10-25T12:00:00Z", berlin, 2) == ["2025-10-26T00:30:00Z",
                                                                      "2025-10-27T01:30:00Z"]
    assert fires("0 2 * * *", "2025-10-26T00:30:00Z", berlin, 1) == ["2025-10-27T01:00:00Z"]
    # ... while an hourly one fires every real hour, twice at local 02:30
    assert fires("30 * * * *", "2025-10-25T23:00:00Z", berlin, 4) == [
        "2025-10-25T23:30:00Z", "2025-10-26T00:30:00Z", "2025-10-26T01:30:00Z", "2025-10-26T02:30:00Z"]
    # and a per-second one never stops or repeats a second across the change
    seconds = fires("* * * * * *", "2025-10-26T00:59:58Z", berlin, 4)
    assert seconds == ["2025-10-26T00:59:59Z", "2025-10-26T01:00:00Z", "2025-10-26T01:00:01Z",
                       "2025-10-26T01:00:02Z"]


def test_schedule_entries_validate_and_start_after_now() -> None:
    now = at("2025-06-01T10:00:00.250Z")
    wf = schedule_wf({"cron": "0 9 * * *", "timezone": "America/New_York"}, {"every": 2},
                     {"cron": "0 9 * * *"}, settings={"timezone": "Europe/Berlin"})
    entries = {e.node: e for e in schedule_entries(wf, "wf1", now)}
    assert entries["S0"].next == at("2025-06-01T13:00:00Z")
    assert entries["S1"].next == at("2025-06-01T10:00:02.250Z")
    assert entries["S2"].zone.key == "Europe/Berlin" and entries["S2"].next == at("2025-06-02T07:00:00Z")

    for params, field in (({"cron": "61 * * * *"}, "cron"), ({"cron": "* * *"}, "cron"),
                          ({"every": 0.5}, "every"), ({}, "cron"),
                          ({"cron": "* * * * *", "timezone": "Mars/Olympus"}, "timezone")):
        with pytest.raises(WorkflowInvalid) as info:
            schedule_entries(schedule_wf(params), "wf1", now)
        assert info.value.node == "S0" and info.value.field == field, (params, info.value.message)


# ---------------------------------------------------------------- fire / skip / catch-up


def scheduler_with(*entries: Entry) -> Scheduler:
    scheduler = Scheduler(*(None,) * 6)  # type: ignore[arg-type]  # due() and sync() need nothing else
    for entry in entries:
        scheduler.entries[(entry.workflow_id, entry.node)] = entry
    return scheduler


def test_due_fires_each_time_once_and_catches_up_within_the_window() -> None:
    utc = ZoneInfo("UTC")
    start = at("2025-06-01T10:00:00Z")
    every = Entry("a", "S", None, 2.0, utc, start + dt.timedelta(seconds=2))
    cron = Entry("b", "S", "* * * * * *", None, utc, start + dt.timedelta(seconds=1))
    scheduler = scheduler_with(every, cron)

    assert scheduler.due(start + dt.timedelta(seconds=0.5)) == []
    # the loop wakes 10 s late (a stall): every missed second fires once, in order, then nothing twice
    due = scheduler.due(start + dt.timedelta(seconds=10.3))
    assert [(e.workflow_id, t.second) for e, t in due if e is cron] == [("b", s) for s in range(1, 11)]
    assert [t.second for e, t in due if e is every] == [2, 4, 6, 8, 10]
    assert [t for _, t in due] == sorted(t for _, t in due)
    assert scheduler.due(start + dt.timedelta(seconds=10.9)) == []
    assert cron.next == start + dt.timedelta(seconds=11) and every.next == start + dt.timedelta(seconds=12)


def test_due_skips_fire_times_older_than_catch_up() -> None:
    utc = ZoneInfo("UTC")
    start = at("2025-06-01T10:00:00Z")
    every = Entry("a", "S", None, 7.0, utc, start)
    cron = Entry("b", "S", "0 * * * * *", None, utc, start)  # every minute, at second 0
    scheduler = scheduler_with(every, cron)
    now = start + dt.timedelta(seconds=3600 + 0.5)  # an hour asleep
    due = scheduler.due(now)
    cutoff = now - dt.timedelta(seconds=CATCH_UP)
    assert all(cutoff <= t <= now for _, t in due)
    # within the window each fire time still fires once, on the entry's own grid
    assert [t for e, t in due if e is cron] == [start + dt.timedelta(hours=1)]
    every_times = [t for e, t in due if e is every]
    assert len(every_times) == 9 and all((t - start).total_seconds() % 7 == 0 for t in every_times)
    assert scheduler.due(now) == []


def test_sync_keeps_next_fire_of_unchanged_schedules_and_drops_removed_ones() -> None:
    scheduler = scheduler_with()
    scheduler.sync("wf1", schedule_wf({"cron": "0 9 * * *"}, {"every": 30}))
    first = dict(scheduler.entries)
    assert set(first) == {("wf1", "S0"), ("wf1", "S1")}
    time.sleep(0.01)
    # saved again, S0 unchanged, S1 changed: S0 keeps its entry (and next fire), S1 starts afresh
    scheduler.sync("wf1", schedule_wf({"cron": "0 9 * * *"}, {"every": 60}))
    assert scheduler.entries[("wf1", "S0")] is first[("wf1", "S0")]
    assert scheduler.entries[("wf1", "S1")].every == 60
    # a bad version changes nothing
    with pytest.raises(WorkflowInvalid):
        scheduler.sync("wf1", schedule_wf({"cron": "nope"}))
    assert set(scheduler.entries) == {("wf1", "S0"), ("wf1", "S1")}
    scheduler.sync("wf2", schedule_wf({"every": 5}))
    scheduler.sync("wf1", None)  # deactivated
    assert set(scheduler.entries) == {("wf2", "S0")}


# ---------------------------------------------------------------- pruning


def test_prune_by_count_and_age(tmp_path: Path) -> None:
    from flowbox.settings import Settings
    from flowbox.store.sqlite import SqliteStore

    async def main() -> tuple[int, list[str], int]:
        store = SqliteStore(tmp_path / "flowbox.db")
        await store.open()
        try:
            ids = []
            for i in range(12):
                record = await store.create_execution(workflow_id="w", mode="trigger", status="queued")
                if i != 0:  # the oldest stays queued: unfinished executions are never pruned
                    await store.finish_execution(record.id, "success" if i % 2 else "error")
                ids.append(record.id)
            settings = Settings.load(tmp_path, prune_max_count=5, prune_max_age_days=0)
            count = await Scheduler(settings, store, None, None, None, None).prune()  # type: ignore[arg-type]
            left = [r.id for r in (await store.list_executions(limit=100)).data]
            settings = Settings.load(tmp_path, prune_max_count=0, prune_max_age_days=1e-9)
            time.sleep(0.01)
            by_age = await Scheduler(settings, store, None, None, None, None).prune()  # type: ignore[arg-type]
            return count, left, by_age
        finally:
            await store.close()

    count, left, by_age = asyncio.run(main())
    assert count == 6
    assert len(left) == 6  # the newest 5, plus the old queued one
    assert by_age == 5


# ---------------------------------------------------------------- a real server


def trigger_fires(srv: Any, workflow_id: str) -> list[dt.datetime]:
    rows = query(srv, "SELECT input FROM executions WHERE workflow_id = ? AND mode = 'trigger'", (workflow_id,))
    return sorted(at(json.loads(row[0])[0]["json"]["scheduledAt"]) for row in rows)


def test_schedules_fire_on_time_once_each(make_server: Any) -> None:
    srv = make_server()
    every_second = import_workflow(srv, workflow(node("Tick", "schedule", cron="* * * * * *"),
                                                 node("Noop", "noOp"), name="seconds"))
    every_two = import_workflow(srv, workflow(node("Tick", "schedule", every=2), node("Noop", "noOp"),
                                              name="two"))
    srv.start()
    started = dt.datetime.now(UTC)
    time.sleep(5.2)
    with srv.client() as client:
        res = client.post(f"/api/v1/workflows/{every_second}/deactivate")
        assert res.status_code == 200, res.text
        stopped = dt.datetime.now(UTC)
        time.sleep(1.5)
        assert srv.stop() in CLEAN_EXIT

    seconds = trigger_fires(srv, every_second)
    in_window = [t for t in seconds if started <= t <= started + dt.timedelta(seconds=5)]
    assert 4 <= len(in_window) <= 6, seconds
    assert len(set(seconds)) == len(seconds), f"a second fired twice: {seconds}"
    assert all(t.microsecond == 0 for t in seconds)
    assert all((b - a).total_seconds() == 1 for a, b in zip(seconds, seconds[1:], strict=False)), seconds
    assert all(t <= stopped for t in seconds), f"fired after deactivation at {stopped}: {seconds}"

    twos = trigger_fires(srv, every_two)
    assert 2 <= len(twos) <= 4, twos
    assert all((b - a).total_seconds() == 2 for a, b in zip(twos, twos[1:], strict=False)), twos
    counts = dict(query(srv, "SELECT status, count(*) FROM executions GROUP BY status"))
    # a fire enqueued as the server stopped may stay queued (it runs at the next start)
    assert set(counts) <= {"success", "queued"} and counts.get("queued", 0) <= 1, counts
    assert sum(counts.values()) == len(seconds) + len(twos)


def test_server_prunes_at_start(make_server: Any) -> None:
    srv = make_server({"FLOWBOX_PRUNE_MAX_COUNT": "5"})
    wid = import_workflow(srv, workflow(node("Hook", "webhook", path="p", method="POST", respond="lastNode"),
                                        node("Noop", "noOp"), name="prune"))
    srv.start()
    with srv.client() as client:
        for _ in range(12):
            assert client.post("/webhook/p", json={}).status_code == 200
    srv.stop()
    assert query(srv, "SELECT count(*) FROM executions WHERE workflow_id = ?", (wid,)) == [(12,)]
    newest = query(srv, "SELECT id FROM executions ORDER BY id DESC LIMIT 5")
    srv.start()
    deadline = time.monotonic() + 5
    while query(srv, "SELECT count(*) FROM executions") != [(5,)] and time.monotonic() < deadline:
        time.sleep(0.05)
    assert query(srv, "SELECT id FROM executions ORDER BY id DESC") == newest


def test_a_running_server_prunes_all_the_time_and_the_file_shrinks(make_server: Any) -> None:
    """No restart and no hourly wait: what the prune settings no longer keep goes within seconds, and the
    database file (with its WAL) gives the space back."""
    srv = make_server({"FLOWBOX_PRUNE_MAX_COUNT": "3"})
    import_workflow(srv, workflow(node("Hook", "webhook", path="p", method="POST", respond="lastNode"),
                                  node("Noop", "noOp"), name="prune"))
    srv.start()
    db = srv.data_dir / "flowbox.db"

    def on_disk() -> int:
        return sum(p.stat().st_size for p in (db, Path(f"{db}-wal")) if p.exists())

    with srv.client() as client:
        for _ in range(60):  # ~200 KB each (input, Hook, Noop): ~12 MB
            assert client.post("/webhook/p", json={"pad": "x" * 70_000}).status_code == 200
    peak = on_disk()
    assert peak > 10_000_000
    deadline = time.monotonic() + 20
    while (query(srv, "SELECT count(*) FROM executions") != [(3,)] or on_disk() > peak // 2) \
            and time.monotonic() < deadline:
        time.sleep(0.1)
    assert query(srv, "SELECT count(*) FROM executions") == [(3,)]
    assert on_disk() < peak // 2, f"{on_disk()} bytes on disk of {peak} at the peak"
