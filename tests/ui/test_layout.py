"""The shared helpers: relative times, durations, status badges, error texts; the frame on every page."""

from __future__ import annotations

import datetime as dt
from typing import Any

from nicegui.testing import User
from support import Harness

from flowbox.errors import NotFound, WorkflowInvalid
from flowbox.ui.layout import (
    STATUS_COLORS,
    ago,
    compact_json,
    duration,
    error_text,
    status_badge_slot,
    status_label,
)

NOW = dt.datetime(2026, 3, 1, 12, 0, tzinfo=dt.UTC)


def test_relative_times() -> None:
    assert ago(None) == "—"
    assert ago(NOW - dt.timedelta(seconds=10), NOW) == "just now"
    assert ago(NOW - dt.timedelta(minutes=5), NOW) == "5 min ago"
    assert ago(NOW - dt.timedelta(hours=3), NOW) == "3 h ago"
    assert ago(NOW - dt.timedelta(hours=30), NOW) == "yesterday"
    assert ago(NOW - dt.timedelta(days=4), NOW) == "4 days ago"
    assert ago(NOW - dt.timedelta(days=90), NOW) == "2025-12-01"
    assert ago(NOW + dt.timedelta(minutes=10), NOW) == "in 10 min"
    assert ago(dt.datetime(2026, 3, 1, 11, 0), NOW) == "1 h ago"  # naive means UTC


def test_durations() -> None:
    assert duration(None, NOW) == "—"
    assert duration(NOW, NOW + dt.timedelta(milliseconds=12)) == "12 ms"
    assert duration(NOW, NOW + dt.timedelta(seconds=3.44)) == "3.4 s"
    assert duration(NOW, NOW + dt.timedelta(seconds=125)) == "2 min 5 s"
    assert duration(NOW, NOW + dt.timedelta(hours=1, minutes=3)) == "1 h 3 min"


def test_statuses_and_errors() -> None:
    assert set(STATUS_COLORS) == {"new", "queued", "running", "waiting", "success", "error", "canceled", "crashed"}
    assert status_label("error") == "Failed" and status_label("odd") == "Odd"
    slot = status_badge_slot()
    for attribute in slot.split(' :')[1:]:  # each bound attribute's value is one double-quoted JS expression
        value = attribute.split('="', 1)[1]
        assert '"' in value and '"' not in value[: value.index('"')], attribute
    assert error_text(WorkflowInvalid("unknown node type 'x'", node="Fetch")) == "node 'Fetch': unknown node type 'x'"
    assert error_text(WorkflowInvalid("node 'Fetch' has no type", node="Fetch")) == "node 'Fetch' has no type"
    assert error_text(NotFound("workflow", "w1")) == "workflow 'w1' not found"
    assert compact_json({"a": [1, 2]}) == '{"a": [1, 2]}' and compact_json("x" * 100, 10) == "x" * 9 + "…"


def test_every_page_has_the_frame_and_highlights_where_it_is(simulate: Any) -> None:
    async def scenario(user: User, services: Harness) -> None:
        for path in ("/", "/executions", "/settings"):
            await user.open(path)
            await user.should_see("flowbox")
            for label in ("Workflows", "Executions", "Settings", "API docs"):
                await user.should_see(label)
            from nicegui import ui

            here = [b.text for b in user.find(kind=ui.button).elements if "bg-slate-700" in b.classes]
            assert here == [{"/": "Workflows", "/executions": "Executions", "/settings": "Settings"}[path]]

    simulate(scenario)
