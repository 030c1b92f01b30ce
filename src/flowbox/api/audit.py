"""`GET /api/v1/audit`: the audit log (`flowbox.audit`), newest first, for owners and admins."""

from __future__ import annotations

from typing import Any

from litestar import Controller, get
from litestar.params import Parameter

from flowbox.api.common import CURSOR, LIMIT, SERVICES, page_json
from flowbox.audit import entry_json
from flowbox.operations import Operations


class AuditController(Controller):
    path = "/api/v1/audit"
    tags = ["audit"]
    dependencies = SERVICES

    @get("/", summary="The audit log, newest first (admin)", opt={"role": "admin"})
    async def list_audit(
        self, services: Operations,
        action: str | None = Parameter(default=None, description='an action ("workflow.create"), or a prefix '
                                                                  'ending in * ("workflow.*")'),
        actor: str | None = Parameter(default=None, description='a user\'s email, "anonymous", "cli" or "system"'),
        limit: int = LIMIT, cursor: str | None = CURSOR,
    ) -> dict[str, Any]:
        page = await services.list_audit(action=action or None, actor=actor.strip().lower() if actor else None,
                                         limit=limit, cursor=cursor)
        return page_json(page, entry_json)


HANDLERS = [AuditController]
