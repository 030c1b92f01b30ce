"""The API's door (`guard`, installed on the whole Litestar app), `/api/v1/me`, `/api/v1/users` (add,
change, disable, reset the password of, delete) and `/api/v1/api-keys`.

`guard` runs before every route handler: routes in `flowbox.auth.PUBLIC` pass; otherwise,
once a user exists, the request needs a valid `X-API-Key` or editor session cookie (401
`unauthorized`) whose user has at least the handler's `opt["role"]` (default member; 403
`forbidden`); with the cookie, unsafe methods also need the session's `X-CSRF-Token`. The
caller is left in `scope["user"]` (a `flowbox.auth.Principal`, None on an open install).
See `flowbox.auth` for when the API is open.
"""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Controller, Request, delete, get, patch, post
from litestar.connection import ASGIConnection
from litestar.exceptions import NotAuthorizedException, PermissionDeniedException
from litestar.handlers.base import BaseRouteHandler
from litestar.params import Parameter

from flowbox import sessions
from flowbox.api.common import SERVICES
from flowbox.audit import set_actor
from flowbox.auth import API_KEY_HEADER, AuthError, has_role, is_public
from flowbox.operations import Operations
from flowbox.ratelimit import RateLimit

AUDIT_FAILURES = RateLimit(rate=1 / 6, burst=20)  # refused requests audited per client address


async def guard(connection: ASGIConnection[Any, Any, Any, Any], handler: BaseRouteHandler) -> None:
    """401 without a valid key or session, 403 below the route's role or without the session's CSRF token
    on an unsafe method, once authentication is on (`flowbox.auth`, `flowbox.sessions`)."""
    ip = connection.client.host if connection.client else None
    set_actor("anonymous", ip)  # who acts, for the audit log (`flowbox.audit`), until a key says otherwise
    if is_public(connection.scope["path"]):  # the full path (a controller's handler knows only its own part)
        return
    services: Operations = connection.app.state.runtime.operations()
    if not await services.auth_required():
        connection.scope["user"] = None
        return
    key = connection.headers.get(API_KEY_HEADER)
    cookie = None if key else sessions.read_cookie(connection.headers.get("cookie"))
    if key or not cookie:
        principal = await services.authenticate_key(key)
    else:
        principal = await services.authenticate_session(cookie)
    if principal is None:
        if not AUDIT_FAILURES.take(ip or "-"):  # bounded per address: a scan cannot flood the audit log
            await services.audit("auth.failed", "apikey" if key or not cookie else "session", None,
                                 reason="invalid key" if key else "expired session" if cookie else "no key",
                                 method=connection.scope.get("method"), path=connection.scope["path"])
        raise NotAuthorizedException(f"a valid API key is required in the {API_KEY_HEADER.title()} header "
                                     "(or log in to the editor)")
    unsafe = connection.scope.get("method", "GET") not in sessions.SAFE_METHODS
    if principal.csrf is not None and unsafe and not (
            sessions.same_origin(connection.scope)
            and sessions.tokens_match(connection.headers.get(sessions.CSRF_HEADER), principal.csrf)):
        raise PermissionDeniedException(f"a request made with the editor's session cookie needs its "
                                            f"{sessions.CSRF_HEADER.title()} header (CSRF protection)")
    set_actor(principal.email, ip)
    required = (handler.opt or {}).get("role", "member")
    if not has_role(principal.role, required):
        raise PermissionDeniedException(f"this needs the {required} role; {principal.email} is {principal.role}")
    connection.scope["user"] = principal


def caller(request: Request[Any, Any, Any]) -> Any:
    """The `flowbox.auth.Principal` the guard left, or None on an open install."""
    return request.scope.get("user")


class UserCreate(msgspec.Struct):
    email: str | None = None
    role: str = "member"
    password: str | None = None


class UserUpdate(msgspec.Struct):
    role: str | None = None
    disabled: bool | None = None


class PasswordReset(msgspec.Struct):
    password: str | None = None


class AuthController(Controller):
    path = "/api/v1"
    tags = ["users"]
    dependencies = SERVICES

    @get("/me", summary="Who the API key belongs to")
    async def me(self, request: Request[Any, Any, Any], services: Operations) -> dict[str, Any]:
        principal = caller(request)
        return {"user": principal.to_dict() if principal else None, "authRequired": await services.auth_required()}

    @get("/users", summary="List users (admin)", opt={"role": "admin"})
    async def list_users(self, services: Operations) -> dict[str, Any]:
        return {"data": await services.list_users(), "nextCursor": None}

    @post("/users", summary="Create a user (admin; only an owner creates owners)", status_code=201,
          opt={"role": "admin"})
    async def create_user(self, services: Operations, data: UserCreate) -> dict[str, Any]:
        return await services.create_user(data.email, data.role, data.password)

    @patch("/users/{user_id:str}", summary="Change a user's role, or disable or enable them (admin; an admin "
           "only members). Disabling ends their sessions and API keys at once", opt={"role": "admin"})
    async def update_user(self, services: Operations, user_id: str, data: UserUpdate) -> dict[str, Any]:
        return await services.update_user(user_id, role=data.role, disabled=data.disabled)

    @post("/users/{user_id:str}/password", summary="Reset a user's password (admin); ends their other sessions",
          status_code=204, opt={"role": "admin"})
    async def set_password(self, services: Operations, user_id: str, data: PasswordReset) -> None:
        await services.set_password(user_id, data.password)

    @delete("/users/{user_id:str}", summary="Delete a user (admin); their workflows and credentials move to "
            "`transferTo` (required when they own any)", opt={"role": "admin"})
    async def delete_user(self, services: Operations, user_id: str,
                          transfer_to: str | None = Parameter(query="transferTo", default=None,
                                                              description="the id of the user who gets what "
                                                                          "they own")) -> None:
        await services.delete_user(user_id, transfer_to=transfer_to)


class ApiKeyCreate(msgspec.Struct):
    name: str = ""
    userEmail: str | None = None  # noqa: N815 - JSON field name; default: the caller


class ApiKeyController(Controller):
    """API keys: a member manages their own, an admin everyone's. A new key is shown once, in this answer."""

    path = "/api/v1/api-keys"
    tags = ["users"]
    dependencies = SERVICES

    @get("/", summary="List API keys (prefix and name only)")
    async def list_keys(self, services: Operations) -> dict[str, Any]:
        return {"data": await services.list_api_keys(), "nextCursor": None}

    @post("/", summary="Create an API key (the key is in this answer only)", status_code=201)
    async def create_key(self, request: Request[Any, Any, Any], services: Operations,
                         data: ApiKeyCreate) -> dict[str, Any]:
        principal = caller(request)
        email = data.userEmail or (principal.email if principal else None)
        if not email:
            raise AuthError("userEmail is required while flowbox has no users to act as", field="userEmail")
        key, record = await services.create_api_key(email, data.name)
        return {**record, "key": key}

    @delete("/{key_id:str}", summary="Revoke an API key")
    async def delete_key(self, services: Operations, key_id: str) -> None:
        await services.delete_api_key(key_id)


HANDLERS = [AuthController, ApiKeyController]
