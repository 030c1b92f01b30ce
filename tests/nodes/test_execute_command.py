"""executeCommand through the real engine: off unless the server turns it on, then real /bin/sh commands in the
files folder with a small environment, their exit codes and output, once or per item, and the time limit."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from conftest import RunNode, workflow

from flowbox.engine.runner import EngineServices, ExecutionResult
from flowbox.errors import WorkflowInvalid
from flowbox.workflow import load_workflow, validate_for_run


def command(**params: Any) -> dict[str, Any]:
    return {"name": "Cmd", "type": "executeCommand", "parameters": params}


def out(result: ExecutionResult) -> list[dict[str, Any]]:
    assert result.status == "success", result.error
    return [i.json for i in result.runs["Cmd"][-1].outputs[0]]


@pytest.fixture
def services(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> EngineServices:
    """Commands turned on, a secret in the server's environment, a files folder of the test's own."""
    monkeypatch.setenv("FLOWBOX_EXECUTE_COMMAND", "1")
    monkeypatch.setenv("FLOWBOX_TEST_SECRET", "do-not-leak")
    found = EngineServices()
    found.files_dir = tmp_path / "files"
    return found


def test_off_unless_the_server_turns_it_on(monkeypatch: pytest.MonkeyPatch, run_node: RunNode) -> None:
    monkeypatch.delenv("FLOWBOX_EXECUTE_COMMAND", raising=False)
    with pytest.raises(WorkflowInvalid, match="Execute Command is off on this server: set FLOWBOX_EXECUTE_COMMAND=1"):
        validate_for_run(load_workflow(workflow(command(command="id"))))
    result = run_node(command(command="id"))  # a runner given the workflow anyway refuses in the node
    assert result.status == "error" and "FLOWBOX_EXECUTE_COMMAND=1" in result.error["message"]


def test_once_or_per_item_with_exit_code_and_trimmed_output(run_node: RunNode, services: EngineServices) -> None:
    items = [{"word": "alpha"}, {"word": "beta"}]
    once = run_node(command(command="echo {{ $json.word }}; echo oops >&2; exit 3"), items, services=services)
    assert out(once) == [{"exitCode": 3, "stderr": "oops", "stdout": "alpha"}]
    each = run_node(command(command="echo {{ $json.word }}", executeOnce=False), items, services=services)
    assert [o["stdout"] for o in out(each)] == ["alpha", "beta"]


def test_runs_in_the_files_folder_without_the_servers_environment(run_node: RunNode,
                                                                  services: EngineServices) -> None:
    result = run_node(command(command='pwd; echo "[$FLOWBOX_TEST_SECRET]"; echo "$PATH" | grep -c bin'),
                      services=services)
    [row] = out(result)
    assert row["stdout"].splitlines() == [str(services.files_dir.resolve()), "[]", "1"]


def test_a_command_past_its_time_limit_is_stopped(run_node: RunNode, services: EngineServices) -> None:
    started = time.monotonic()
    result = run_node(command(command="sleep 30", timeout=1), services=services)
    assert result.status == "error" and "ran longer than 1 s" in result.error["message"]
    assert time.monotonic() - started < 10
