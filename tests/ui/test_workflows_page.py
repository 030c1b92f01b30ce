"""The workflow list: search, create, rename, duplicate, delete, activate, import, export."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from nicegui import ui
from nicegui.elements.upload_files import SmallFileUpload
from nicegui.testing import User
from support import Harness, node, workflow

from flowbox.ui.pages import export_filename, parse_import, unique_name


async def until(check: Any, timeout: float = 3.0) -> None:
    """Wait for an event handler's work (they run as tasks) to show in the services."""
    for _ in range(int(timeout / 0.02)):
        if await check():
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"condition not met within {timeout} s")


async def names(services: Harness) -> list[str]:
    return sorted(w.name for w in (await services.list_workflows()).data)


def test_lists_workflows_with_their_last_run_and_searches(simulate: Any) -> None:
    async def setup(services: Harness) -> None:
        a = await services.create_workflow(workflow(node("Start", "manualTrigger"), name="Invoice mailer"))
        await services.create_workflow(workflow(node("Start", "manualTrigger"), name="Lead sync"))
        await services.run_workflow(a.id, [{"x": 1}])

    async def scenario(user: User, services: Harness) -> None:
        await user.open("/")
        await user.should_see("Invoice mailer")
        await user.should_see("Lead sync")
        await user.should_see("Succeeded")
        await user.should_see("Never run")
        await user.should_see("2 workflows")
        user.find(marker="search").type("lead")
        await user.should_not_see("Invoice mailer")
        await user.should_see("Lead sync")
        user.find(marker="search").clear().type("nothing like it")
        await user.should_see("No workflow matches")

    simulate(scenario, setup=setup)


def test_empty_list_and_create_opens_the_editor(simulate: Any) -> None:
    async def scenario(user: User, services: Harness) -> None:
        await user.open("/")
        await user.should_see("No workflows yet")
        user.find(marker="create").click()
        await user.should_see("editor of")
        created = (await services.list_workflows()).data
        assert [w.name for w in created] == ["My workflow"]
        assert user.back_history[-1] == f"/workflow/{created[0].id}"
        assert [n["type"] for n in created[0].data["nodes"]] == ["manualTrigger"]
        await user.open("/")
        user.find(marker="create").click()
        await until(lambda: _has(services, "My workflow 2"))

    simulate(scenario)


async def _has(services: Harness, name: str) -> bool:
    return name in await names(services)


def test_rename_duplicate_and_delete(simulate: Any) -> None:
    ids: dict[str, str] = {}

    async def setup(services: Harness) -> None:
        ids["a"] = (await services.create_workflow(workflow(node("Start", "manualTrigger"), name="Invoice mailer"))).id

    async def scenario(user: User, services: Harness) -> None:
        wid = ids["a"]
        await user.open("/")
        user.find(marker=f"rename-{wid}").click()
        await user.should_see("Rename workflow")
        user.find(marker="prompt-value").clear().type("Invoice sender")
        user.find(marker="prompt-ok").click()
        await until(lambda: _has(services, "Invoice sender"))
        await user.should_see(kind=ui.label, content="Invoice sender")

        user.find(marker=f"duplicate-{wid}").click()
        await user.should_see("Invoice sender copy")
        await until(lambda: _has(services, "Invoice sender copy"))
        assert await names(services) == ["Invoice sender", "Invoice sender copy"]

        user.find(marker=f"delete-{wid}").click()
        await user.should_see("Delete workflow?")
        user.find(marker="confirm-cancel").click()
        await user.should_not_see("Delete workflow?")
        assert len(await names(services)) == 2
        user.find(marker=f"delete-{wid}").click()
        await user.should_see("Delete workflow?")
        user.find(marker="confirm-ok").click()
        await user.should_see("Deleted 'Invoice sender'")
        assert await names(services) == ["Invoice sender copy"]
        await user.should_not_see(marker=f"workflow-{wid}")

    simulate(scenario, setup=setup)


