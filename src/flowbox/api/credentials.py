"""`/api/v1/credentials` and `/api/v1/credential-types` (DESIGN §8).

A credential as JSON is `{"id", "name", "type", "data", "createdAt", "updatedAt"}`; every
response masks secret fields of `data` (`flowbox.credentials.MASK`). A PUT that sends
the mask back for a secret field keeps the stored value. Everything goes through
`flowbox.credential_vault`, which encrypts before the store sees anything.
"""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Controller, Request, delete, get, post, put

from flowbox.api.common import CURSOR, LIMIT, SERVICES, invalid, page_json
from flowbox.operations import Operations


# Fields are optional here only so that a missing one is a 400 naming it.
class CredentialCreate(msgspec.Struct):
    name: str | None = None
    type: str | None = None
    data: dict[str, Any] | None = None


class CredentialUpdate(msgspec.Struct):
    name: str | None = None
    data: dict[str, Any] | None = None


class CredentialTestRequest(msgspec.Struct):
    url: str | None = None


class CredentialController(Controller):
    path = "/api/v1/credentials"
    tags = ["credentials"]
    dependencies = SERVICES

    @get("/", summary="List credentials (secrets masked)")
    async def list_credentials(self, services: Operations, type: str | None = None, limit: int = LIMIT,
                               cursor: str | None = CURSOR) -> dict[str, Any]:
        page = await services.list_credentials(type=type, limit=limit, cursor=cursor)
        return page_json(page, lambda c: c)

    @post("/", summary="Create a credential (stored encrypted)", status_code=201)
    async def create_credential(self, request: Request[Any, Any, Any], services: Operations,
                                data: CredentialCreate) -> dict[str, Any]:
        for name in ("name", "type", "data"):
            if getattr(data, name) is None:
                raise invalid(request, name, "required")
        return await services.create_credential(data.name, data.type, data.data)

    @get("/{id:str}", summary="Get a credential (secrets masked)")
    async def get_credential(self, services: Operations, id: str) -> dict[str, Any]:
        return await services.get_credential(id)

    @put("/{id:str}", summary="Change a credential; a secret sent back masked keeps its value")
    async def update_credential(self, request: Request[Any, Any, Any], services: Operations, id: str,
                                data: CredentialUpdate) -> dict[str, Any]:
        if data.name is None and data.data is None:
            raise invalid(request, "data", "give name and/or data")
        return await services.update_credential(id, name=data.name, data=data.data)

    @delete("/{id:str}", summary="Delete a credential")
    async def delete_credential(self, services: Operations, id: str) -> None:
        await services.delete_credential(id)

    @post("/{id:str}/test", summary="Test a credential (its type's test request, or a given url)", status_code=200)
    async def test_credential(self, services: Operations, id: str,
                              data: CredentialTestRequest | None = None) -> dict[str, Any]:
        return await services.test_credential(id, url=data.url if data else None)


@get("/api/v1/credential-types", summary="Credential types with their field schemas", tags=["credentials"],
     dependencies=SERVICES)
async def credential_types(services: Operations) -> dict[str, Any]:
    return {"data": services.credential_types()}


HANDLERS = [CredentialController, credential_types]
