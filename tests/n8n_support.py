"""Builders for n8n-format workflows in tests (written from n8n's documentation of its export format:
nodes with `type` `n8n-nodes-base.<name>`, `typeVersion`, `parameters` without their defaults, and
connections by node name)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from flowbox.cli import main


def n8n_node(name: str, kind: str, version: float = 1, parameters: dict[str, Any] | None = None,
             **fields: Any) -> dict[str, Any]:
    """An n8n node `n8n-nodes-base.<kind>` (node settings such as onError as keyword fields)."""
    return {"parameters": parameters or {}, "name": name, "type": f"n8n-nodes-base.{kind}", "typeVersion": version,
            "position": [0, 0], "id": f"id-{name}", **fields}


def n8n_chain(*names: str) -> dict[str, Any]:
    """Connections output 0 -> input 0 along `names`."""
    return {a: {"main": [[{"node": b, "type": "main", "index": 0}]]} for a, b in zip(names, names[1:], strict=False)}


def n8n_workflow(*nodes: dict[str, Any], connections: dict[str, Any] | None = None, **fields: Any) -> dict[str, Any]:
    """An n8n export: the nodes chained in order unless `connections` is given."""
    return {"name": "from n8n", "nodes": list(nodes),
            "connections": n8n_chain(*(n["name"] for n in nodes)) if connections is None else connections,
            "settings": {"executionOrder": "v1"}, "active": False, **fields}


def cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """`flowbox.cli.main(args)`: (exit code, stdout, stderr)."""
    try:
        main(list(args))
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


def run_json(capsys: pytest.CaptureFixture[str], tmp_path: Path, data: dict[str, Any]) -> dict[str, Any]:
    """`flowbox run FILE --json` of an n8n export: the printed execution (exit 0 asserted)."""
    path = tmp_path / "export.json"
    path.write_text(json.dumps(data))
    code, out, err = cli(capsys, "run", str(path), "--json", "--data-dir", str(tmp_path / "data"))
    assert code == 0, err
    return json.loads(out)


def outputs(result: dict[str, Any], name: str, output: int = 0) -> list[dict[str, Any]]:
    """What node `name` output (its last run, output `output`), as n8n's test harness compares it."""
    return result["nodes"][name][-1]["outputs"][output]


def placeholder_check(kind: str, version: float, params: dict[str, Any], reason: str) -> None:
    """n8n's `kind` node with `params` converts to a placeholder whose reason, and the report, say `reason`."""
    from flowbox.n8n import PLACEHOLDER, convert

    conversion = convert(n8n_workflow(n8n_node("Start", "manualTrigger"), n8n_node("Node", kind, version, params)))
    node = conversion.workflow["nodes"][1]
    assert node["type"] == PLACEHOLDER
    assert reason in node["parameters"]["reason"]
    assert node["parameters"]["n8nType"] == f"n8n-nodes-base.{kind}"
    assert any(e.level == "unsupported" and e.node == "Node" and reason in e.message for e in conversion.report)
