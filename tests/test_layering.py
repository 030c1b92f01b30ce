"""Module boundaries (DESIGN §1): the engine knows nothing of HTTP, storage or UI; the store knows no nodes;
no import cycle anywhere in `flowbox`; core code never tests a node's type; and `flowbox run` does not
import the web stack."""

from __future__ import annotations

import ast
import subprocess
import sys
from collections.abc import Collection
from pathlib import Path

SRC = Path(__file__).resolve().parent.parent / "src" / "flowbox"

# the server's parts above the engine and the store: the composition root and what it composes
SERVER = ("flowbox.runtime", "flowbox.operations", "flowbox.runs", "flowbox.webhooks", "flowbox.workflows",
          "flowbox.accounts", "flowbox.credential_vault", "flowbox.access")
FORBIDDEN = {
    "engine": ("flowbox.store", "flowbox.api", "flowbox.ui", *SERVER, "flowbox.cli", "litestar",
               "nicegui", "fastapi", "starlette", "sqlite3", "aiosqlite", "psycopg"),
    "store": ("flowbox.engine", "flowbox.nodes", "flowbox.node", "flowbox.registry", "flowbox.api", "flowbox.ui",
              *SERVER, "litestar", "nicegui"),
}


def imports_of(path: Path, *, modules: Collection[str] = ()) -> set[str]:
    """The modules `path` imports anywhere in it (in functions too), but not under `if TYPE_CHECKING:`.
    `from package import name` where `package.name` is one of `modules` counts as importing that
    submodule only."""
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and "TYPE_CHECKING" in ast.unparse(child.test):
                continue
            if isinstance(child, ast.Import):
                found.update(alias.name for alias in child.names)
            elif isinstance(child, ast.ImportFrom) and child.module and child.level == 0:
                subs = {f"{child.module}.{alias.name}" for alias in child.names} & set(modules)
                found.update(subs if len(subs) == len(child.names) else {child.module, *subs})
            visit(child)

    visit(ast.parse(path.read_text()))
    return found


def module_name(path: Path) -> str:
    parts = path.relative_to(SRC.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def test_packages_respect_their_boundaries() -> None:
    problems = []
    for package, forbidden in FORBIDDEN.items():
        for path in (SRC / package).glob("*.py"):
            for name in imports_of(path):
                if any(name == f or name.startswith(f + ".") for f in forbidden):
                    problems.append(f"{path.relative_to(SRC)} imports {name}")
    assert not problems, problems


def test_nodes_use_the_sdk_and_node_libraries_only() -> None:
    """A node module imports the node SDK and the node-library modules (`nodes/_*.py`), never a sibling node
    nor the server's parts (services, API, UI, store, scheduler)."""
    nodes = SRC.parent.parent / "nodes"
    server = (*SERVER, "flowbox.api", "flowbox.ui", "flowbox.store", "flowbox.scheduler", "flowbox.tasks",
              "flowbox.listeners", "flowbox.app", "flowbox.cli")
    problems = []
    for path in nodes.glob("*.py"):
        for name in imports_of(path):
            if name.startswith("flowbox.nodes.") and not name.split(".")[2].startswith("_"):
                problems.append(f"{path.name} imports the node module {name}")
            if any(name == s or name.startswith(s + ".") for s in server):
                problems.append(f"{path.name} imports {name}")
    assert not problems, problems


def test_queue_scheduler_and_listeners_take_callables_not_the_server() -> None:
    """`Queue`, `Scheduler` and `Listeners` get the functions they call (run, enqueue, resume): they import
    neither the composition root nor what it composes."""
    problems = [f"{name}.py imports {imported}" for name in ("tasks", "scheduler", "listeners")
                for imported in imports_of(SRC / f"{name}.py")
                if any(imported == s or imported.startswith(s + ".") for s in SERVER)]
    assert not problems, problems


def test_no_import_cycle() -> None:
    """No module of `flowbox` reaches itself through imports, counting the ones inside functions (a lazy
    import is how a cycle hides) and leaving out `if TYPE_CHECKING:` ones (they never run)."""
    modules = {module_name(path): path for path in SRC.rglob("*.py")}
    graph = {name: {m for m in imports_of(path, modules=modules) if m in modules and m != name}
             for name, path in modules.items()}
    cycles, done = [], set()

    def walk(name: str, trail: list[str]) -> None:
        if name in trail:
            cycles.append(" -> ".join([*trail[trail.index(name):], name]))
            return
        if name in done:
            return
        for imported in sorted(graph[name]):
            walk(imported, [*trail, name])
        done.add(name)

    for name in sorted(graph):
        walk(name, [])
    assert not cycles, cycles


MAX_MODULE_LINES = 700


def test_no_module_is_over_700_lines() -> None:
    """A module past ~700 lines holds more than one concern: split it by what its parts do."""
    long = {str(path.relative_to(SRC)): n for path in SRC.rglob("*.py")
            if (n := len(path.read_text().splitlines())) > MAX_MODULE_LINES}
    assert not long, long


def test_the_composition_root_is_small() -> None:
    assert len((SRC / "runtime.py").read_text().splitlines()) < 400


def test_core_code_never_tests_a_node_type() -> None:
    """How a node goes live, what it runs and what it needs are on its `NodeSpec` (webhook, timer, manual,
    on_failure, runs_code, ...): no module of `flowbox` compares a node's type with a string."""

    def is_type(expr: ast.AST) -> bool:
        return (isinstance(expr, ast.Attribute) and expr.attr in ("type", "node_type")) or (
            isinstance(expr, ast.Name) and expr.id in ("node_type", "type_"))

    problems = []
    for path in SRC.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Compare):
                sides = [node.left, *node.comparators]
                if any(is_type(side) for side in sides) and any(
                        isinstance(c, ast.Constant) and isinstance(c.value, str) for side in sides
                        for c in ast.walk(side)):
                    problems.append(f"{path.relative_to(SRC)}:{node.lineno}: {ast.unparse(node)}")
    assert not problems, problems


def test_executions_are_written_by_the_recorder_only() -> None:
    """`flowbox.recorder` is the one path from a run to the store: no other module creates, advances or
    finishes an execution record."""
    writes = {"create_execution", "append_node_run", "finish_execution", "set_execution_status", "save_snapshot",
              "claim_execution"}
    problems = []
    for path in [*SRC.rglob("*.py"), *(SRC.parent.parent / "ui").glob("*.py")]:
        if path.parent.name == "store" or path.name == "recorder.py":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Attribute) and node.attr in writes:
                problems.append(f"{path.name}:{node.lineno} calls {node.attr}")
    assert not problems, problems


def test_api_and_ui_reach_the_store_only_through_the_operations() -> None:
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


def test_every_importable_folder_is_listed_so_the_install_stays_quiet() -> None:
    """setuptools warns ("Package 'flowbox.ui.vendor' is absent from the `packages` configuration", ~30
    lines on every first `make run`) about any folder Python could import that `packages` leaves out,
    data-only folders such as ui/vendor included."""
    import tomllib

    root = Path(__file__).parents[1]
    config = tomllib.loads((root / "pyproject.toml").read_text())["tool"]["setuptools"]
    listed = set(config["packages"])
    for package, folder in config["package-dir"].items():
        for sub in (root / folder).rglob("*"):
            parts = sub.relative_to(root / folder).parts
            if sub.is_dir() and all(part.isidentifier() for part in parts) and "__pycache__" not in parts:
                name = ".".join((package, *parts))
                assert name in listed, f"{sub.relative_to(root)} is importable as {name}: list it in packages"
