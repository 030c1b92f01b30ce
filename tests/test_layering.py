"""Module boundaries (DESIGN §1): the engine knows nothing of HTTP, storage or UI; the store knows no nodes;
and `flowbox run` does not import the web stack."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

SRC = Path(__file__).resolve().parent.parent / "src" / "flowbox"

FORBIDDEN = {
    "engine": ("flowbox.store", "flowbox.api", "flowbox.ui", "flowbox.services", "flowbox.cli", "litestar",
               "nicegui", "fastapi", "starlette", "sqlite3", "aiosqlite", "psycopg"),
    "store": ("flowbox.engine", "flowbox.nodes", "flowbox.node", "flowbox.registry", "flowbox.api", "flowbox.ui",
              "flowbox.services", "litestar", "nicegui"),
}


def imports_of(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


def test_packages_respect_their_boundaries() -> None:
    problems = []
    for package, forbidden in FORBIDDEN.items():
        for path in (SRC / package).glob("*.py"):
            for name in imports_of(path):
                if any(name == f or name.startswith(f + ".") for f in forbidden):
                    problems.append(f"{path.relative_to(SRC)} imports {name}")
    assert not problems, problems


def test_api_and_ui_reach_the_store_only_through_services() -> None:
    ui = SRC.parent.parent / "ui"
    problems = []
    for path in [*(SRC / "api").glob("*.py"), *ui.glob("*.py")]:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Attribute) and node.attr == "store":
                problems.append(f"{path.name}:{node.lineno} uses .store")
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith(
                    ("flowbox.store.sqlite", "flowbox.store.postgres", "flowbox.engine")):
                problems.append(f"{path.name}:{node.lineno} imports {node.module}")
    assert not problems, problems


def test_run_path_does_not_import_the_web_stack(tmp_path: Path) -> None:
    code = (
        "import sys; from flowbox.cli import main\n"
        "try:\n    main(['run', sys.argv[1], '--json', '--data-dir', sys.argv[2]])\n"
        "except SystemExit: pass\n"
        "heavy = [m for m in ('litestar', 'nicegui', 'fastapi', 'uvicorn', 'httpx', 'huey', 'sqlite_utils')"
        " if m in sys.modules]\n"
        "print('HEAVY', heavy, file=sys.stderr)\n"
    )
    wf = tmp_path / "wf.json"
    wf.write_text('{"nodes": [{"name": "Start", "type": "manualTrigger", "parameters": {}}], "connections": {}}')
    subprocess.run([sys.executable, "-c", code, str(wf), str(tmp_path / "d")], check=True)  # migrates the store
    proc = subprocess.run([sys.executable, "-c", code, str(wf), str(tmp_path / "d")], capture_output=True,
                          text=True, check=True)
    assert "HEAVY []" in proc.stderr, proc.stderr


def test_every_package_is_in_the_wheel() -> None:
    """pyproject lists packages explicitly: a new sub-package missing there is missing from the wheel (and
    from the Docker image built from it)."""
    import tomllib

    root = Path(__file__).parents[1]
    listed = set(tomllib.loads((root / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    found = {"flowbox." + ".".join(p.parent.relative_to(root / "src" / "flowbox").parts)
             for p in (root / "src" / "flowbox").rglob("__init__.py")}
    found = {name.rstrip(".") for name in found} | {"flowbox.nodes", "flowbox.ui"}
    assert found <= listed, f"add to [tool.setuptools] packages in pyproject.toml: {sorted(found - listed)}"
