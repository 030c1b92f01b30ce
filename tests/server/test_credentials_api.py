"""Credentials over a real server: masked CRUD, nodes using a credential by id, 'test credential',
and no secret in clear text anywhere on disk (database, WAL, queue, logs)."""

from __future__ import annotations

import base64
import http.server
import json
import stat
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from support import node, workflow

from .conftest import Server

MASK = "__flowbox_secret__"


class Recorder(http.server.ThreadingHTTPServer):
    seen: list[dict[str, str]]


class Handler(http.server.BaseHTTPRequestHandler):
    server: Recorder

    def do_GET(self) -> None:  # noqa: N802
        self.server.seen.append({**dict(self.headers.items()), "path": self.path})
        status = 401 if self.path.startswith("/deny") else 200
        body = json.dumps({"ok": status == 200}).encode()  # never echoes what it received
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def remote() -> Iterator[Recorder]:
    srv = Recorder(("127.0.0.1", 0), Handler)
    srv.seen = []
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield srv
    srv.shutdown()
    srv.server_close()


def url_of(srv: Recorder, path: str = "/api") -> str:
    return f"http://127.0.0.1:{srv.server_address[1]}{path}"


def http_node(url: str, auth: str, cred: Any) -> dict[str, Any]:
    return {**node("Call", "httpRequest", url=url, authentication=auth), "credentials": {auth: cred}}


def run(api: Any, data: dict[str, Any]) -> dict[str, Any]:
    wid = api.post("/api/v1/workflows", json=data).json()["id"]
    return api.post(f"/api/v1/workflows/{wid}/run", json={"wait": True}).json()


def test_credentials_crud_is_masked_and_validated(server: Server) -> None:
    secret = f"pw-{uuid.uuid4().hex}"
    with server.client() as api:
        types = api.get("/api/v1/credential-types").json()["data"]
        by_name = {t["name"]: t for t in types}
        assert {"httpHeaderAuth", "httpBasicAuth", "httpBearerAuth", "httpQueryAuth", "oAuth2Api"} <= set(by_name)
        assert {f["name"]: f["secret"] for f in by_name["httpBasicAuth"]["fields"]} == {"user": False,
                                                                                          "password": True}

        res = api.post("/api/v1/credentials", json={"name": "Basic", "type": "httpBasicAuth",
                                                    "data": {"user": "ann", "password": secret}})
        assert res.status_code == 201, res.text
        made = res.json()
        assert made["data"] == {"user": "ann", "password": MASK} and secret not in res.text
        cid = made["id"]
        got = api.get(f"/api/v1/credentials/{cid}")
        assert got.status_code == 200 and got.json()["data"]["password"] == MASK and secret not in got.text
        listed = api.get("/api/v1/credentials")
        assert [c["id"] for c in listed.json()["data"]] == [cid] and secret not in listed.text
        assert api.get("/api/v1/credentials", params={"type": "httpBearerAuth"}).json()["data"] == []

        renamed = api.put(f"/api/v1/credentials/{cid}", json={"name": "Basic 2", "data": {"user": "bob",
                                                                                          "password": MASK}})
        assert renamed.status_code == 200 and renamed.json()["name"] == "Basic 2"
        assert renamed.json()["data"] == {"user": "bob", "password": MASK}

        for body, field in (({"type": "httpBasicAuth", "data": {}}, "name"),
                            ({"name": "x", "data": {}}, "type"),
                            ({"name": "x", "type": "httpBasicAuth"}, "data"),
                            ({"name": "x", "type": "noSuchType", "data": {}}, "type"),
                            ({"name": "x", "type": "httpBasicAuth", "data": {"user": "u"}}, "data.password")):
            res = api.post("/api/v1/credentials", json=body)
            assert res.status_code == 400, (body, res.text)
            assert field in json.dumps(res.json()["error"]), (field, res.text)

        assert api.get("/api/v1/credentials/nope").status_code == 404
        assert api.delete(f"/api/v1/credentials/{cid}").status_code == 204
        assert api.get(f"/api/v1/credentials/{cid}").status_code == 404


