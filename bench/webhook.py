"""Webhook throughput of `flowbox serve` with every execution saved (issue 3 targets, 2-core machine).

    .venv/bin/python bench/webhook.py                 # 10 s per concurrency level
    .venv/bin/python bench/webhook.py --seconds 5     # quicker

Workload: POST /webhook/bench -> set (one expression) -> respondToWebhook, history saved
(SQLite, default settings). Load comes from `wrk` (Debian package `wrk`) in a second process on
127.0.0.1, bounded by time and by count. Prints requests/s, p50 and p99 at concurrency 1, 10 and 50,
the executions recorded, cold start to the first answered webhook, idle and peak RSS.
Targets: >= 2,000 req/s and p99 < 25 ms at concurrency 10, idle RSS < 150 MB, cold start < 3 s.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent
FLOWBOX = str(Path(sys.executable).with_name("flowbox"))

WORKFLOW = {
    "name": "bench", "active": True,
    "nodes": [
        {"name": "Hook", "type": "webhook", "position": [0, 0],
         "parameters": {"path": "bench", "method": "POST", "respond": "respondNode"}},
        {"name": "Double", "type": "set", "position": [200, 0],
         "parameters": {"fields": {"doubled": "{{ $json.body.value * 2 }}"}}},
        {"name": "Answer", "type": "respondToWebhook", "position": [400, 0],
         "parameters": {"body": {"doubled": "{{ $json.doubled }}"}}},
    ],
    "connections": {"Hook": {"main": [[{"node": "Double"}]]}, "Double": {"main": [[{"node": "Answer"}]]}},
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def rss_mb(pid: int, field: str = "VmRSS") -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field):
            return int(line.split()[1]) / 1024
    return 0.0


def post(url: str) -> tuple[int, bytes]:
    req = urllib.request.Request(url, data=b'{"value": 21}', headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=5) as resp:  # noqa: S310 - loopback only
        return resp.status, resp.read()


def wrk(url: str, concurrency: int, seconds: float, timeout: float = 2) -> dict[str, float]:
    """One bounded wrk run (POST, bench/post.lua); `timeout` is wrk's per-request timeout in seconds."""
    env = dict(os.environ, WRK_MAX=str(200_000))
    cmd = ["wrk", "-t1", f"-c{concurrency}", f"-d{seconds:g}s", f"--timeout={timeout:g}s", "--latency",
           "-s", str(HERE / "post.lua"), url]
    out = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=seconds + timeout + 30).stdout
    line = next(x for x in out.splitlines() if x.startswith("WRKJSON "))
    return json.loads(line[len("WRKJSON "):])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--concurrency", default="1,10,50")
    parser.add_argument("--no-ui", action="store_true", help="serve without the NiceGUI editor")
    args = parser.parse_args()
    if not shutil.which("wrk"):
        raise SystemExit("bench/webhook.py needs wrk: apt-get install wrk")
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp, "data")
        data.mkdir()
        wf = Path(tmp, "wf.json")
        wf.write_text(json.dumps(WORKFLOW))
        # one wrk client on one address measures capacity: the per-address webhook rate limit (1000/s by
        # default, a flood guard) would turn most requests into 429s
        env = dict(os.environ, FLOWBOX_DATA_DIR=str(data), FLOWBOX_UI="0" if args.no_ui else "1",
                   FLOWBOX_WEBHOOK_RATE_LIMIT="0")
        subprocess.run([FLOWBOX, "import", str(wf)], check=True, env=env, capture_output=True)
        port = free_port()
        url = f"http://127.0.0.1:{port}/webhook/bench"
        started = time.perf_counter()
        server = subprocess.Popen([FLOWBOX, "serve", "--port", str(port)], env=env, stdout=subprocess.DEVNULL,
                                  stderr=subprocess.DEVNULL)
        try:
            while True:
                try:
                    status, body = post(url)
                    if status == 200:
                        break
                except OSError:
                    pass
                if time.perf_counter() - started > 30:
                    raise SystemExit("server did not answer within 30 s")
                time.sleep(0.02)
            cold = time.perf_counter() - started
            assert json.loads(body) == {"doubled": 42}, body
            time.sleep(1)
            idle = rss_mb(server.pid)
            print(f"cold start to first answered webhook   {cold:6.2f} s    (target < 3 s)", flush=True)
            print(f"idle RSS                               {idle:6.0f} MB   (target < 150 MB)", flush=True)
            total = 1
            for c in (int(x) for x in args.concurrency.split(",")):
                r = wrk(url, c, args.seconds)
                total += r["requests"]
                rps = r["requests"] / r["secs"]
                print(f"c={c:<3} {rps:9,.0f} req/s   p50 {r['p50_ms']:6.2f} ms   p99 {r['p99_ms']:6.2f} ms   "
                      f"errors {r['errors'] + r['non2xx']}", flush=True)
            print(f"peak RSS                               {rss_mb(server.pid, 'VmHWM'):6.0f} MB", flush=True)
        finally:
            server.terminate()
            server.wait(60)
        with sqlite3.connect(data / "flowbox.db") as db:
            saved = dict(db.execute("SELECT status, count(*) FROM executions GROUP BY status").fetchall())
        print(f"requests answered {total:,}; executions recorded {saved}", flush=True)


if __name__ == "__main__":
    main()
