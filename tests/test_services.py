"""The runtime in-process with a real SQLite data dir: the editor's manual runs."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from support import Harness, node, unsandboxed_code, workflow  # noqa: F401 - unsandboxed_code is a fixture

from flowbox.settings import Settings


@pytest.mark.usefixtures("unsandboxed_code")  # the code nodes count their runs in a file
def test_manual_run_reports_live_and_partial_run_reuses_earlier_data(tmp_path: Path) -> None:
    counter = tmp_path / "count"
    data = workflow(node("Start", "manualTrigger"),
              node("Count", "code", code=f"import pathlib\np = pathlib.Path({str(counter)!r})\n"
                                         "n = int(p.read_text()) + 1 if p.exists() else 1\np.write_text(str(n))\n"
                                         "return [{'n': n}]"),
              node("Label", "set", fields={"label": "run {{ $json.n }}"}),
              node("Never", "noOp"))

    async def main() -> None:
        services = Harness(Settings.load(tmp_path / "data"))
        await services.start(consume=False, schedule=False)
        events: list[str] = []

        async def started(name: str) -> None:
            events.append(f"start {name}")

        async def finished(run: Any) -> None:
            events.append(f"done {run.node} {sum(len(o) for o in run.outputs)}")

        try:
            first = await services.run_manual(data, on_node_start=started, on_node_run=finished)
            assert first.status == "success"
            assert events[:2] == ["start Start", "done Start 1"] and "done Label 1" in events
            saved = await services.get_execution(first.execution_id)
            assert saved.mode == "manual" and saved.workflow_id is None
            data["nodes"][2]["parameters"]["fields"]["label"] = "again {{ $json.n }}"
            second = await services.run_manual(data, destination="Label", previous=first.execution_id)
            assert [i.json for i in second.runs["Label"][0].outputs[0]] == [{"n": 1, "label": "again 1"}]
            assert "Never" not in second.runs and counter.read_text() == "1"  # Count was reused, not run
        finally:
            await services.stop(timeout=1)

    asyncio.run(main())