def test_activation_errors_are_shown_and_the_switch_goes_back(simulate: Any) -> None:
    ids: dict[str, str] = {}

    async def setup(services: Harness) -> None:
        ids["manual"] = (await services.create_workflow(workflow(node("Start", "manualTrigger"), name="Manual only"))).id
        ids["hook"] = (await services.create_workflow(workflow(node("In", "webhook", path="orders"), name="Hook one"))).id
        ids["clash"] = (await services.create_workflow(workflow(node("In", "webhook", path="orders"), name="Hook two"))).id

    async def scenario(user: User, services: Harness) -> None:
        await user.open("/")
        switch = user.find(marker=f"active-{ids['manual']}")
        switch.click()
        await user.should_see("no trigger that can run it by itself")
        assert next(iter(switch.elements)).value is False
        assert not (await services.get_workflow(ids["manual"])).active

        user.find(marker=f"active-{ids['hook']}").click()
        await user.should_see("'Hook one' is active")
        assert (await services.get_workflow(ids["hook"])).active

        clash = user.find(marker=f"active-{ids['clash']}")
        clash.click()
        await user.should_see("Cannot activate 'Hook two'")
        assert next(iter(clash.elements)).value is False
        assert not (await services.get_workflow(ids["clash"])).active

        user.find(marker=f"active-{ids['hook']}").click()
        await user.should_see("'Hook one' is inactive")
        assert not (await services.get_workflow(ids["hook"])).active

    simulate(scenario, setup=setup)


def test_import_pasted_json_and_a_file_naming_the_bad_node(simulate: Any) -> None:
    good = workflow(node("Start", "manualTrigger"), node("Tidy", "set"), name="From n8n")
    good.update(id="abc", active=True)  # an n8n export: its id and state are not taken over
    bad = workflow(node("Start", "manualTrigger"), node("Mystery", "noSuchNode"), name="Broken")

    async def scenario(user: User, services: Harness) -> None:
        await user.open("/")
        user.find(marker="import").click()
        await user.should_see("Import workflows")
        user.find(marker="import-text").type("{not json")
        user.find(marker="import-submit").click()
        await user.should_see("not valid JSON (line 1")
        user.find(marker="import-text").clear().type(json.dumps(bad))
        user.find(marker="import-submit").click()
        await user.should_see("'Broken': node 'Mystery'")
        assert await names(services) == []

        user.find(marker="import-text").clear().type(json.dumps(good))
        user.find(marker="import-submit").click()
        await user.should_see("Imported 'From n8n'")
        imported = (await services.list_workflows()).data
        assert [(w.name, w.active, w.id != "abc") for w in imported] == [("From n8n", False, True)]

        user.find(marker="import").click()
        upload = next(iter(user.find(marker="import-file").elements))
        payload = json.dumps([workflow(node("Start", "manualTrigger"), name="Batch A"), bad]).encode()
        await upload.handle_uploads([SmallFileUpload(name="two.json", content_type="application/json",
                                                     _data=payload)])
        await user.should_see("Imported 'Batch A'")
        await user.should_see("'Broken': node 'Mystery'")
        assert await names(services) == ["Batch A", "From n8n"]

    simulate(scenario)


def test_download_gives_the_workflow_json(simulate: Any) -> None:
    ids: dict[str, str] = {}

    async def setup(services: Harness) -> None:
        ids["a"] = (await services.create_workflow(workflow(node("Start", "manualTrigger"), name="Invoice mailer"))).id

    async def scenario(user: User, services: Harness) -> None:
        await user.open("/")
        user.find(marker=f"download-{ids['a']}").click()
        response = await user.download.next()
        data = json.loads(response.content)
        assert data["name"] == "Invoice mailer" and data["id"] == ids["a"]
        assert [n["name"] for n in data["nodes"]] == ["Start"]

    simulate(scenario, setup=setup)


def test_import_parsing_and_names() -> None:
    assert [w["name"] for w in parse_import('{"name": "a", "nodes": []}')] == ["a"]
    assert len(parse_import('[{"nodes": []}, {"nodes": []}]')) == 2
    assert len(parse_import('{"data": [{"nodes": []}], "nextCursor": null}')) == 1
    for text, message in (("", "nothing to import"), ("[]", "empty list"), ('{"name": "x"}', "no 'nodes'"),
                          ("[1]", "must be a JSON object"), ('{"a": }', "line 1, column 7")):
        try:
            parse_import(text)
        except ValueError as exc:
            assert message in str(exc), (text, str(exc))
        else:
            raise AssertionError(f"{text!r} was accepted")
    assert unique_name("My workflow", set()) == "My workflow"
    assert unique_name("My workflow", {"My workflow", "My workflow 2"}) == "My workflow 3"
    assert export_filename("Invoices / EU: daily") == "Invoices_EU_daily.json"
    assert export_filename("///") == "workflow.json"
