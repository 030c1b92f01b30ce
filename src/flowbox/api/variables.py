"""`/api/v1/variables`: the `$vars` of every workflow (key -> string value).

Changes go through `Operations.set_variable`/`delete_variable`, so running workflows see
them at once. Keys are letters, digits and `_` (not starting with a digit).
"""

from __future__ import annotations

import re
from typing import Any

import msgspec
from litestar import Controller, Request, delete, get, post, put

from flowbox.api.common import SERVICES, invalid
from flowbox.errors import Conflict, NotFound
from flowbox.operations import Operations

KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")

Value = str | int | float | bool


# Both fields are required; they are optional here only so that a missing one is a 400 naming it
# (Litestar reports a missing Struct field under the key "data").
class VariableCreate(msgspec.Struct):
    key: str | None = None
    value: Value | None = None


class VariableUpdate(msgspec.Struct):
    value: Value | None = None


def _require(request: Request[Any, Any, Any], data: VariableCreate | VariableUpdate) -> None:
    for name in data.__struct_fields__:
        if getattr(data, name) is None:
            raise invalid(request, name, "required")


def _text(value: Value) -> str:
    """Values are stored as text; JSON true/false become "true"/"false" as in n8n."""
    return str(value).lower() if isinstance(value, bool) else str(value)


class VariableController(Controller):
    path = "/api/v1/variables"
    tags = ["variables"]
    dependencies = SERVICES

    @get("/", summary="List variables")
    async def list_variables(self, services: Operations) -> dict[str, Any]:
        variables = await services.get_variables()
        return {"data": [{"key": k, "value": v} for k, v in sorted(variables.items())], "nextCursor": None}

    @get("/{key:str}", summary="Get a variable")
    async def get_variable(self, services: Operations, key: str) -> dict[str, Any]:
        variables = await services.get_variables()
        if key not in variables:
            raise NotFound("variable", key)
        return {"key": key, "value": variables[key]}

    @post("/", summary="Create a variable (409 when the key exists; admin)", status_code=201, opt={"role": "admin"})
    async def create_variable(self, request: Request[Any, Any, Any], services: Operations,
                              data: VariableCreate) -> dict[str, Any]:
        _require(request, data)
        assert data.key is not None and data.value is not None
        if not KEY.fullmatch(data.key):
            raise invalid(request, "key", "must be letters, digits and _ (not starting with a digit)")
        if data.key in await services.get_variables():
            raise Conflict(f"variable {data.key!r} already exists; PUT /api/v1/variables/{data.key} changes it",
                           key=data.key)
        await services.set_variable(data.key, _text(data.value))
        return {"key": data.key, "value": _text(data.value)}

    @put("/{key:str}", summary="Change a variable's value (admin)", opt={"role": "admin"})
    async def update_variable(self, request: Request[Any, Any, Any], services: Operations, key: str,
                              data: VariableUpdate) -> dict[str, Any]:
        _require(request, data)
        assert data.value is not None
        if key not in await services.get_variables():
            raise NotFound("variable", key)
        await services.set_variable(key, _text(data.value))
        return {"key": key, "value": _text(data.value)}

    @delete("/{key:str}", summary="Delete a variable (admin)", opt={"role": "admin"})
    async def delete_variable(self, services: Operations, key: str) -> None:
        await services.delete_variable(key)


HANDLERS = [VariableController]
