"""Settings from flags and `FLOWBOX_*` environment variables.

Data lives in `--data-dir`, else `FLOWBOX_DATA_DIR`, else the platform's user data
dir (platformdirs). `FLOWBOX_DATABASE_URL` overrides the SQLite file in the data dir.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path


def default_data_dir() -> Path:
    from platformdirs import user_data_dir

    return Path(user_data_dir("flowbox", appauthor=False))


@dataclass(frozen=True)
class Settings:
    """Where data lives and how flowbox behaves; built once and passed down."""

    data_dir: Path
    database_url: str
    save_executions: bool = True

    @classmethod
    def load(cls, data_dir: str | Path | None = None) -> Settings:
        """Settings from an explicit data dir, else the environment, else the platform default."""
        path = Path(data_dir or os.environ.get("FLOWBOX_DATA_DIR") or default_data_dir()).expanduser()
        url = os.environ.get("FLOWBOX_DATABASE_URL") or f"sqlite:///{path.resolve() / 'flowbox.db'}"
        return cls(data_dir=path, database_url=url)

    def ensure_dirs(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)

    @property
    def nodes_dir(self) -> Path:
        """Extra node modules (`*.py`) loaded at start."""
        return self.data_dir / "nodes"
