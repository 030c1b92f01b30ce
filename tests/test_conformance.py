"""Run every conformance case (tests/cases and ../shared/conformance/cases) against the installed CLI.

Uses the shared runner's `check()` so our cases are judged exactly as outside checks judge them.
"""

from __future__ import annotations

import importlib.util
import json
import shutil
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared" / "conformance"
FLOWBOX = Path(sys.executable).with_name("flowbox")


def _runner():  # type: ignore[no-untyped-def]
    path = SHARED / "run.py"
    if not path.exists():
        return None
    spec = importlib.util.spec_from_file_location("conformance_run", path)
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module


RUNNER = _runner()
CASES = sorted((ROOT / "tests" / "cases").glob("*.json")) + sorted((SHARED / "cases").glob("*.json"))


@pytest.mark.parametrize("case", CASES, ids=[f"{p.parent.parent.name}/{p.stem}" for p in CASES])
def test_case(case: Path) -> None:
    if RUNNER is None:
        pytest.skip(f"the conformance runner {SHARED / 'run.py'} is not here")
    flowbox = str(FLOWBOX) if FLOWBOX.exists() else shutil.which("flowbox")
    assert flowbox, "flowbox is not installed in this environment"
    data = json.loads(case.read_text())
    with pytest.MonkeyPatch.context() as patch:  # "env": what the case needs set (the runner passes os.environ)
        for key, value in (data.get("env") or {}).items():
            patch.setenv(key, value)
        problem = RUNNER.check(data, [flowbox])
    assert problem is None, problem
