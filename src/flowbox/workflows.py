"""Stored workflows: save (a new version each time), delete, activate, and what is live.

`Workflows` owns the compiled-workflow cache (each stored version loaded and validated once)
and brings active workflows online: their webhook routes into the route table, their schedules
and listening triggers into whatever the runtime registered with `on_live` (the scheduler and
the trigger listeners, when this process runs them). A save that cannot go live (a webhook path
taken by another workflow) is refused before anything is stored.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from flowbox import audit
from flowbox.access import Access, visible_to
from flowbox.errors import FlowboxError, NotFound, WorkflowInvalid
from flowbox.n8n import Conversion, accept
from flowbox.store.base import Page, Store, WorkflowRecord, WorkflowVersion
from flowbox.webhooks import RouteTable, webhook_routes
from flowbox.workflow import Workflow, load_workflow, validate, validate_for_run

logger = logging.getLogger("flowbox")

Live = Callable[[str, "Workflow | None"], None]  # (workflow id, the workflow going live, or None: offline)


def _reported(record: WorkflowRecord, conversion: Conversion | None) -> WorkflowRecord:
    """`record` carrying the conversion report when the saved JSON was n8n's."""
    return record if conversion is None else replace(record, conversion=conversion.to_json())


def clean_workflow_data(data: dict[str, Any]) -> dict[str, Any]:
    """What is stored of a workflow's JSON: everything but its id, state and timestamps."""
    return {k: v for k, v in data.items() if k not in ("id", "active", "createdAt", "updatedAt", "version",
                                                        "versionId")}


