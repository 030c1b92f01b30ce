"""Sharing: `/api/v1/workflows/{id}/sharing` and `/api/v1/credentials/{id}/sharing` (GET, PUT).

Who may see and change a shared workflow or credential is decided in `flowbox.access`;
only its owner or an admin changes whom it is shared with.
"""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Controller, get, put

from flowbox.api.common import SERVICES
from flowbox.operations import Operations


class Sharing(msgspec.Struct):
    userIds: list[str]  # noqa: N815 - JSON field name


class SharingController(Controller):
    path = "/api/v1"
    tags = ["users"]
    dependencies = SERVICES

    @get("/workflows/{id:str}/sharing", summary="Whom a workflow is shared with")
    async def workflow_sharing(self, services: Operations, id: str) -> dict[str, Any]:
        return await services.get_sharing("workflow", id)

    @put("/workflows/{id:str}/sharing", summary="Share a workflow with exactly these users (owner or admin)")
    async def share_workflow(self, services: Operations, id: str, data: Sharing) -> dict[str, Any]:
        return await services.set_sharing("workflow", id, data.userIds)

    @get("/credentials/{id:str}/sharing", summary="Whom a credential is shared with")
    async def credential_sharing(self, services: Operations, id: str) -> dict[str, Any]:
        return await services.get_sharing("credential", id)

    @put("/credentials/{id:str}/sharing", summary="Share a credential with exactly these users (owner or admin)")
    async def share_credential(self, services: Operations, id: str, data: Sharing) -> dict[str, Any]:
        return await services.set_sharing("credential", id, data.userIds)


HANDLERS = [SharingController]
