"""A real `flowbox serve` in a subprocess on a free port with a temp data dir, driven over HTTP."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

FLOWBOX = str(Path(sys.executable).with_name("flowbox"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    """One flowbox server process; `start()` again after `kill()`/`stop()` restarts it on the same data."""

    def __init__(self, data_dir: Path, env: dict[str, str] | None = None, ui: bool = False) -> None:
        self.data_dir = data_dir
        self.port = free_port()
        self.env = {**os.environ, "FLOWBOX_DATA_DIR": str(data_dir), "FLOWBOX_UI": "1" if ui else "0",
                    "FLOWBOX_SHUTDOWN_TIMEOUT": "10", **(env or {})}
        self.proc: subprocess.Popen[bytes] | None = None
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = data_dir.parent / f"server-{self.port}.log"

    def start(self, timeout: float = 30) -> Server:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        out = open(self.log, "ab")  # noqa: SIM115 - kept open for the child's lifetime
        self.proc = subprocess.Popen([FLOWBOX, "serve", "--port", str(self.port)], env=self.env, stdout=out,
                                     stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited with {self.proc.returncode}:\n{self.logs()}")
            try:
                if httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.05)
        raise RuntimeError(f"server did not answer /healthz within {timeout} s:\n{self.logs()}")

    def logs(self) -> str:
        return self.log.read_text(errors="replace")[-4000:] if self.log.exists() else ""

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30) -> int:
        """Send `sig` and wait for the process to exit; returns its exit code."""
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                raise AssertionError(f"server ignored signal {sig} for {timeout} s:\n{self.logs()}") from None
        return self.proc.returncode

    def kill(self) -> None:
        """kill -9: no shutdown at all."""
        self.stop(signal.SIGKILL)

    def client(self, **kwargs: Any) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=kwargs.pop("timeout", 30), **kwargs)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    srv = Server(tmp_path / "data").start()
    try:
        yield srv
    finally:
        if srv.proc is not None and srv.proc.poll() is None:
            srv.stop()


@pytest.fixture
def make_server(tmp_path: Path) -> Iterator[Any]:
    """Build servers with extra env (not started); all are stopped at the end."""
    made: list[Server] = []

    def make(env: dict[str, str] | None = None, data_dir: Path | None = None, ui: bool = False) -> Server:
        srv = Server(data_dir or tmp_path / f"data{len(made)}", env, ui)
        made.append(srv)
        return srv

    yield make
    for srv in made:
        if srv.proc is not None and srv.proc.poll() is None:
            srv.stop()


