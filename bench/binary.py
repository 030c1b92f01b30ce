"""Size and cold start of the one-file binary (issue 6 targets: < 80 MB, cold start to /healthz < 3 s).

    make binary && .venv/bin/python bench/binary.py              # dist/flowbox, 3 starts
    .venv/bin/python bench/binary.py /path/to/flowbox --runs 5

Each start is the binary with no arguments (the desktop mode a double-click gives), a fresh data dir
(so the database is created and migrated) and FLOWBOX_NO_BROWSER=1, timed from spawn to the first
200 from /healthz; the one-file binary unpacks itself into a temp folder at every start, so every
start pays that. Then RSS (the bootloader and the app process), then SIGTERM, and the time to exit.
Prints one line per start and the medians.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def rss_mb(pid: int) -> float:
    """RSS of `pid` and its children (the one-file bootloader runs the app as its child)."""
    total = 0.0
    pids = [pid]
    children = Path(f"/proc/{pid}/task/{pid}/children")
    if children.exists():
        pids += [int(p) for p in children.read_text().split()]
    for p in pids:
        for line in Path(f"/proc/{p}/status").read_text().splitlines():
            if line.startswith("VmRSS"):
                total += int(line.split()[1]) / 1024
    return total


def healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1) as resp:  # noqa: S310 - loopback only
            return resp.status == 200
    except OSError:
        return False


def start_once(binary: Path, timeout: float = 60) -> dict[str, float]:
    """One cold start: seconds to /healthz, RSS once up, seconds from SIGTERM to exit, the exit code."""
    with tempfile.TemporaryDirectory(prefix="flowbox-bench-") as tmp:
        port = free_port()
        env = {**os.environ, "FLOWBOX_DATA_DIR": str(Path(tmp) / "data"), "FLOWBOX_PORT": str(port),
               "FLOWBOX_NO_BROWSER": "1"}
        url = f"http://127.0.0.1:{port}/healthz"
        began = time.perf_counter()
        proc = subprocess.Popen([str(binary)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            while not healthy(url):
                if proc.poll() is not None or time.perf_counter() - began > timeout:
                    raise SystemExit(f"{binary} did not answer {url} (exit code {proc.returncode})")
                time.sleep(0.02)
            ready = time.perf_counter() - began
            time.sleep(1.0)  # let start-up work settle before reading memory
            rss = rss_mb(proc.pid)
            stopping = time.perf_counter()
            proc.send_signal(signal.SIGTERM)
            code = proc.wait(30)
            return {"ready": ready, "rss": rss, "stop": time.perf_counter() - stopping, "code": code}
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("binary", nargs="?", default=str(ROOT / "dist" / "flowbox"))
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    binary = Path(args.binary)
    if not binary.is_file():
        sys.exit(f"no binary at {binary}: build it with `make binary`")
    size = binary.stat().st_size
    print(f"binary: {binary} {size / 1e6:.1f} MB ({size / 2**20:.1f} MiB)")
    runs = []
    for i in range(args.runs):
        run = start_once(binary)
        runs.append(run)
        print(f"start {i + 1}: /healthz after {run['ready']:.2f} s, RSS {run['rss']:.0f} MB, "
              f"SIGTERM -> exit {run['code']} in {run['stop']:.2f} s")
    print(f"median of {len(runs)}: size {size / 1e6:.1f} MB, cold start to /healthz "
          f"{statistics.median(r['ready'] for r in runs):.2f} s, RSS {statistics.median(r['rss'] for r in runs):.0f} MB, "
          f"stop {statistics.median(r['stop'] for r in runs):.2f} s (load average {os.getloadavg()[0]:.1f} "
          f"on {os.cpu_count()} CPUs)")


if __name__ == "__main__":
    main()
