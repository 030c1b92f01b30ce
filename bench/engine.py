"""Engine benchmarks (issue 2 targets on a 2-core machine). Prints one line per figure.

    .venv/bin/python bench/engine.py            # all three, saved history, 3 repeats each
    .venv/bin/python bench/engine.py --quick    # one repeat

(a) 100,000 items through manualTrigger -> set (two expressions) -> if -> sort -> aggregate,
    run by `flowbox run` (execution recorded in SQLite): wall time and peak RSS. Target < 2 s, < 300 MB.
(b) a 200-node chain of set nodes on 10 items, by `flowbox run`: wall time. Target < 1 s.
(c) `flowbox run` of a one-node workflow: wall time. Target < 0.5 s.
(d) (a)'s shape in JavaScript mode (`settings.expressionLanguage: "javascript"`, n8n's `=` expressions):
    100,000 items through manualTrigger -> set (two JS expressions) -> if (a JS condition) -> sort. Target
    <= 3 s, <= 400 MB.
Each figure is the median of the repeats; every run is a fresh process with a fresh data dir.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

FLOWBOX = [str(Path(sys.executable).with_name("flowbox"))]


def node(name: str, type_: str, params: dict | None = None) -> dict:
    return {"name": name, "type": type_, "position": [0, 0], "parameters": params or {}}


def chain(nodes: list[dict]) -> dict:
    connections = {a["name"]: {"main": [[{"node": b["name"], "type": "main", "index": 0}]]}
                   for a, b in zip(nodes, nodes[1:], strict=False)}
    return {"name": "bench", "nodes": nodes, "connections": connections, "settings": {}}


def items_workflow() -> dict:
    wf = chain([
        node("Start", "manualTrigger"),
        node("Set", "set", {"fields": {"total": "{{ $json.price * $json.qty }}",
                                       "label": "order {{ $json.id }}"}}),
        node("Big?", "if", {"condition": "{{ $json.total > 500 }}"}),
        node("Sort", "sort", {"fields": [{"field": "total", "order": "desc"}]}),
        node("Aggregate", "aggregate", {"field": "label"}),
    ])
    return wf


def js_items_workflow() -> dict:
    wf = chain([
        node("Start", "manualTrigger"),
        node("Set", "set", {"fields": {"total": "={{ $json.price * $json.qty }}",
                                       "label": "=order {{ $json.name.toUpperCase() }}"}}),
        node("Big?", "if", {"condition": "={{ $json.total > 500 }}"}),
        node("Sort", "sort", {"fields": [{"field": "total", "order": "desc"}]}),
    ])
    wf["settings"] = {"expressionLanguage": "javascript"}
    return wf


def run_once(workflow: dict, input_items: list[dict] | None, tmp: Path) -> tuple[float, float]:
    """Wall seconds and peak RSS (MB) of one `flowbox run` in a fresh process and data dir."""
    wf_path = tmp / "wf.json"
    wf_path.write_text(json.dumps(workflow))
    cmd = [*FLOWBOX, "run", str(wf_path), "--json"]
    if input_items is not None:
        in_path = tmp / "input.json"
        in_path.write_text(json.dumps(input_items))
        cmd += ["--input-file", str(in_path)]
    data = tempfile.mkdtemp(dir=tmp)
    env = dict(os.environ, FLOWBOX_DATA_DIR=data)
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    _, usage = os.wait4(proc.pid, 0)[1:]
    wall = time.perf_counter() - start
    if proc.returncode not in (0, None) and os.WEXITSTATUS(_) != 0:
        raise SystemExit(f"flowbox run failed: {proc.stderr.read().decode()[-500:] if proc.stderr else ''}")
    return wall, usage.ru_maxrss / 1024


def measure(label: str, workflow: dict, items: list[dict] | None, repeats: int, target: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        results = [run_once(workflow, items, Path(tmp)) for _ in range(repeats)]
    wall = statistics.median(r[0] for r in results)
    rss = max(r[1] for r in results)
    print(f"{label:<58} {wall:7.3f} s   peak RSS {rss:6.0f} MB   (target {target})", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="one repeat instead of three")
    parser.add_argument("--items", type=int, default=100_000)
    args = parser.parse_args()
    repeats = 1 if args.quick else 3
    items = [{"id": i, "price": (i * 7919) % 1000, "qty": 1 + i % 5, "name": f"item {i}"} for i in range(args.items)]
    measure(f"(a) {args.items:,} items set->if->sort->aggregate", items_workflow(), items, repeats, "< 2 s, < 300 MB")
    nodes = [node("Start", "manualTrigger")] + [
        node(f"Set {i}", "set", {"fields": {f"f{i % 10}": f"{{{{ $json.n + {i} }}}}"}}) for i in range(199)]
    measure("(b) 200-node chain of set nodes, 10 items", chain(nodes), [{"n": i} for i in range(10)], repeats,
            "< 1 s")
    measure("(c) flowbox run, one-node workflow", chain([node("Start", "manualTrigger")]), None, repeats,
            "< 0.5 s")
    measure(f"(d) {args.items:,} items set->if->sort, JavaScript expressions", js_items_workflow(), items, repeats,
            "<= 3 s, <= 400 MB")
    print(f"# {os.cpu_count()} cores, resource maxrss of the flowbox process; "
          f"python {sys.version.split()[0]}", flush=True)
    resource.getrusage(resource.RUSAGE_SELF)


if __name__ == "__main__":
    main()
