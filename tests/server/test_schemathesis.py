"""Schemathesis against the real server's OpenAPI (`/api/docs/openapi.json`) with a valid API key:
no 5xx and no response that contradicts the schema, on every operation (bounded: 20 examples each)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

from .conftest import FLOWBOX

SCHEMATHESIS = str(Path(sys.executable).with_name("schemathesis"))


def test_the_api_keeps_its_schema_under_generated_requests(tmp_path: Path, make_server: Any) -> None:
    data = tmp_path / "data"
    for args, stdin in ((["user", "create", "owner@example.com", "--role", "owner", "--password-stdin"],
                         "a long password\n"), (["apikey", "create", "--user", "owner@example.com"], None)):
        done = subprocess.run([FLOWBOX, *args, "--data-dir", str(data)], input=stdin, capture_output=True,
                              text=True, timeout=60)
        assert done.returncode == 0, done.stderr
    key = done.stdout.strip()
    server = make_server(data_dir=data).start()
    run = subprocess.run(
        [SCHEMATHESIS, "run", f"{server.url}/api/docs/openapi.json", "--header", f"X-API-Key: {key}",
         "--checks", "not_a_server_error,response_schema_conformance", "--max-examples", "20",
         "--request-timeout", "15", "--generation-deterministic", "--no-color"],
        capture_output=True, text=True, timeout=600, cwd=tmp_path)
    summary = run.stdout[-3000:]
    assert run.returncode == 0, f"{summary}\n--- server log ---\n{server.logs()}"
    assert " passed" in summary and "failures" not in summary.split("SUMMARY")[-1]
    assert "unexpected error" not in server.logs() and "Traceback" not in server.logs()
