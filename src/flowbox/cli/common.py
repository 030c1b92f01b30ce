"""What the `flowbox` commands share: the data-dir option, opening the store or the operations for one
command, JSON output."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import click

from flowbox.errors import FlowboxError

T = TypeVar("T")


class UsageError(FlowboxError):
    code = "usage"


def data_dir_option(fn: Callable[..., Any]) -> Callable[..., Any]:
    return click.option("--data-dir", type=click.Path(file_okay=False), default=None,
                        help="Where flowbox keeps its data (default: FLOWBOX_DATA_DIR or the user data dir)")(fn)


async def with_store(data_dir: str | None, work: Callable[[Any, Any], Awaitable[T]]) -> T:
    from flowbox import registry
    from flowbox.settings import Settings
    from flowbox.store import open_store

    settings = Settings.load(data_dir)
    settings.ensure_dirs()
    registry.load(settings.nodes_dir)
    store = open_store(settings.database_url)
    await store.open()
    try:
        return await work(store, settings)
    finally:
        await store.close()


async def with_ops(data_dir: str | None, work: Callable[[Any], Awaitable[T]]) -> T:
    """`await work(ops)` with the operations the API and the editor call (`flowbox.operations`), for no user
    in particular (the audit log says "cli"), on the data dir's store; no queue, scheduler or webhooks."""
    from flowbox import registry
    from flowbox.runtime import Runtime
    from flowbox.settings import Settings
    from flowbox.store import open_store

    settings = Settings.load(data_dir)
    settings.ensure_dirs()
    registry.load(settings.nodes_dir)
    runtime = Runtime(settings, open_store(settings.database_url))
    await runtime.store.open()
    try:
        return await work(runtime.operations())
    finally:
        await runtime.store.close()


def dump(value: Any) -> str:
    return dump_bytes(value).decode()


def dump_bytes(value: Any) -> bytes:
    import orjson

    return orjson.dumps(value, default=_jsonable)


def _jsonable(value: Any) -> Any:
    if isinstance(value, (set, frozenset, tuple)) or hasattr(value, "__iter__"):
        return list(value)
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)
