"""JSON request bodies: the one depth rule for every door a JSON body comes in by.

A body nested more than `MAX_JSON_DEPTH` levels of arrays/objects (`{"a": 1}` is one level, `[[1]]` two)
is refused with 400 before anything handles it. Past ~250 levels orjson cannot write a value back, so
such a body could be read but never stored (nor answered); 128 leaves room for the levels an execution
wraps around it (`[[{"json": {"body": ...}}]]`). Webhooks parse with `load_json`; the API's Litestar
handlers get `JsonRequest`, whose `json()` applies the same check to what Litestar decodes.
"""

from __future__ import annotations

from typing import Any

import orjson
from litestar import Request

from flowbox.errors import InvalidInput

MAX_JSON_DEPTH = 128


def too_deep() -> InvalidInput:
    return InvalidInput(f"JSON body is nested too deeply: more than {MAX_JSON_DEPTH} levels of arrays and objects",
                        maxDepth=MAX_JSON_DEPTH)


def _within(node: dict[str, Any] | list[Any], budget: int) -> bool:
    """Whether the containers under `node` (itself one level) nest at most `budget` levels."""
    if budget <= 0:
        return False
    for child in node.values() if type(node) is dict else node:
        kind = type(child)
        if (kind is dict or kind is list) and not _within(child, budget - 1):
            return False
    return True


def check_depth(raw: bytes, value: Any) -> None:
    """Raise `InvalidInput` when `value` (decoded from `raw`) nests deeper than `MAX_JSON_DEPTH`."""
    if raw.count(b"[") + raw.count(b"{") <= MAX_JSON_DEPTH:  # cannot be deeper: skip the walk
        return
    if isinstance(value, (dict, list)) and not _within(value, MAX_JSON_DEPTH):
        raise too_deep()


def load_json(raw: bytes) -> Any:
    """`raw` parsed as JSON, or `InvalidInput` (400) saying why not."""
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        if "depth" in str(exc) or "recursion" in str(exc):
            raise too_deep() from None
        raise InvalidInput(f"request body is not valid JSON: {exc}") from None
    check_depth(raw, value)
    return value


class JsonRequest(Request[Any, Any, Any]):
    """Litestar's request, with the depth rule on the JSON it decodes (for `data` and `request.json()`)."""

    async def json(self) -> Any:
        try:
            value = await super().json()
        except RecursionError:  # msgspec gives up near the interpreter's recursion limit
            raise too_deep() from None
        check_depth(await self.body(), value)
        return value