class Workflows:
    """Stored workflows and which of them are live."""

    def __init__(self, store: Store, access: Access, routes: RouteTable) -> None:
        self.store = store
        self.access = access
        self.routes = routes
        self.on_live: list[Live] = []
        self._compiled: dict[str, tuple[int, Workflow, dict[str, Any]]] = {}

    def compiled(self, record: WorkflowRecord) -> tuple[Workflow, dict[str, Any]]:
        """A stored workflow loaded and validated for running once per version: (workflow, node specs by
        name). Every run and activation of a stored workflow comes here, so a workflow holding a node that
        refuses to run (an n8n placeholder) is refused here, naming the node."""
        cached = self._compiled.get(record.id)
        if cached is not None and cached[0] == record.version:
            return cached[1], cached[2]
        workflow = load_workflow(record.data, id=record.id)
        specs = validate_for_run(workflow)
        self._compiled[record.id] = (record.version, workflow, specs)
        return workflow, specs

    def cached(self, workflow_id: str) -> tuple[Workflow, dict[str, Any]] | None:
        """The compiled workflow if this process has it (the webhook hot path skips the store)."""
        found = self._compiled.get(workflow_id)
        return (found[1], found[2]) if found else None

    async def bring_active_online(self) -> None:
        """At start: every active workflow goes live (one that cannot is logged, the rest go on)."""
        cursor = None
        while True:
            page = await self.store.list_workflows(active=True, limit=200, cursor=cursor)
            for record in page.data:
                try:
                    self._online(record)
                except FlowboxError as exc:  # one broken workflow must not stop the server
                    logger.error("workflow %s (%s) not activated: %s", record.id, record.name, exc.message)
            cursor = page.next_cursor
            if not cursor:
                break

    def _online(self, record: WorkflowRecord) -> None:
        workflow, _ = self.compiled(record)
        routes = webhook_routes(workflow, record.id)
        self.routes.remove(record.id)
        self.routes.add(routes)
        for live in self.on_live:
            live(record.id, workflow)

    def _offline(self, workflow_id: str) -> None:
        self.routes.remove(workflow_id)
        for live in self.on_live:
            live(workflow_id, None)

    # ---- reads
    async def list(self, *, search: str | None = None, active: bool | None = None, limit: int = 50,
                   cursor: str | None = None, user: Any = None) -> Page[WorkflowRecord]:
        return await self.store.list_workflows(search=search, active=active, limit=limit, cursor=cursor,
                                               visible_to=visible_to(user))

    async def get(self, id: str, user: Any = None) -> WorkflowRecord:
        record = await self.store.get_workflow(id)
        await self.access.check("workflow", record, user)
        return record

    async def versions(self, id: str, user: Any = None) -> list[WorkflowVersion]:
        await self.get(id, user)
        return await self.store.list_versions(id)

    async def version(self, id: str, number: int, user: Any = None) -> dict[str, Any]:
        """The workflow JSON of version `number` (the current one included); NotFound for another number."""
        current = await self.get(id, user)
        if number == current.version:
            return current.data
        for kept in await self.store.list_versions(id):
            if kept.version == number:
                return kept.data
        raise NotFound("workflow version", f"{id} v{number}")

    async def restore(self, id: str, number: int, user: Any = None) -> WorkflowRecord:
        """Save version `number` again as the newest version (the versions after it are kept)."""
        data = await self.version(id, number, user)
        record = await self.update(id, {**data, "active": (await self.store.get_workflow(id)).active}, user)
        await audit.record(self.store, "workflow.restore", "workflow", id, restored=number, version=record.version)
        return record

    # ---- changes
    async def create(self, data: dict[str, Any], user: Any = None, *, id: str | None = None) -> WorkflowRecord:
        """A new workflow (`id`: keep this id, as an import of an exported workflow does). n8n JSON is
        converted first (the record carries the report); a placeholder node may be saved, not run."""
        data, conversion = accept(data)
        workflow = load_workflow(data)
        validate(workflow)
        await self.access.check_reach(workflow, user)
        record = await self.store.create_workflow(workflow.name, clean_workflow_data(data),
                                                  owner_id=user.user_id if user else None, id=id)
        await audit.record(self.store, "workflow.create", "workflow", record.id, name=record.name)
        if data.get("active"):
            try:
                record = await self.activate(record.id)
            except FlowboxError:  # nothing half-done: the workflow is not kept when it cannot go live
                await self.store.delete_workflow(record.id)
                raise
        return _reported(record, conversion)

    async def save(self, data: dict[str, Any], user: Any = None) -> WorkflowRecord:
        """`flowbox import`: a workflow with an id that is stored gets a new version, else it is created
        (with that id when it has one)."""
        wid = data.get("id") if isinstance(data, dict) else None
        if wid:
            try:
                await self.store.get_workflow(str(wid))
            except NotFound:
                return await self.create(data, user, id=str(wid))
            return await self.update(str(wid), data, user)
        return await self.create(data, user)

    async def update(self, id: str, data: dict[str, Any], user: Any = None) -> WorkflowRecord:
        """Save a new version; an active workflow's webhooks and schedules follow the new version (so an
        active one must stay runnable). n8n JSON is converted first (the record carries the report)."""
        current = await self.get(id, user)
        data, conversion = accept(data)
        workflow = load_workflow(data, id=id)
        stays_active = bool(data.get("active", current.active))
        (validate_for_run if stays_active else validate)(workflow)
        await self.access.check_reach(workflow, user)
        if current.active:
            self.routes.probe(id, webhook_routes(workflow, id))  # raises Conflict before anything is saved
        record = await self.store.update_workflow(id, name=workflow.name, data=clean_workflow_data(data))
        await audit.record(self.store, "workflow.update", "workflow", id, name=record.name, version=record.version)
        if "active" in data and bool(data["active"]) != record.active:
            record = await (self.activate(id) if data["active"] else self.deactivate(id))
        elif record.active:
            self._online(record)
        return _reported(record, conversion)

    async def delete(self, id: str, user: Any = None) -> None:
        if user is not None:
            await self.access.check("workflow", await self.store.get_workflow(id), user, manage=True)
        await self.store.delete_workflow(id)
        await audit.record(self.store, "workflow.delete", "workflow", id)
        self._offline(id)
        self._compiled.pop(id, None)

    async def activate(self, id: str, user: Any = None) -> WorkflowRecord:
        """Put a workflow's webhooks and schedules online (409 when a webhook path is taken)."""
        record = await self.get(id, user)
        workflow, specs = self.compiled(record)
        if not any(s.trigger and not s.manual for n, s in specs.items() if not workflow.nodes[n].disabled):
            raise WorkflowInvalid("this workflow has no trigger that can run it by itself (webhook, schedule, "
                                  "errorTrigger, or one that listens or polls such as redisTrigger, emailTrigger, "
                                  "rssFeedReadTrigger): add one before activating it", field="nodes")
        self.routes.probe(id, webhook_routes(workflow, id))
        record = await self.store.update_workflow(id, active=True)
        await audit.record(self.store, "workflow.activate", "workflow", id, name=record.name)
        self._online(record)
        return record

    async def deactivate(self, id: str, user: Any = None) -> WorkflowRecord:
        await self.get(id, user)
        record = await self.store.update_workflow(id, active=False)
        await audit.record(self.store, "workflow.deactivate", "workflow", id, name=record.name)
        self._offline(id)
        return record
