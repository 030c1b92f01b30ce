"""A real server with an owner made by the CLI: the API needs the key `flowbox apikey create` printed."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path
from typing import Any

from .conftest import FLOWBOX


def flowbox(data_dir: Path, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([FLOWBOX, *args, "--data-dir", str(data_dir)], input=stdin, capture_output=True,
                          text=True, timeout=60)


def test_cli_owner_and_key_guard_the_api(tmp_path: Path, make_server: Any) -> None:
    data = tmp_path / "data"
    made = flowbox(data, "user", "create", "owner@example.com", "--role", "owner", "--password-stdin",
                   stdin="a long password\n")
    assert made.returncode == 0, made.stderr
    assert "a long password" not in made.stdout + made.stderr
    again = flowbox(data, "user", "create", "OWNER@example.com", "--password-stdin", stdin="a long password\n")
    assert again.returncode != 0 and "already exists" in again.stderr
    created = flowbox(data, "apikey", "create", "--user", "owner@example.com")
    assert created.returncode == 0, created.stderr
    key = created.stdout.strip()
    assert key.startswith("fbk_") and len(key) == 47 and key not in created.stderr
    assert flowbox(data, "apikey", "create", "--user", "nobody@example.com").returncode == 2

    server = make_server(data_dir=data).start()
    with server.client() as client:
        assert client.get("/healthz").status_code == 200
        denied = client.get("/api/v1/workflows")
        assert denied.status_code == 401
        assert denied.json()["error"]["code"] == "unauthorized"
        assert client.get("/api/v1/workflows", headers={"X-API-Key": key}).status_code == 200
        wrong = client.get("/api/v1/workflows", headers={"X-API-Key": key[:-4] + "AAAA"})
        assert wrong.status_code == 401
        me = client.get("/api/v1/me", headers={"X-API-Key": key}).json()["user"]
        assert me["email"] == "owner@example.com" and me["role"] == "owner"
    # the key is stored only as a hash
    assert key.encode() not in (data / "flowbox.db").read_bytes()
    listed = flowbox(data, "apikey", "list")
    assert listed.returncode == 0 and key[:12] in listed.stdout and key not in listed.stdout
    key_id = listed.stdout.split()[0]
    assert flowbox(data, "apikey", "revoke", key_id).returncode == 0
    assert flowbox(data, "apikey", "list").stdout.strip() == ""
    assert flowbox(data, "apikey", "revoke", key_id).returncode == 2  # not found
    with server.client() as client:
        deadline = time.monotonic() + 15  # the server trusts a verified key for up to 10 s
        while client.get("/api/v1/workflows", headers={"X-API-Key": key}).status_code != 401:
            assert time.monotonic() < deadline, "a revoked key still works"
            time.sleep(0.5)
