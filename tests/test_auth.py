"""Users, passwords, API keys and the API's door (flowbox.auth, flowbox.api.auth).

The route walk builds the real Litestar app and calls every route it registers without a key:
a route added later without thinking about auth fails here, unless it is listed in
`flowbox.auth.PUBLIC`.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import httpx
import pytest
from support import Harness, run_with_services

from flowbox import auth
from flowbox.errors import Conflict, NotFound

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")  # litestar 2.25 on inferred parameters

# ------------------------------------------------------------------ passwords and keys


def test_password_hash_is_salted_scrypt_and_verifies() -> None:
    first, second = auth.hash_password("correct horse"), auth.hash_password("correct horse")
    assert first != second and first.startswith(f"scrypt${auth.SCRYPT_N}${auth.SCRYPT_R}${auth.SCRYPT_P}$")
    assert "correct horse" not in first
    assert auth.verify_password("correct horse", first) and auth.verify_password("correct horse", second)
    assert not auth.verify_password("correct horsE", first)
    for broken in (None, "", "plain", "bcrypt$1$2$3$4$5", first.replace("scrypt$", "scrypt$x")):
        assert not auth.verify_password("correct horse", broken)


def test_api_keys_are_random_and_only_their_hash_is_kept() -> None:
    key = auth.new_api_key()
    assert re.fullmatch(r"fbk_[A-Za-z0-9_-]{43}", key) and key != auth.new_api_key()
    assert auth.hash_api_key(key) == auth.hash_api_key(key) and key not in auth.hash_api_key(key)


def test_roles_rank_and_inputs_are_checked() -> None:
    assert auth.has_role("owner", "admin") and auth.has_role("admin", "admin") and auth.has_role("member", "member")
    assert not auth.has_role("member", "admin") and not auth.has_role("admin", "owner")
    assert not auth.has_role(None, "member") and not auth.has_role("root", "member")
    with pytest.raises(auth.AuthError, match="8 characters"):
        auth.check_password("short")
    with pytest.raises(auth.AuthError, match="email"):
        auth.check_email("not an email")
    with pytest.raises(auth.AuthError, match="role"):
        auth.check_role("root")
    assert auth.check_email(" Ann@Example.COM ") == "ann@example.com"


# ------------------------------------------------------------------ the app, in process


def test_store_keeps_users_and_key_hashes(tmp_path: Path) -> None:
    async def body(services: Harness, client: httpx.AsyncClient) -> None:
        store = services.store
        assert await store.count_users() == 0
        owner = await auth.create_user(store, "Owner@Example.com", "owner", "long enough")
        assert owner.email == "owner@example.com" and await store.count_users() == 1
        assert (await store.get_user_by_email("OWNER@example.com")).id == owner.id
        with pytest.raises(Conflict):
            await auth.create_user(store, "owner@example.com", "member", "long enough")
        with pytest.raises(NotFound):
            await auth.create_api_key(store, "nobody@example.com")
        key, record = await auth.create_api_key(store, "owner@example.com", "ci")
        assert record.prefix == key[:12] and record.key_hash == auth.hash_api_key(key)
        found = await store.find_api_key(auth.hash_api_key(key))
        assert found is not None and found[0].id == record.id and found[1].role == "owner"
        assert await store.find_api_key(auth.hash_api_key(auth.new_api_key())) is None
        assert [k.id for k in await store.list_api_keys(owner.id)] == [record.id]
        with pytest.raises(Conflict, match="last owner"):
            await store.update_user(owner.id, role="admin")
        await auth.create_user(store, "second@example.com", "owner", "long enough")
        changed = await store.update_user(owner.id, role="admin")
        assert changed.role == "admin" and changed.password_hash == owner.password_hash
        assert await services.authenticate_password("owner@example.com", "long enough") is not None
        assert await services.authenticate_password("owner@example.com", "wrong password") is None
        assert await services.authenticate_password("nobody@example.com", "long enough") is None
        await services.delete_api_key(record.id)
        assert await services.authenticate_key(key) is None

    run_with_services(tmp_path, body)


def test_api_is_open_until_a_user_exists(tmp_path: Path) -> None:
    async def body(services: Harness, client: httpx.AsyncClient) -> None:
        assert (await client.get("/api/v1/workflows")).status_code == 200
        assert (await client.get("/api/v1/me")).json() == {"user": None, "authRequired": False}
        made = await client.post("/api/v1/users", json={"email": "o@example.com", "role": "owner",
                                                        "password": "long enough"})
        assert made.status_code == 201 and "password" not in made.text and "scrypt" not in made.text
        response = await client.get("/api/v1/workflows")
        assert response.status_code == 401
        assert response.json()["error"]["code"] == "unauthorized"
        key, _ = await services.create_api_key("o@example.com")
        ok = await client.get("/api/v1/workflows", headers={"X-API-Key": key})
        assert ok.status_code == 200
        me = (await client.get("/api/v1/me", headers={"X-API-Key": key})).json()
        assert me["user"]["email"] == "o@example.com" and me["user"]["role"] == "owner" and me["authRequired"]
        bad = await client.get("/api/v1/workflows", headers={"X-API-Key": key[:-2] + "xx"})
        assert bad.status_code == 401

    run_with_services(tmp_path, body)


def test_a_user_created_elsewhere_closes_the_api_within_a_second(tmp_path: Path) -> None:
    async def body(services: Harness, client: httpx.AsyncClient) -> None:
        assert (await client.get("/api/v1/variables")).status_code == 200
        await auth.create_user(services.store, "cli@example.com", "owner", "long enough")  # as the CLI does
        services.accounts._auth_state["checked"] -= services.accounts.AUTH_RECHECK  # as if a second went by
        assert (await client.get("/api/v1/variables")).status_code == 401

    run_with_services(tmp_path, body)


def _routes(app: Any) -> list[tuple[str, str, Any, bool]]:
    """(method, concrete path, handler, public) for every HTTP route the app registers."""
    from litestar.routes import HTTPRoute

    out = []
    for route in app.routes:
        assert isinstance(route, HTTPRoute), f"not an HTTP route: {route.path} (walk it here too)"
        path = re.sub(r"\{[^}]+\}", "x", route.path)
        for method, (handler, _) in route.route_handler_map.items():
            out.append((method, path, handler, auth.is_public(route.path)))
    return out


def test_every_route_needs_a_key_once_a_user_exists(tmp_path: Path) -> None:
    async def body(services: Harness, client: httpx.AsyncClient) -> None:
        await services.create_user("owner@example.com", "owner", "long enough")
        await services.create_user("member@example.com", "member", "long enough")
        member_key, _ = await services.create_api_key("member@example.com")
        owner_key, _ = await services.create_api_key("owner@example.com")
        app = client.app  # type: ignore[attr-defined]
        routes = _routes(app)
        assert len(routes) > 30
        walked, public, by_role = 0, set(), 0
        for method, path, handler, is_public in routes:
            if is_public:
                public.add(path)
                continue
            response = await client.request(method, path, json={})
            assert response.status_code == 401, (method, path, response.status_code, response.text)
            assert response.json()["error"]["code"] == "unauthorized", (method, path)
            wrong = await client.request(method, path, json={}, headers={"X-API-Key": "fbk_" + "A" * 43})
            assert wrong.status_code == 401, (method, path)
            walked += 1
            role = (handler.opt or {}).get("role", "member")
            if role != "member":
                by_role += 1
                denied = await client.request(method, path, json={}, headers={"X-API-Key": member_key})
                assert denied.status_code == 403, (method, path, denied.text)
                assert denied.json()["error"]["code"] == "forbidden"
                allowed = await client.request(method, path, json={}, headers={"X-API-Key": owner_key})
                assert allowed.status_code not in (401, 403), (method, path, allowed.text)
            else:
                allowed = await client.request(method, path, json={}, headers={"X-API-Key": member_key})
                assert allowed.status_code not in (401, 403), (method, path, allowed.text)
        assert walked > 25 and by_role >= 2
        assert {"/healthz", "/readyz", "/metrics", "/api/docs"} <= public
        assert all(auth.is_public(p) for p in public)
        assert (await client.get("/healthz")).status_code == 200
        assert (await client.get("/api/docs/openapi.json")).status_code == 200
        assert {("PATCH", "/api/v1/users/x"), ("POST", "/api/v1/users/x/password"),
                ("DELETE", "/api/v1/users/x")} <= {(m, p) for m, p, _, _ in routes}

        # a disabled user's key is refused on every route, even one left behind (disabled by another
        # process, straight in the store, once this one's cache has expired)
        member = await services.store.get_user_by_email("member@example.com")
        await services.store.update_user(member.id, disabled=True)
        services.accounts._auth_state["keys"] = {}
        for method, path, _, is_public in routes:
            if not is_public:
                refused = await client.request(method, path, json={}, headers={"X-API-Key": member_key})
                assert refused.status_code == 401, (method, path, refused.status_code)

    run_with_services(tmp_path, body)


def test_roles_on_user_management(tmp_path: Path) -> None:
    async def body(services: Harness, client: httpx.AsyncClient) -> None:
        await services.create_user("owner@example.com", "owner", "long enough")
        await services.create_user("admin@example.com", "admin", "long enough")
        admin_key, _ = await services.create_api_key("admin@example.com")
        owner_key, _ = await services.create_api_key("owner@example.com")
        headers = {"X-API-Key": admin_key}
        listed = await client.get("/api/v1/users", headers=headers)
        assert listed.status_code == 200 and len(listed.json()["data"]) == 2
        assert "scrypt" not in listed.text
        made = await client.post("/api/v1/users", headers=headers,
                                 json={"email": "m@example.com", "role": "member", "password": "long enough"})
        assert made.status_code == 201 and made.json()["role"] == "member"
        refused = await client.post("/api/v1/users", headers=headers,
                                    json={"email": "o2@example.com", "role": "owner", "password": "long enough"})
        assert refused.status_code == 403
        taken = await client.post("/api/v1/users", headers={"X-API-Key": owner_key},
                                  json={"email": "M@example.com", "role": "owner", "password": "long enough"})
        assert taken.status_code == 409
        weak = await client.post("/api/v1/users", headers={"X-API-Key": owner_key},
                                 json={"email": "x@example.com", "password": "short"})
        assert weak.status_code == 400 and weak.json()["error"]["details"]["field"] == "password"

    run_with_services(tmp_path, body)
