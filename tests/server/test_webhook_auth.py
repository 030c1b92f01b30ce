"""Webhooks that require basic or header auth (from a stored credential): 401 missing, 403 wrong, 200 right;
the caller's secret does not end up in the execution history."""

from __future__ import annotations

from typing import Any

from support import node, workflow


def hook(path: str, auth: str, credential: str) -> dict[str, Any]:
    return {**node("Hook", "webhook", path=path, method="POST", respond="lastNode", authentication=auth),
            "credentials": {auth: credential}}


def test_basic_and_header_auth_on_webhooks(server: Any) -> None:
    with server.client() as http:
        basic = http.post("/api/v1/credentials", json={"name": "caller", "type": "httpBasicAuth",
                                                       "data": {"user": "shop", "password": "pw-7x9"}}).json()["id"]
        header = http.post("/api/v1/credentials", json={"name": "token", "type": "httpHeaderAuth",
                                                        "data": {"name": "X-Token", "value": "tok-42"}}).json()["id"]
        for path, auth, cred in (("basic", "httpBasicAuth", basic), ("header", "httpHeaderAuth", header)):
            wid = http.post("/api/v1/workflows", json=workflow(hook(path, auth, cred), name=path)).json()["id"]
            assert http.post(f"/api/v1/workflows/{wid}/activate").status_code == 200

        missing = http.post("/webhook/basic", json={})
        assert missing.status_code == 401 and missing.headers["www-authenticate"].startswith("Basic")
        assert http.post("/webhook/basic", json={}, auth=("shop", "wrong")).status_code == 403
        ok = http.post("/webhook/basic", json={"a": 1}, auth=("shop", "pw-7x9"))
        assert ok.status_code == 200 and ok.json()["body"] == {"a": 1}
        assert "authorization" not in ok.json()["headers"]

        assert http.post("/webhook/header", json={}).status_code == 401
        assert http.post("/webhook/header", json={}, headers={"X-Token": "nope"}).status_code == 403
        good = http.post("/webhook/header", json={}, headers={"X-Token": "tok-42"})
        assert good.status_code == 200 and "x-token" not in good.json()["headers"]

        runs = http.get("/api/v1/executions").json()["data"]
        assert len(runs) == 2  # refused calls run nothing
        for run in runs:
            text = http.get(f"/api/v1/executions/{run['id']}").text
            assert "pw-7x9" not in text and "tok-42" not in text and "c2hvcDpwdy03eDk" not in text

        unset = workflow({**node("Hook", "webhook", path="unset", method="POST", authentication="httpBasicAuth")},
                         name="unset")
        wid = http.post("/api/v1/workflows", json=unset).json()["id"]
        refused = http.post(f"/api/v1/workflows/{wid}/activate")
        assert refused.status_code == 422 and "needs a httpBasicAuth credential" in refused.json()["error"]["message"]
