"""Ownership and sharing through the API: a member sees only what is theirs or shared with them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
from support import run_with_services

from flowbox.services import Services


def wf(name: str, credential: str | None = None) -> dict[str, Any]:
    request: dict[str, Any] = {"name": "Call", "type": "httpRequest", "position": [200, 0],
                               "parameters": {"url": "http://127.0.0.1:9/", "authentication": "httpHeaderAuth"}}
    if credential:
        request["credentials"] = {"httpHeaderAuth": {"id": credential}}
    return {"name": name, "nodes": [{"name": "Start", "type": "manualTrigger", "position": [0, 0], "parameters": {}},
                                    request],
            "connections": {"Start": {"main": [[{"node": "Call", "type": "main", "index": 0}]]}}}


async def keys(services: Services) -> dict[str, dict[str, str]]:
    out = {}
    for name, role in (("owner", "owner"), ("ann", "member"), ("bob", "member")):
        user = await services.create_user(f"{name}@example.com", role, "long enough")
        key, _ = await services.create_api_key(f"{name}@example.com", name)
        out[name] = {"X-API-Key": key, "id": user["id"]}
    return out


def test_members_see_their_own_and_what_is_shared(tmp_path: Path) -> None:
    async def body(services: Services, client: httpx.AsyncClient) -> None:
        k = await keys(services)
        ann, bob, owner = ({"X-API-Key": k[n]["X-API-Key"]} for n in ("ann", "bob", "owner"))
        made = await client.post("/api/v1/workflows", json=wf("ann's"), headers=ann)
        assert made.status_code == 201, made.text
        wid = made.json()["id"]
        assert (await client.get(f"/api/v1/workflows/{wid}", headers=bob)).status_code == 404
        assert (await client.get("/api/v1/workflows", headers=bob)).json()["data"] == []
        assert [w["id"] for w in (await client.get("/api/v1/workflows", headers=owner)).json()["data"]] == [wid]
        assert (await client.put(f"/api/v1/workflows/{wid}", json=wf("x"), headers=bob)).status_code == 404
        assert (await client.delete(f"/api/v1/workflows/{wid}", headers=bob)).status_code == 404
        assert (await client.post(f"/api/v1/workflows/{wid}/run", json={}, headers=bob)).status_code == 404
        ran = await client.post(f"/api/v1/workflows/{wid}/run", json={"wait": False}, headers=ann)
        assert ran.status_code in (200, 202), ran.text
        execution = ran.json()["id"]
        assert (await client.get(f"/api/v1/executions/{execution}", headers=bob)).status_code == 404
        assert (await client.get("/api/v1/executions", headers=bob)).json()["data"] == []
        # share with bob: he may read, change and run it, not delete or re-share it
        shared = await client.put(f"/api/v1/workflows/{wid}/sharing", json={"userIds": [k["bob"]["id"]]},
                                  headers=ann)
        assert shared.status_code == 200 and shared.json()["sharedWith"] == [k["bob"]["id"]]
        assert (await client.get(f"/api/v1/workflows/{wid}", headers=bob)).status_code == 200
        assert [e["id"] for e in (await client.get("/api/v1/executions", headers=bob)).json()["data"]] == [execution]
        assert (await client.put(f"/api/v1/workflows/{wid}", json=wf("bob renamed"), headers=bob)).status_code == 200
        assert (await client.delete(f"/api/v1/workflows/{wid}", headers=bob)).status_code == 403
        reshare = await client.put(f"/api/v1/workflows/{wid}/sharing", json={"userIds": []}, headers=bob)
        assert reshare.status_code == 403
        assert (await client.delete(f"/api/v1/workflows/{wid}", headers=ann)).status_code == 204

    run_with_services(tmp_path, body)


def test_a_member_cannot_use_a_credential_not_shared_with_them(tmp_path: Path) -> None:
    async def body(services: Services, client: httpx.AsyncClient) -> None:
        k = await keys(services)
        ann, bob = ({"X-API-Key": k[n]["X-API-Key"]} for n in ("ann", "bob"))
        cred = await client.post("/api/v1/credentials", headers=ann,
                                 json={"name": "ann's token", "type": "httpHeaderAuth",
                                       "data": {"name": "X-Token", "value": "s3cret-value"}})
        assert cred.status_code == 201, cred.text
        cid = cred.json()["id"]
        assert (await client.get("/api/v1/credentials", headers=bob)).json()["data"] == []
        assert (await client.get(f"/api/v1/credentials/{cid}", headers=bob)).status_code == 404
        stolen = await client.post("/api/v1/workflows", json=wf("exfiltrate", cid), headers=bob)
        assert stolen.status_code == 403
        assert "Call" in stolen.json()["error"]["message"]
        assert (await client.post("/api/v1/workflows", json=wf("mine", cid), headers=ann)).status_code == 201
        await client.put(f"/api/v1/credentials/{cid}/sharing", json={"userIds": [k["bob"]["id"]]}, headers=ann)
        assert (await client.post("/api/v1/workflows", json=wf("allowed", cid), headers=bob)).status_code == 201
        assert (await client.delete(f"/api/v1/credentials/{cid}", headers=bob)).status_code == 403
        listed = (await client.get("/api/v1/credentials", headers=bob)).json()["data"]
        assert [c["id"] for c in listed] == [cid] and "s3cret-value" not in str(listed)

    run_with_services(tmp_path, body)


def test_api_keys_members_manage_their_own(tmp_path: Path) -> None:
    async def body(services: Services, client: httpx.AsyncClient) -> None:
        k = await keys(services)
        ann, bob, owner = ({"X-API-Key": k[n]["X-API-Key"]} for n in ("ann", "bob", "owner"))
        mine = (await client.get("/api/v1/api-keys", headers=ann)).json()["data"]
        assert [key["name"] for key in mine] == ["ann"] and "keyHash" not in str(mine)
        assert len((await client.get("/api/v1/api-keys", headers=owner)).json()["data"]) == 3
        made = await client.post("/api/v1/api-keys", json={"name": "ci"}, headers=ann)
        assert made.status_code == 201 and made.json()["key"].startswith("fbk_")
        new_key = made.json()["key"]
        assert (await client.get("/api/v1/me", headers={"X-API-Key": new_key})).json()["user"]["email"] == \
            "ann@example.com"
        other = await client.post("/api/v1/api-keys", json={"name": "x", "userEmail": "bob@example.com"}, headers=ann)
        assert other.status_code == 403
        bobs = (await client.get("/api/v1/api-keys", headers=bob)).json()["data"][0]["id"]
        assert (await client.delete(f"/api/v1/api-keys/{bobs}", headers=ann)).status_code == 404
        assert (await client.delete(f"/api/v1/api-keys/{made.json()['id']}", headers=ann)).status_code == 204
        assert (await client.get("/api/v1/me", headers={"X-API-Key": new_key})).status_code == 401  # revoked now

    run_with_services(tmp_path, body)
