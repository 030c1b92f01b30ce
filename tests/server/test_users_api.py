"""Removing people over the API (DESIGN §11): PATCH /api/v1/users/{id} (role, disabled),
POST /api/v1/users/{id}/password, DELETE /api/v1/users/{id}?transferTo=, on the in-process Litestar app."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
from support import Harness, run_with_services

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")  # litestar 2.25 on inferred parameters

PASSWORD = "long enough"


async def people(services: Harness, *specs: str) -> dict[str, tuple[str, str]]:
    """Users from "email:role" specs: {name before the @: (id, API key)}."""
    made = {}
    for spec in specs:
        email, role = spec.split(":")
        user = await services.create_user(email, role, PASSWORD)
        key, _ = await services.create_api_key(email)
        made[email.split("@")[0]] = (user["id"], key)
    return made


def as_(key: str) -> dict[str, str]:
    return {"X-API-Key": key}


async def login(client: httpx.AsyncClient, email: str, password: str = PASSWORD) -> httpx.Response:
    return await client.post("/api/v1/login", json={"email": email, "password": password})


async def session_client(client: httpx.AsyncClient, email: str) -> httpx.AsyncClient:
    """A second client on the same app, signed in to the editor as `email` (cookie + CSRF header)."""
    signed = httpx.AsyncClient(transport=client._transport, base_url="http://test")
    answer = await login(signed, email)
    assert answer.status_code == 200, answer.text
    signed.headers["X-CSRF-Token"] = answer.json()["csrfToken"]
    return signed


async def audit(client: httpx.AsyncClient, key: str, action: str) -> list[dict[str, Any]]:
    answer = await client.get("/api/v1/audit", params={"action": action}, headers=as_(key))
    assert answer.status_code == 200, answer.text
    return list(answer.json()["data"])


def test_disabling_ends_sessions_and_keys_at_once_and_blocks_login(tmp_path: Path) -> None:
    async def body(services: Harness, client: httpx.AsyncClient) -> None:
        p = await people(services, "owner@example.com:owner", "ann@example.com:member")
        (ann_id, ann_key), owner_key = p["ann"], p["owner"][1]
        browser = await session_client(client, "ann@example.com")
        assert (await client.get("/api/v1/workflows", headers=as_(ann_key))).status_code == 200
        assert (await browser.get("/api/v1/workflows")).status_code == 200  # both verified and cached

        off = await client.patch(f"/api/v1/users/{ann_id}", json={"disabled": True}, headers=as_(owner_key))
        assert off.status_code == 200, off.text
        assert off.json()["disabled"] is True and off.json()["role"] == "member"
        assert (await client.get("/api/v1/workflows", headers=as_(ann_key))).status_code == 401
        assert (await browser.get("/api/v1/workflows")).status_code == 401
        refused = await login(client, "ann@example.com")
        assert refused.status_code == 403 and "disabled" in refused.json()["error"]["message"]
        wrong = await login(client, "ann@example.com", "not her password")
        assert wrong.status_code == 401 and "disabled" not in wrong.text  # a guess learns nothing
        listed = (await client.get("/api/v1/users", headers=as_(owner_key))).json()["data"]
        assert [u["disabled"] for u in listed if u["id"] == ann_id] == [True]
        made = await client.post("/api/v1/api-keys", json={"userEmail": "ann@example.com"}, headers=as_(owner_key))
        assert made.status_code == 409 and "disabled" in made.text

        on = await client.patch(f"/api/v1/users/{ann_id}", json={"disabled": False}, headers=as_(owner_key))
        assert on.status_code == 200 and on.json()["disabled"] is False
        assert (await login(client, "ann@example.com")).status_code == 200
        assert (await client.get("/api/v1/workflows", headers=as_(ann_key))).status_code == 401  # keys ended

        (disabled,) = await audit(client, owner_key, "user.disable")
        assert disabled["actor"] == "owner@example.com" and disabled["targetId"] == ann_id
        assert disabled["details"] == {"email": "ann@example.com", "ended": {"sessions": 1, "apiKeys": 1}}
        assert len(await audit(client, owner_key, "user.enable")) == 1
        failed = [e["details"] for e in await audit(client, owner_key, "login.failed")]
        assert {"email": "ann@example.com", "reason": "disabled"} in failed
        await browser.aclose()

    run_with_services(tmp_path, body)


def test_who_may_change_whom(tmp_path: Path) -> None:
    async def body(services: Harness, client: httpx.AsyncClient) -> None:
        p = await people(services, "owner@example.com:owner", "boss@example.com:owner", "adam@example.com:admin",
                         "ada@example.com:admin", "ann@example.com:member")
        adam = as_(p["adam"][1])

        def user(name: str) -> str:
            return f"/api/v1/users/{p[name][0]}"

        for target in ("owner", "ada"):  # an admin leaves owners and other admins alone
            for change in ({"disabled": True}, {"role": "member"}):
                denied = await client.patch(user(target), json=change, headers=adam)
                assert denied.status_code == 403 and "only an owner" in denied.json()["error"]["message"]
            assert (await client.post(f"{user(target)}/password", json={"password": "a new password"},
                                      headers=adam)).status_code == 403
            assert (await client.delete(user(target), headers=adam)).status_code == 403
        promote = await client.patch(user("ann"), json={"role": "owner"}, headers=adam)
        assert promote.status_code == 403 and "only an owner" in promote.text
        assert (await client.patch(user("adam"), json={"role": "owner"}, headers=adam)).status_code == 403
        assert (await client.patch(user("ann"), json={"role": "admin"}, headers=adam)).json()["role"] == "admin"
        assert (await client.get("/api/v1/audit", headers=as_(p["ann"][1]))).status_code == 200  # admin at once
        assert (await client.patch(user("ann"), json={"role": "member"}, headers=adam)).status_code == 403
        owner = as_(p["owner"][1])
        back = await client.patch(user("ann"), json={"role": "member"}, headers=owner)
        assert back.status_code == 200 and back.json()["role"] == "member"
        assert (await client.get("/api/v1/audit", headers=as_(p["ann"][1]))).status_code == 403  # demoted now
        assert (await client.patch(user("boss"), json={"disabled": True}, headers=owner)).status_code == 200
        assert (await client.patch(user("ann"), json={}, headers=as_(p["ann"][1]))).status_code == 403  # member
        assert (await client.patch("/api/v1/users/nobody", json={"role": "admin"}, headers=owner)).status_code == 404
        bad_role = await client.patch(user("ann"), json={"role": "root"}, headers=owner)
        assert bad_role.status_code == 400 and bad_role.json()["error"]["details"]["field"] == "role"
        bad_flag = await client.patch(user("ann"), json={"disabled": "yes"}, headers=owner)
        assert bad_flag.status_code == 400 and "disabled" in bad_flag.text
        roles = [(e["details"]["previousRole"], e["details"]["role"]) for e in await audit(client, p["owner"][1],
                                                                                          "user.role")]
        assert roles == [("admin", "member"), ("member", "admin")]  # newest first

    run_with_services(tmp_path, body)


def test_the_last_owner_stays(tmp_path: Path) -> None:
    async def body(services: Harness, client: httpx.AsyncClient) -> None:
        p = await people(services, "owner@example.com:owner", "ann@example.com:member")
        me, owner = f"/api/v1/users/{p['owner'][0]}", as_(p["owner"][1])
        for change in ({"role": "admin"}, {"disabled": True}):
            refused = await client.patch(me, json=change, headers=owner)
            assert refused.status_code == 409 and "last owner" in refused.json()["error"]["message"], refused.text
        refused = await client.delete(me, params={"transferTo": p["ann"][0]}, headers=owner)
        assert refused.status_code == 409 and "last owner" in refused.text
        assert (await client.get("/api/v1/me", headers=owner)).json()["user"]["role"] == "owner"
        # with a second owner, the first may step down (and then may no longer act on owners)
        await client.patch(f"/api/v1/users/{p['ann'][0]}", json={"role": "owner"}, headers=owner)
        assert (await client.patch(me, json={"role": "admin"}, headers=owner)).json()["role"] == "admin"
        assert (await client.patch(f"/api/v1/users/{p['ann'][0]}", json={"disabled": True},
                                   headers=owner)).status_code == 403

    run_with_services(tmp_path, body)


def test_reset_password_ends_the_users_other_sessions(tmp_path: Path) -> None:
    async def body(services: Harness, client: httpx.AsyncClient) -> None:
        p = await people(services, "owner@example.com:owner", "ann@example.com:member")
        ann = await session_client(client, "ann@example.com")
        owner_browser, owner_tab = (await session_client(client, "owner@example.com"),
                                    await session_client(client, "owner@example.com"))
        ann_url = f"/api/v1/users/{p['ann'][0]}/password"
        short = await owner_browser.post(ann_url, json={"password": "short"})
        assert short.status_code == 400 and short.json()["error"]["details"]["field"] == "password"
        reset = await owner_browser.post(ann_url, json={"password": "her new password"})
        assert reset.status_code == 204, reset.text
        assert (await ann.get("/api/v1/workflows")).status_code == 401
        assert (await login(client, "ann@example.com")).status_code == 401
        assert (await login(client, "ann@example.com", "her new password")).status_code == 200
        assert (await client.get("/api/v1/workflows", headers=as_(p["ann"][1]))).status_code == 200  # keys stay

        own = await owner_browser.post(f"/api/v1/users/{p['owner'][0]}/password", json={"password": "mine, anew"})
        assert own.status_code == 204
        assert (await owner_browser.get("/api/v1/workflows")).status_code == 200  # this session goes on
        assert (await owner_tab.get("/api/v1/workflows")).status_code == 401  # the other one ended
        entries = await audit(client, p["owner"][1], "user.password")
        assert [e["details"]["ended"] for e in entries] == [{"sessions": 1}, {"sessions": 1}]
        assert all(secret not in str(entries) for secret in ("her new password", "mine, anew", "scrypt"))
        for signed in (ann, owner_browser, owner_tab):
            await signed.aclose()

    run_with_services(tmp_path, body)


def test_delete_transfers_workflows_and_credentials(tmp_path: Path) -> None:
    async def body(services: Harness, client: httpx.AsyncClient) -> None:
        p = await people(services, "owner@example.com:owner", "ann@example.com:member", "bob@example.com:member")
        (ann_id, ann_key), (bob_id, bob_key), owner = p["ann"], p["bob"], as_(p["owner"][1])
        flow = {"name": "ann's flow", "nodes": [{"name": "Start", "type": "manualTrigger", "position": [0, 0],
                                                "parameters": {}}], "connections": {}}
        wid = (await client.post("/api/v1/workflows", json=flow, headers=as_(ann_key))).json()["id"]
        cred = await client.post("/api/v1/credentials", headers=as_(ann_key), json={
            "name": "ann's token", "type": "httpBearerAuth", "data": {"token": "t0ken"}})
        cid = cred.json()["id"]
        ann_browser = await session_client(client, "ann@example.com")
        assert (await client.get(f"/api/v1/workflows/{wid}", headers=as_(bob_key))).status_code == 404

        url = f"/api/v1/users/{ann_id}"
        refused = await client.delete(url, headers=owner)
        assert refused.status_code == 409
        assert refused.json()["error"]["details"] == {"workflows": 1, "credentials": 1}
        assert "1 workflow and 1 credential" in refused.json()["error"]["message"]
        unknown = await client.delete(url, params={"transferTo": "nobody"}, headers=owner)
        assert unknown.status_code == 400 and unknown.json()["error"]["details"]["field"] == "transferTo"
        to_self = await client.delete(url, params={"transferTo": ann_id}, headers=owner)
        assert to_self.status_code == 400
        assert (await client.get("/api/v1/workflows", headers=as_(ann_key))).status_code == 200  # still here

        gone = await client.delete(url, params={"transferTo": bob_id}, headers=owner)
        assert gone.status_code == 204, gone.text
        assert (await client.get("/api/v1/workflows", headers=as_(ann_key))).status_code == 401
        assert (await ann_browser.get("/api/v1/workflows")).status_code == 401
        assert (await login(client, "ann@example.com")).status_code == 401
        assert (await client.get(f"/api/v1/workflows/{wid}", headers=as_(bob_key))).status_code == 200
        assert (await client.get(f"/api/v1/credentials/{cid}", headers=as_(bob_key))).status_code == 200
        assert (await client.get(f"/api/v1/workflows/{wid}/sharing", headers=owner)).json()["ownerId"] == bob_id
        assert [u["email"] for u in (await client.get("/api/v1/users", headers=owner)).json()["data"]] == [
            "owner@example.com", "bob@example.com"]
        assert (await client.delete(url, headers=owner)).status_code == 404
        (entry,) = await audit(client, p["owner"][1], "user.delete")
        assert entry["details"] == {"email": "ann@example.com", "role": "member", "transferTo": "bob@example.com",
                                    "workflows": 1, "credentials": 1}
        assert (await client.delete(f"/api/v1/users/{bob_id}", headers=owner)).status_code == 409  # owns them now
        await ann_browser.aclose()

    run_with_services(tmp_path, body)
