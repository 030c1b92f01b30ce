"""Disk use of `flowbox serve` with pruning: the file shrinks, and stays within a bound under load (issue 12).

    .venv/bin/python bench/disk.py                      # both parts, ~2 minutes
    .venv/bin/python bench/disk.py --part shrink        # or --part sustained
    .venv/bin/python bench/disk.py --flowbox /work/main/.venv/bin/flowbox   # another build, to compare

shrink: 400 executions with 100 KB bodies are recorded (FLOWBOX_PRUNE_MAX_COUNT=0, nothing pruned), then
the server restarts with FLOWBOX_PRUNE_MAX_COUNT=10 and serves webhooks at concurrency 10 (`wrk`, 127.0.0.1)
while it prunes and gives the space back: the p99 of those webhooks, and the database + WAL size before,
during and after.
sustained: a fresh server with FLOWBOX_PRUNE_MAX_COUNT=2000 takes webhooks at concurrency 10 for `--seconds`
(1 KB bodies); the size of the database and of the WAL is sampled every 0.25 s, then again after a 5 s pause,
and set against the bound the README gives (the newest executions kept plus one prune pause of arrivals,
a quarter of slack, the WAL).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from webhook import free_port, post, wrk  # noqa: E402 - bench/ is not a package

FLOWBOX = str(Path(sys.executable).with_name("flowbox"))
MB = 1e6


def hook(name: str, respond: str = "lastNode") -> dict[str, object]:
    """POST /webhook/<name> -> set -> answer."""
    return {
        "name": name, "active": True,
        "nodes": [
            {"name": "Hook", "type": "webhook", "position": [0, 0],
             "parameters": {"path": name, "method": "POST", "respond": respond}},
            {"name": "Size", "type": "set", "position": [200, 0],
             "parameters": {"fields": {"doubled": "{{ ($json.body.value or 0) * 2 }}"}}},
        ],
        "connections": {"Hook": {"main": [[{"node": "Size"}]]}},
    }


class Server:
    """One `flowbox serve` on a data dir, started and stopped by the bench."""

    def __init__(self, flowbox: str, data: Path, **env: str) -> None:
        self.flowbox, self.data, self.port = flowbox, data, free_port()
        self.env = dict(os.environ, FLOWBOX_DATA_DIR=str(data), FLOWBOX_UI="0", FLOWBOX_WEBHOOK_RATE_LIMIT="0",
                        **env)
        self.proc: subprocess.Popen[bytes] | None = None

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def start(self) -> float:
        """Start; the seconds to the first answer of /webhook/bench."""
        started = time.perf_counter()
        self.proc = subprocess.Popen([self.flowbox, "serve", "--port", str(self.port)], env=self.env,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        while True:
            try:
                if post(self.url("/webhook/bench"))[0] == 200:
                    return time.perf_counter() - started
            except OSError:
                pass
            if self.proc.poll() is not None or time.perf_counter() - started > 120:
                raise SystemExit(f"server did not answer (exit code {self.proc.poll()})")
            time.sleep(0.02)

    def stop(self) -> None:
        assert self.proc is not None
        self.proc.terminate()
        self.proc.wait(60)

    def sizes(self) -> tuple[float, float]:
        """(database, WAL) in MB."""
        db = self.data / "flowbox.db"
        wal = self.data / "flowbox.db-wal"
        return (db.stat().st_size / MB if db.exists() else 0.0, wal.stat().st_size / MB if wal.exists() else 0.0)

    def rows(self) -> int:
        with sqlite3.connect(self.data / "flowbox.db", timeout=10) as conn:
            return int(conn.execute("SELECT count(*) FROM executions").fetchone()[0])


def sample(server: Server, stop: threading.Event, into: list[tuple[float, float, float, int]]) -> None:
    """(seconds, database MB, WAL MB, executions) every 0.25 s."""
    started = time.perf_counter()
    while not stop.is_set():
        with_wal = server.sizes()
        try:
            rows = server.rows()
        except sqlite3.Error:
            rows = -1
        into.append((time.perf_counter() - started, *with_wal, rows))
        stop.wait(0.25)


def setup(flowbox: str, tmp: Path) -> Path:
    data = tmp / "data"
    data.mkdir()
    for wf in (hook("bench"), hook("big")):
        path = tmp / f"{wf['name']}.json"
        path.write_text(json.dumps(wf))
        done = subprocess.run([flowbox, "import", str(path)], capture_output=True, text=True,
                              env=dict(os.environ, FLOWBOX_DATA_DIR=str(data)))
        if done.returncode != 0:
            raise SystemExit(f"flowbox import failed: {done.stderr}")
    return data


def shrink(flowbox: str, seconds: float, keep: str = "10") -> None:
    with tempfile.TemporaryDirectory() as tmp:
        data = setup(flowbox, Path(tmp))
        server = Server(flowbox, data, FLOWBOX_PRUNE_MAX_COUNT="0")
        server.start()
        body = json.dumps({"value": 1, "pad": "x" * 100_000}).encode()
        for _ in range(400):
            request = urllib.request.Request(server.url("/webhook/big"), data=body,
                                             headers={"Content-Type": "application/json"})
            with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 - loopback only
                response.read()
        time.sleep(2)
        server.stop()
        before = server.sizes()
        print(f"shrink: 400 x 100 KB recorded: database {before[0]:.1f} MB + WAL {before[1]:.1f} MB "
              f"= {sum(before):.1f} MB, {server.rows()} executions", flush=True)
        server = Server(flowbox, data, FLOWBOX_PRUNE_MAX_COUNT=keep)
        samples: list[tuple[float, float, float, int]] = []
        stop = threading.Event()
        watcher = threading.Thread(target=sample, args=(server, stop, samples))
        cold = server.start()
        watcher.start()
        during = wrk(server.url("/webhook/bench"), 10, seconds)
        deadline = time.monotonic() + 60
        while sum(server.sizes()) > 0.2 * sum(before) and time.monotonic() < deadline:
            time.sleep(0.25)
        after = wrk(server.url("/webhook/bench"), 10, seconds)  # the same server, the same pruning, shrunk
        time.sleep(3)  # writes pause: the WAL is emptied
        stop.set()
        watcher.join()
        sizes = server.sizes()
        rows = server.rows()
        server.stop()
        small = next((t for t, db, wal, _ in samples if db + wal < 0.2 * sum(before)), None)
        print(f"shrink: restart with FLOWBOX_PRUNE_MAX_COUNT={keep}: first answer after {cold:.2f} s", flush=True)
        for label, result in (("while shrinking", during), ("after, steady", after)):
            print(f"shrink: c=10 for {seconds:g} s {label}: {result['requests'] / result['secs']:,.0f} req/s, "
                  f"p50 {result['p50_ms']:.2f} ms, p99 {result['p99_ms']:.2f} ms, max {result['max_ms']:.1f} ms, "
                  f"errors {result['errors'] + result['non2xx']}", flush=True)
        print(f"shrink: database + WAL {sum(before):.1f} MB -> {sizes[0]:.1f} + {sizes[1]:.1f} = {sum(sizes):.1f} MB "
              f"({rows} executions); under 20 % of the start "
              + (f"{small:.1f} s after the restart" if small is not None else "never"), flush=True)


def sustained(flowbox: str, seconds: float, body_kb: float = 1) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        data = setup(flowbox, Path(tmp))
        server = Server(flowbox, data, FLOWBOX_PRUNE_MAX_COUNT="2000")
        server.start()
        samples: list[tuple[float, float, float, int]] = []
        stop = threading.Event()
        watcher = threading.Thread(target=sample, args=(server, stop, samples))
        watcher.start()
        os.environ["WRK_BODY"] = json.dumps({"value": 21, "pad": "x" * int(body_kb * 1000)})
        result = wrk(server.url("/webhook/bench"), 10, seconds)
        at_end = server.sizes()
        rows_at_end = server.rows()
        time.sleep(5)
        stop.set()
        watcher.join()
        paused = server.sizes()
        rows = server.rows()
        with sqlite3.connect(data / "flowbox.db") as conn:
            page_size, pages, free = (conn.execute(f"PRAGMA {p}").fetchone()[0]
                                      for p in ("page_size", "page_count", "freelist_count"))
        server.stop()
        rate = result["requests"] / result["secs"]
        per_execution = (pages - free) * page_size / max(rows, 1) / 1e3
        print(f"sustained: {body_kb:g} KB bodies, c=10 for {seconds:g} s, FLOWBOX_PRUNE_MAX_COUNT=2000: "
              f"{rate:,.0f} req/s, "
              f"p99 {result['p99_ms']:.2f} ms, errors {result['errors'] + result['non2xx']}", flush=True)
        print(f"sustained: database max {max(s[1] for s in samples):.1f} MB, WAL max {max(s[2] for s in samples):.1f} "
              f"MB, together max {max(s[1] + s[2] for s in samples):.1f} MB, executions max "
              f"{max(s[3] for s in samples)}; at the end {at_end[0]:.1f} + "
              f"{at_end[1]:.1f} MB ({rows_at_end} executions); 5 s later {paused[0]:.1f} + {paused[1]:.1f} MB "
              f"({rows} executions, {per_execution:.1f} KB each)", flush=True)
        every = [samples[i] for i in range(0, len(samples), 20)]  # one per 5 s
        print("sustained: every 5 s: " + ", ".join(f"{t:.0f} s {db:.0f}+{wal:.0f} MB {n} executions"
                                                   for t, db, wal, n in every), flush=True)
        bound = (2000 + rate * 2.0) * per_execution / 1e3 * 1.25 + 4
        print(f"sustained: bound (2,000 + {rate:,.0f}/s x 2 s) x {per_execution:.1f} KB x 1.25 + 4 MB = {bound:.1f} MB "
              f"for the database (executions at most {2000 + rate * 2:,.0f}); the WAL: about 4 x 64 MB under load, "
              "0 after a pause", flush=True)


def load() -> str:
    return "load average " + " ".join(Path("/proc/loadavg").read_text().split()[:3])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--part", choices=["shrink", "sustained", "both"], default="both")
    parser.add_argument("--seconds", type=float, default=30, help="length of the sustained load")
    parser.add_argument("--body-kb", type=float, default=1, help="size of the sustained load's webhook bodies")
    parser.add_argument("--shrink-seconds", type=float, default=15, help="length of the load while shrinking")
    parser.add_argument("--flowbox", default=FLOWBOX, help="the flowbox command to measure")
    parser.add_argument("--keep", default="10", help="FLOWBOX_PRUNE_MAX_COUNT after the restart of the shrink part")
    args = parser.parse_args()
    if not shutil.which("wrk"):
        raise SystemExit("bench/disk.py needs wrk: apt-get install wrk")
    print(f"{args.flowbox}; {load()}", flush=True)
    if args.part in ("shrink", "both"):
        shrink(args.flowbox, args.shrink_seconds, args.keep)
    if args.part in ("sustained", "both"):
        sustained(args.flowbox, args.seconds, args.body_kb)
    print(load(), flush=True)


if __name__ == "__main__":
    main()
