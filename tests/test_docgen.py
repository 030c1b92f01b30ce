"""Generated node docs (`flowbox.docgen`): every node is documented from its schema, and `docs/nodes` is current."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from flowbox import docgen
from flowbox.workflow import load_workflow, validate

DOCS = Path(__file__).resolve().parent.parent / "docs" / "nodes"
SPECS = docgen.node_specs()


def test_every_node_has_a_description_a_group_and_an_icon():
    missing = [f"{s.type}: no {what}" for s in SPECS for what in ("description", "group", "icon")
               if not str(getattr(s, what)).strip()]
    assert not missing, missing


@pytest.mark.parametrize("spec", SPECS, ids=[s.type for s in SPECS])
def test_each_example_workflow_loads_and_validates(spec):
    example = docgen.example_workflow(spec)
    specs = validate(load_workflow(example))
    assert spec.type in {s.type for s in specs.values()}
    if not spec.trigger and spec.inputs:
        assert example["nodes"][0]["type"] == "manualTrigger"


def test_a_page_shows_the_schema_credentials_operations_and_example():
    page = docgen.render(SPECS)["slack.md"]
    assert page.startswith(docgen.HEADER)
    assert "type `slack` · group **integration** · icon `chat`" in page
    assert "**Slack API** (`slackApi`, signs: bearer)" in page
    assert "| `channel` | `list` | `GET /conversations.list` (pages: cursor) |" in page
    assert ("| `limit` (Limit) | number | `50` | How many items to return at most. At least 1. Shown when `resource` "
            "is `\"channel\"` and `operation` is `\"list\"` and `returnAll` is `false`. |") in page
    assert '"channel": "C0123456789"' in page and '"slackApi": "<credential id>"' in page
    index = docgen.render(SPECS)["README.md"]
    assert "| [Slack](slack.md) | `slack` |" in index
    assert "/webhook/&lt;path&gt;" in index  # not swallowed as an HTML tag


def test_the_command_writes_checks_and_removes_stale_pages(tmp_path):
    out = tmp_path / "nodes"
    command = [sys.executable, "-m", "flowbox.docgen", "--out", str(out)]
    subprocess.run(command, check=True, capture_output=True)
    assert {p.name for p in out.iterdir()} == {f"{s.type}.md" for s in SPECS} | {"README.md"}
    assert subprocess.run([*command, "--check"], capture_output=True).returncode == 0
    (out / "gone.md").write_text("old")
    (out / "slack.md").write_text("edited by hand")
    check = subprocess.run([*command, "--check"], capture_output=True, text=True)
    assert check.returncode == 1 and "changed slack.md" in check.stderr and "stale gone.md" in check.stderr
    assert docgen.write(out, docgen.render(SPECS)) == ["changed slack.md", "stale gone.md"]
    assert not (out / "gone.md").exists() and docgen.differences(out, docgen.render(SPECS)) == []


def test_committed_docs_are_up_to_date():
    problems = docgen.differences(DOCS, docgen.render(SPECS))
    assert not problems, (f"docs/nodes is out of date ({', '.join(problems)}); regenerate it with "
                          "`python -m flowbox.docgen` from the repository root")
