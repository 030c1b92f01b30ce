"""Settings from flags and `FLOWBOX_*` environment variables.

Data lives in `--data-dir`, else `FLOWBOX_DATA_DIR`, else the platform's user data
dir (platformdirs). `FLOWBOX_DATABASE_URL` overrides the SQLite file in the data dir;
`FLOWBOX_REDIS_URL` switches the queue to Redis (scale-out with `flowbox worker`).

| variable | default | meaning |
|---|---|---|
| FLOWBOX_HOST / FLOWBOX_PORT | 127.0.0.1 / 5678 | where `flowbox serve` listens |
| FLOWBOX_WORKERS | 4 | queue consumer threads: executions running at once (global limit) |
| FLOWBOX_MAX_BODY_MB | 16 | largest webhook/API request body; larger gets 413 |
| FLOWBOX_MAX_HEADER_KB | 32 | largest request line + headers; larger gets 431 (414 for the URL alone) |
| FLOWBOX_MAX_HEADERS | 100 | most request headers; more gets 431 |
| FLOWBOX_HEADER_TIMEOUT | 10 | seconds from a request's first byte to the end of its headers; then 408 (0: none) |
| FLOWBOX_BODY_TIMEOUT | 60 | seconds from the end of the headers to the end of the body; then 408 (0: none) |
| FLOWBOX_KEEPALIVE_TIMEOUT | 5 | seconds an idle connection (before or between requests) stays open |
| FLOWBOX_MAX_CONNECTIONS | 1000 | open connections at once (websockets too); more get 503 |
| FLOWBOX_SHUTDOWN_TIMEOUT | 30 | seconds running executions get to finish on SIGTERM/SIGINT |
| FLOWBOX_PRUNE_MAX_AGE_DAYS | 14 | finished executions older than this are deleted (0: keep) |
| FLOWBOX_PRUNE_MAX_COUNT | 10000 | keep at most this many executions (0: no limit) |
| FLOWBOX_MIN_FREE_MB | 100 | free space kept on the disk of the database and queue: below it new work gets 503 + Retry-After and /readyz is not ready (0: no reserve) |
| FLOWBOX_WAIT_PERSIST_SECONDS | 5 | Wait nodes longer than this are persisted and resumed by the scheduler |
| FLOWBOX_UI | 1 | 0 serves no editor (API, webhooks and schedules only) |
| FLOWBOX_REDIS_URL | — | scale-out: queue on Redis; `flowbox worker` processes run queued executions |
| FLOWBOX_QUEUE_NAME | flowbox | the queue's name (Redis key prefix) |
| FLOWBOX_SERVER_CONSUMES | 0 | scale-out: 1 lets the server run queued executions too |
| FLOWBOX_PUBLIC_URL | — | base URL browsers reach the server at (OAuth2 redirects); default: the request's |
| FLOWBOX_FILES_DIR | <data dir>/files | the only folder the readWriteFile node may read and write |
| FLOWBOX_WEBHOOK_RATE_LIMIT | 1000 | webhook calls per second per client address (bursts of twice that); 0: no limit |
| FLOWBOX_CODE_SANDBOX | strict | code node: `strict` sandbox (bwrap) or refuse; `process`: logged, less isolated fallback |
| FLOWBOX_CODE_FOR_MEMBERS | on while sandboxed | 0: only owners and admins may use the code node; 1: members may |
| FLOWBOX_CODE_MAX_PROCESSES / FLOWBOX_CODE_SCRATCH_MB | 32 / 64 | per code run: processes and threads; size of /tmp |
| FLOWBOX_CODE_USER | uid 1900000000+n | root only: who the code sandbox runs as (docs/code-sandbox.md) |
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path


def default_data_dir() -> Path:
    from platformdirs import user_data_dir

    return Path(user_data_dir("flowbox", appauthor=False))


def _env_number(name: str, default: float) -> float:
    value = os.environ.get(name)
    if value in (None, ""):
        return default
    try:
        return float(value)
    except ValueError:
        from flowbox.errors import ConfigError

        raise ConfigError(f"{name} must be a number, got {value!r}") from None


@dataclass(frozen=True)
class Settings:
    """Where data lives and how flowbox behaves; built once and passed down."""

    data_dir: Path
    database_url: str
    redis_url: str | None = None
    host: str = "127.0.0.1"
    port: int = 5678
    workers: int = 4
    max_body_bytes: int = 16 * 1024 * 1024
    max_header_bytes: int = 32 * 1024
    max_headers: int = 100
    header_timeout: float = 10.0
    body_timeout: float = 60.0
    keepalive_timeout: float = 5.0
    max_connections: int = 1000
    shutdown_timeout: float = 30.0
    prune_max_age_days: float = 14
    prune_max_count: int = 10_000
    min_free_mb: float = 100.0
    wait_persist_seconds: float = 5.0
    ui: bool = True
    queue_name: str = "flowbox"
    server_consumes: bool = False
    public_url: str | None = None
    files_dir: Path | None = None  # None: <data_dir>/files
    webhook_rate_limit: float = 1000.0

    def __post_init__(self) -> None:
        if self.files_dir is None:
            object.__setattr__(self, "files_dir", self.data_dir / "files")

    @classmethod
    def load(cls, data_dir: str | Path | None = None, **overrides: object) -> Settings:
        """Settings from an explicit data dir, else the environment, else the platform default."""
        path = Path(data_dir or os.environ.get("FLOWBOX_DATA_DIR") or default_data_dir()).expanduser()
        url = os.environ.get("FLOWBOX_DATABASE_URL") or f"sqlite:///{path.resolve() / 'flowbox.db'}"
        values: dict[str, object] = dict(
            data_dir=path, database_url=url, redis_url=os.environ.get("FLOWBOX_REDIS_URL") or None,
            host=os.environ.get("FLOWBOX_HOST") or "127.0.0.1",
            port=int(_env_number("FLOWBOX_PORT", 5678)),
            workers=max(1, int(_env_number("FLOWBOX_WORKERS", 4))),
            max_body_bytes=int(_env_number("FLOWBOX_MAX_BODY_MB", 16) * 1024 * 1024),
            max_header_bytes=int(_env_number("FLOWBOX_MAX_HEADER_KB", 32) * 1024),
            max_headers=max(1, int(_env_number("FLOWBOX_MAX_HEADERS", 100))),
            header_timeout=_env_number("FLOWBOX_HEADER_TIMEOUT", 10),
            body_timeout=_env_number("FLOWBOX_BODY_TIMEOUT", 60),
            keepalive_timeout=_env_number("FLOWBOX_KEEPALIVE_TIMEOUT", 5),
            max_connections=max(1, int(_env_number("FLOWBOX_MAX_CONNECTIONS", 1000))),
            shutdown_timeout=_env_number("FLOWBOX_SHUTDOWN_TIMEOUT", 30),
            prune_max_age_days=_env_number("FLOWBOX_PRUNE_MAX_AGE_DAYS", 14),
            prune_max_count=int(_env_number("FLOWBOX_PRUNE_MAX_COUNT", 10_000)),
            min_free_mb=max(0.0, _env_number("FLOWBOX_MIN_FREE_MB", 100)),
            wait_persist_seconds=_env_number("FLOWBOX_WAIT_PERSIST_SECONDS", 5),
            ui=os.environ.get("FLOWBOX_UI", "1") != "0",
            queue_name=os.environ.get("FLOWBOX_QUEUE_NAME") or "flowbox",
            server_consumes=os.environ.get("FLOWBOX_SERVER_CONSUMES", "0") == "1",
            public_url=(os.environ.get("FLOWBOX_PUBLIC_URL") or "").rstrip("/") or None,
            webhook_rate_limit=max(0.0, _env_number("FLOWBOX_WEBHOOK_RATE_LIMIT", 1000)),
            files_dir=Path(os.environ["FLOWBOX_FILES_DIR"]).expanduser() if os.environ.get("FLOWBOX_FILES_DIR")
            else None,
        )
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)  # type: ignore[arg-type]

    def ensure_dirs(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)

    @property
    def nodes_dir(self) -> Path:
        """Extra node modules (`*.py`) loaded at start."""
        return self.data_dir / "nodes"

    @property
    def queue_path(self) -> Path:
        """The embedded queue's SQLite file."""
        return self.data_dir / "queue.db"