def test_nodes_use_credentials_by_id_and_no_secret_reaches_the_disk(server: Server, remote: Recorder) -> None:
    token = f"tok-{uuid.uuid4().hex}"
    password = f"pw-{uuid.uuid4().hex}"
    label = f"Bearer {uuid.uuid4().hex}"  # not secret: stored in clear, which shows the search looks in the right place
    with server.client() as api:
        bearer = api.post("/api/v1/credentials", json={"name": label, "type": "httpBearerAuth",
                                                       "data": {"token": token}}).json()["id"]
        basic = api.post("/api/v1/credentials", json={"name": "Basic", "type": "httpBasicAuth",
                                                      "data": {"user": "ann", "password": password}}).json()["id"]

        done = run(api, workflow(node("Start", "manualTrigger"), http_node(url_of(remote), "httpBearerAuth", bearer),
                                 name="bearer"))
        assert done["status"] == "success", done
        assert remote.seen[-1]["Authorization"] == f"Bearer {token}"

        done = run(api, workflow(node("Start", "manualTrigger"),
                                 http_node(url_of(remote), "httpBasicAuth", {"id": basic, "name": "Basic"}),
                                 name="basic"))
        assert done["status"] == "success", done
        assert remote.seen[-1]["Authorization"] == "Basic " + base64.b64encode(f"ann:{password}".encode()).decode()

        wrong = run(api, workflow(node("Start", "manualTrigger"), http_node(url_of(remote), "httpBasicAuth", bearer),
                                  name="wrong type"))
        assert wrong["status"] == "error" and wrong["error"]["node"] == "Call"
        assert bearer in wrong["error"]["message"] and "httpBearerAuth" in wrong["error"]["message"]
        missing = run(api, workflow(node("Start", "manualTrigger"),
                                    http_node(url_of(remote), "httpBearerAuth", "no-such-credential"), name="missing"))
        assert missing["status"] == "error" and "no-such-credential" in missing["error"]["message"]

        tested = api.post(f"/api/v1/credentials/{bearer}/test", json={"url": url_of(remote, "/me")})
        assert tested.status_code == 200 and tested.json()["ok"] is True, tested.text
        assert remote.seen[-1]["Authorization"] == f"Bearer {token}"
        denied = api.post(f"/api/v1/credentials/{bearer}/test", json={"url": url_of(remote, "/deny")}).json()
        assert denied["ok"] is False and denied["statusCode"] == 401
        plain = api.post(f"/api/v1/credentials/{basic}/test").json()
        assert plain["ok"] is True  # no test request declared: decrypts and has its fields
        for response in (tested, api.get("/api/v1/credentials"), api.get("/api/v1/executions")):
            assert token not in response.text and password not in response.text

    key_file = server.data_dir / "encryption.key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600

    basic_header = base64.b64encode(f"ann:{password}".encode())

    def search(when: str) -> None:
        files = [server.data_dir / name for name in ("flowbox.db", "flowbox.db-wal", "queue.db", "queue.db-wal")]
        files = [f for f in files if f.exists()] + [server.log]
        assert server.data_dir / "flowbox.db" in files and server.log.exists()
        stored = b""
        for path in [*files, *_other_files(server.data_dir, key_file)]:
            raw = path.read_bytes()
            stored += raw if path.name.startswith("flowbox.db") else b""
            for needle in (token.encode(), password.encode(), basic_header):
                assert needle not in raw, f"{when}: {needle!r} found in {path}"
        assert label.encode() in stored, f"{when}: the credential's name is not in the database files"

    search("while running")  # the WAL holds the latest writes now
    server.stop()  # SIGTERM: a clean shutdown
    search("after stopping")


def _other_files(data_dir: Path, key_file: Path) -> list[Path]:
    """Every other file the server left in its data dir (besides the key)."""
    named = {"flowbox.db", "flowbox.db-wal", "queue.db", "queue.db-wal"}
    return [p for p in data_dir.rglob("*") if p.is_file() and p.name not in named and p != key_file]
