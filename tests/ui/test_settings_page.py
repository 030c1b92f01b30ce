"""Settings: variables (add, validate, edit, delete) and the server summary."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from nicegui import ui
from nicegui.testing import User
from support import Harness

from flowbox.settings import Settings
from flowbox.ui.settings_page import database_summary, name_problem, server_summary

from .test_workflows_page import until


def test_variables_are_added_validated_edited_and_deleted(simulate: Any) -> None:
    async def setup(services: Harness) -> None:
        await services.set_variable("API_URL", "https://example.com")

    async def scenario(user: User, services: Harness) -> None:
        await user.open("/settings")
        await user.should_see("API_URL")
        await user.should_see("https://example.com")

        name = next(iter(user.find(marker="new-name").elements))
        user.find(marker="new-name").type("1st")
        user.find(marker="new-value").type("x")
        user.find(marker="add-variable").click()
        await until(lambda: _true(name.error is not None))
        assert "not starting with a digit" in name.error  # type: ignore[operator]
        user.find(marker="new-name").clear().type("API_URL")
        user.find(marker="add-variable").click()
        await until(lambda: _true("exists already" in (name.error or "")))
        assert await services.get_variables() == {"API_URL": "https://example.com"}

        user.find(marker="new-name").clear().type("TEAM")
        user.find(marker="new-value").clear().type("ops")
        user.find(marker="add-variable").click()
        await user.should_see(marker="variable-TEAM")
        assert await services.get_variables() == {"API_URL": "https://example.com", "TEAM": "ops"}
        assert name.value == "" and name.error is None

        user.find(marker="edit-TEAM").click()
        await user.should_see("Edit TEAM")
        user.find(marker="edit-value").clear().type("platform")
        user.find(marker="edit-save").click()
        await until(lambda: _value(services, "TEAM", "platform"))
        await user.should_see("platform")

        user.find(marker="delete-API_URL").click()
        await user.should_see("Delete variable?")
        user.find(marker="confirm-ok").click()
        await user.should_see("Deleted API_URL")
        await user.should_not_see(marker="variable-API_URL")
        assert await services.get_variables() == {"TEAM": "platform"}

    simulate(scenario, setup=setup)


async def _true(value: bool) -> bool:
    return value


async def _value(services: Harness, key: str, value: str) -> bool:
    return (await services.get_variables()).get(key) == value


def test_server_settings_are_summarised(simulate: Any) -> None:
    async def scenario(user: User, services: Harness) -> None:
        await user.open("/settings")
        await user.should_see("No variables yet.")
        await user.should_see("Data directory")
        await user.should_see(str(services.settings.data_dir))
        await user.should_see(kind=ui.label, content="SQLite")
        await user.should_see("embedded (SQLite")
        await user.should_see("1 executions at once")

    simulate(scenario)


def test_names_and_summaries_without_a_page(tmp_path: Path) -> None:
    assert name_problem("GOOD_name1") is None
    assert name_problem("") == "Give the variable a name"
    assert "Letters" in (name_problem("has space") or "")
    assert "exists" in (name_problem("A", {"A"}) or "")
    assert database_summary("sqlite:////data/flowbox.db") == ("SQLite", "/data/flowbox.db")
    kind, where = database_summary("postgresql://flow:s3cret@db.internal:5433/flowbox")
    assert (kind, where) == ("PostgreSQL", "db.internal:5433/flowbox") and "s3cret" not in where
    settings = Settings(data_dir=tmp_path, database_url="postgresql://u:pw@db/flowbox",
                        redis_url="redis://:pw@cache:6380/0", workers=8, prune_max_age_days=0)
    rows = dict(server_summary(settings))
    assert rows["Queue"] == "Redis at cache:6380 (queue 'flowbox')"
    assert rows["Runs executions"] == "`flowbox worker` processes"
    assert rows["Workers"] == "8 executions at once"
    assert rows["Pruning"] == "deletes executions beyond the newest 10,000"
    assert "pw" not in " ".join(rows.values())
