"""Issue 12, freezes: a webhook caller's text on a backtracking regex, and runaway expressions, against a real
server while another client measures /healthz. The server must keep answering (under 1 s) and the webhook
must fail cleanly, naming the node."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest
from support import node, workflow

from .conftest import Server


@contextmanager
def healthz_latency(server: Server) -> Iterator[list[float]]:
    """Poll /healthz every 20 ms while the block runs; yields the list of latencies (seconds)."""
    latencies: list[float] = []
    done = threading.Event()

    def poll() -> None:
        with httpx.Client(base_url=server.url, timeout=30) as http:
            while not done.is_set():
                started = time.perf_counter()
                assert http.get("/healthz").status_code == 200
                latencies.append(time.perf_counter() - started)
                time.sleep(0.02)

    thread = threading.Thread(target=poll, daemon=True)
    thread.start()
    try:
        time.sleep(0.1)
        yield latencies
    finally:
        done.set()
        thread.join(10)


def hooked(path: str, step: dict[str, Any]) -> dict[str, Any]:
    return workflow(node("Hook", "webhook", path=path, respond="lastNode"), step, name=path)


CASES = [
    ("regex-nested", node("Check", "if", conditions=[{"left": "{{ $json.body.s }}", "op": "regex",
                                                      "right": "^(a|aa)+$"}]), {"s": "a" * 40 + "!"}, "regex"),
    ("regex-issue", node("Check", "if", conditions=[{"left": "{{ $json.body.s }}", "op": "regex",
                                                     "right": "^(a+)+$"}]), {"s": "a" * 28 + "!"}, None),
    ("pow", node("Math", "set", fields={"x": "{{ pow(10**30000-1, 10**30000, 10**30000+7) }}"}), {}, "pow()"),
    ("quadratic-sum", node("Math", "set", fields={"x": "{{ len(sum([[1]] * 100000, [])) }}"}), {}, None),
    ("endless", node("Math", "set", fields={"x": "{{ sum(1 for x in range(10**7) for y in range(10**7)) }}"}), {},
     "longer than"),
    ("memory", node("Math", "set", fields={"x": "{{ len(['x' * 10**7 for _ in range(10**5)]) }}"}), {},
     "memory"),
    ("caller-sized", node("Math", "set", fields={"x": "{{ $json.body.s * $json.body.n }}"}),
     {"s": "ab", "n": 10**9}, "too large"),
]


@pytest.mark.parametrize(("path", "step", "body", "error"), CASES, ids=[c[0] for c in CASES])
def test_a_hostile_call_never_stops_the_server(server: Server, path: str, step: dict[str, Any],
                                               body: dict[str, Any], error: str | None) -> None:
    with server.client() as http:
        wid = http.post("/api/v1/workflows", json=hooked(path, step)).json()["id"]
        assert http.post(f"/api/v1/workflows/{wid}/activate").status_code == 200
        with healthz_latency(server) as latencies:
            started = time.perf_counter()
            answer = http.post(f"/webhook/{path}", json=body)
            took = time.perf_counter() - started
        worst = max(latencies)
        print(f"{path}: answered {answer.status_code} in {took:.2f} s; worst /healthz {worst * 1000:.0f} ms "
              f"over {len(latencies)} polls")
        assert worst < 1.0, f"/healthz took {worst:.2f} s while {path} ran"
        if error is None:
            assert answer.status_code == 200, answer.text
            return
        assert answer.status_code == 500, answer.text
        failure = answer.json()["error"]
        assert error in failure["message"] and failure["details"]["node"] == step["name"], failure
        assert http.get("/healthz").status_code == 200
