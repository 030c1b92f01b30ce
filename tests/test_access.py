"""Ownership and sharing through the API: a member sees only what is theirs or shared with them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
import support
from support import Harness, run_with_services


def wf(name: str, credential: str | None = None) -> dict[str, Any]:
    """Start -> an HTTP Request that uses an httpHeaderAuth credential (`credential`, when given)."""
    request = {**support.node("Call", "httpRequest", url="http://127.0.0.1:9/", authentication="httpHeaderAuth"),
               "position": [200, 0]}
    if credential:
        request["credentials"] = {"httpHeaderAuth": {"id": credential}}
    return support.workflow(support.node("Start", "manualTrigger"), request, name=name)


async def keys(services: Harness) -> dict[str, dict[str, str]]:
    out = {}
    for name, role in (("owner", "owner"), ("ann", "member"), ("bob", "member")):
        user = await services.create_user(f"{name}@example.com", role, "long enough")
        key, _ = await services.create_api_key(f"{name}@example.com", name)
        out[name] = {"X-API-Key": key, "id": user["id"]}
    return out


def test_members_see_their_own_and_what_is_shared(tmp_path: Path) -> None:
    async def body(services: Harness, client: httpx.AsyncClient) -> None:
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
    async def body(services: Harness, client: httpx.AsyncClient) -> None:
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
    async def body(services: Harness, client: httpx.AsyncClient) -> None:
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


def test_what_a_member_workflow_may_reach(tmp_path: Path) -> None:
    """The review's paths around the save check: code node, sub-workflows, error workflow, listen, keys,
    shared-credential edits, variables, test listeners (each refused for a member, allowed where right)."""

    async def body(services: Harness, client: httpx.AsyncClient) -> None:
        k = await keys(services)
        ann, bob, owner = ({"X-API-Key": k[n]["X-API-Key"]} for n in ("ann", "bob", "owner"))
        start = {"name": "Start", "type": "manualTrigger", "position": [0, 0], "parameters": {}}

        def with_node(node: dict[str, Any], settings: dict[str, Any] | None = None) -> dict[str, Any]:
            return {"name": "w", "nodes": [start, {"position": [200, 0], **node}], "settings": settings or {},
                    "connections": {"Start": {"main": [[{"node": node["name"], "type": "main", "index": 0}]]}}}

        code = with_node({"name": "Py", "type": "code", "parameters": {"code": "return items"}})
        assert (await client.post("/api/v1/workflows", json=code, headers=bob)).status_code == 201  # sandboxed
        for env in ({"FLOWBOX_CODE_FOR_MEMBERS": "0"}, {"FLOWBOX_CODE_SANDBOX": "process"}):
            with pytest.MonkeyPatch.context() as patch:
                for key, value in env.items():
                    patch.setenv(key, value)
                refused = await client.post("/api/v1/workflows", json=code, headers=bob)
            assert refused.status_code == 403 and "code node" in refused.json()["error"]["message"], env
        with pytest.MonkeyPatch.context() as patch:
            patch.setenv("FLOWBOX_CODE_SANDBOX", "process")
            patch.setenv("FLOWBOX_CODE_FOR_MEMBERS", "1")
            assert (await client.post("/api/v1/workflows", json=code, headers=bob)).status_code == 201
        assert (await client.post("/api/v1/workflows", json=code, headers=owner)).status_code == 201
        anns = (await client.post("/api/v1/workflows", json=wf("ann's"), headers=ann)).json()["id"]
        for target in (anns, "/etc/flowbox/wf.json", "{{ $json.id }}"):
            sub = with_node({"name": "Sub", "type": "executeWorkflow", "parameters": {"workflow": target}})
            assert (await client.post("/api/v1/workflows", json=sub, headers=bob)).status_code == 403, target
        inline = with_node({"name": "Sub", "type": "executeWorkflow", "parameters": {
            "source": "json", "workflowJson": {"nodes": [{"name": "C", "type": "code", "parameters": {}}],
                                               "connections": {}}}})
        refused = await client.post("/api/v1/workflows", json=inline, headers=bob)
        assert refused.status_code == 403 and "as JSON" in refused.json()["error"]["message"]
        assert (await client.post("/api/v1/workflows", json=inline, headers=owner)).status_code == 201
        shell = with_node({"name": "Cmd", "type": "executeCommand", "parameters": {"command": "id"}})
        refused = await client.post("/api/v1/workflows", json=shell, headers=bob)
        assert refused.status_code == 403 and "runs commands on this server" in refused.json()["error"]["message"]
        assert (await client.post("/api/v1/workflows", json=shell, headers=owner)).status_code == 201
        err = with_node({"name": "Noop", "type": "noOp", "parameters": {}}, settings={"errorWorkflow": anns})
        assert (await client.post("/api/v1/workflows", json=err, headers=bob)).status_code == 403
        assert (await client.post("/api/v1/workflows", json=err, headers=ann)).status_code == 201
        # listening with an unsaved workflow that names someone else's credential
        cred = (await client.post("/api/v1/credentials", headers=ann, json={
            "name": "t", "type": "httpHeaderAuth", "data": {"name": "X-T", "value": "ann-secret"}})).json()["id"]
        hook = {"name": "Hook", "type": "webhook", "position": [0, 0], "parameters": {"path": "bob-hook"}}
        mine = (await client.post("/api/v1/workflows", json={"name": "bob hook", "nodes": [hook], "connections": {}},
                                  headers=bob)).json()["id"]
        sneaky = {"name": "bob hook", "nodes": [hook, {**wf("x", cred)["nodes"][1]}],
                  "connections": {"Hook": {"main": [[{"node": "Call", "type": "main", "index": 0}]]}}}
        listen = await client.post(f"/api/v1/workflows/{mine}/listen", json={"workflow": sneaky, "timeout": 1},
                                   headers=bob)
        assert listen.status_code == 403
        # a shared credential: usable, not editable (its secrets could be sent elsewhere), no test to any url
        await client.put(f"/api/v1/credentials/{cred}/sharing", json={"userIds": [k["bob"]["id"]]}, headers=ann)
        edit = await client.put(f"/api/v1/credentials/{cred}", json={"name": "mine now"}, headers=bob)
        assert edit.status_code == 403
        probe = await client.post(f"/api/v1/credentials/{cred}/test", json={"url": "http://127.0.0.1:9/"},
                                  headers=bob)
        assert probe.status_code == 403
        # variables are read by every workflow: only admins change them
        assert (await client.post("/api/v1/variables", json={"key": "URL", "value": "x"}, headers=bob)
                ).status_code == 403
        assert (await client.post("/api/v1/variables", json={"key": "URL", "value": "x"}, headers=owner)
                ).status_code == 201

    run_with_services(tmp_path, body)


def test_an_admin_cannot_mint_keys_for_the_owner(tmp_path: Path) -> None:
    async def body(services: Harness, client: httpx.AsyncClient) -> None:
        k = await keys(services)
        await services.create_user("admin@example.com", "admin", "long enough")
        admin_key, _ = await services.create_api_key("admin@example.com")
        admin = {"X-API-Key": admin_key}
        for_owner = await client.post("/api/v1/api-keys", json={"userEmail": "owner@example.com"}, headers=admin)
        assert for_owner.status_code == 403
        for_member = await client.post("/api/v1/api-keys", json={"userEmail": "ann@example.com"}, headers=admin)
        assert for_member.status_code == 201
        owners = [key for key in (await client.get("/api/v1/api-keys", headers=admin)).json()["data"]
                  if key["userId"] == k["owner"]["id"]]
        assert (await client.delete(f"/api/v1/api-keys/{owners[0]['id']}", headers=admin)).status_code == 403

    run_with_services(tmp_path, body)


def test_a_test_webhook_listener_cannot_be_taken_over(tmp_path: Path) -> None:
    import asyncio

    from flowbox.errors import Conflict

    async def body(services: Harness, client: httpx.AsyncClient) -> None:
        hook = {"name": "Hook", "type": "webhook", "position": [0, 0], "parameters": {"path": "shared-path"}}
        first = await services.create_workflow({"name": "a", "nodes": [hook], "connections": {}})
        second = await services.create_workflow({"name": "b", "nodes": [hook], "connections": {}})
        listening = asyncio.ensure_future(services.listen_test(first.id, timeout=5))
        await asyncio.sleep(0.1)
        try:
            with pytest.raises(Conflict, match="another workflow is listening"):
                await services.listen_test(second.id, timeout=1)
        finally:
            listening.cancel()

    run_with_services(tmp_path, body)
