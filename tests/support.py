"""Helpers shared by every test folder (on sys.path through pytest's `pythonpath = ["tests"]`)."""

from __future__ import annotations

import os
import socket

import pytest

PG_URL = os.environ.get("FLOWBOX_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("FLOWBOX_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
MYSQL_HOST, MYSQL_PORT = "127.0.0.1", 3306


def unavailable(reason: str) -> None:
    """Skip, or fail when FLOWBOX_REQUIRE_SERVICES=1 (CI sets it: a missing service must not pass silently)."""
    if os.environ.get("FLOWBOX_REQUIRE_SERVICES") == "1":
        pytest.fail(f"{reason} (and FLOWBOX_REQUIRE_SERVICES=1)")
    pytest.skip(reason)


def require_port(host: str, port: int, what: str) -> None:
    """`unavailable` unless something accepts TCP connections at host:port."""
    try:
        socket.create_connection((host, port), timeout=2).close()
    except OSError as exc:
        unavailable(f"{what} does not answer at {host}:{port}: {exc}")
