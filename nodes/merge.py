"""Merge: wait for both inputs, then append, join by fields, zip by position, cross, or pick one."""

import json
from typing import Any

from flowbox.node import Context, Item, Param, get_path, node

MODES = ("append", "combineByFields", "combineByPosition", "combineAll", "chooseBranch")


def _key(item: Item, paths: list[str]) -> str | None:
    values = [get_path(item.json, p) for p in paths]
    if any(v is None for v in values):
        return None
    return json.dumps(values, sort_keys=True, default=str)


def _pairs(fields: Any) -> list[tuple[str, str]]:
    """[[left, right], ...], [{"left":..,"right":..}], or "a,b" / "id" shorthands."""
    if isinstance(fields, str):
        fields = [f.strip() for f in fields.split(",") if f.strip()]
    pairs = []
    for f in fields or []:
        if isinstance(f, str):
            pairs.append((f, f))
        elif isinstance(f, dict):
            pairs.append((str(f.get("left") or f.get("field1")), str(f.get("right") or f.get("field2"))))
        elif isinstance(f, (list, tuple)) and len(f) == 2:
            pairs.append((str(f[0]), str(f[1])))
        else:
            raise ValueError(f"merge field pair {f!r} must be [left, right]")
    return pairs


def _join(left: list[Item], right: list[Item], pairs: list[tuple[str, str]], join: str) -> list[Item]:
    index: dict[str, list[Item]] = {}
    for item in right:
        key = _key(item, [p[1] for p in pairs])
        if key is not None:
            index.setdefault(key, []).append(item)
    used: set[int] = set()
    out = []
    for item in left:
        key = _key(item, [p[0] for p in pairs])
        matches = index.get(key, []) if key is not None else []
        for match in matches:
            used.add(id(match))
            if join != "leftAnti":
                out.append(item.derive({**item.json, **match.json}, item.binary or match.binary))
        if not matches and join in ("left", "outer"):
            out.append(item.derive(dict(item.json)))
    if join in ("right", "outer"):
        out.extend(item.derive(dict(item.json)) for item in right if id(item) not in used)
    return out


@node(type="merge", display_name="Merge", group="flow", icon="merge", inputs=2,
      description="Wait for both inputs, then combine their items",
      params=[
          Param("mode", "options", "append", options=MODES),
          Param("fields", "json", [], show_if={"mode": ["combineByFields"]},
                description="Pairs of [input 1 field, input 2 field] that must match"),
          Param("join", "options", "inner", options=("inner", "left", "right", "outer"),
                show_if={"mode": ["combineByFields"]}),
          Param("includeUnpaired", "boolean", False, show_if={"mode": ["combineByPosition"]},
                description="Keep items that have no partner at the same position"),
          Param("branch", "options", 0, options=(0, 1), show_if={"mode": ["chooseBranch"]},
                description="Which input's items to output"),
      ])
async def merge(ctx: Context, inputs: list[list[Item]]) -> list[list[Item]]:
    left, right = (inputs + [[], []])[:2]
    mode = ctx.param("mode")
    if mode == "append":
        return [left + right]
    if mode == "chooseBranch":
        return [right if int(ctx.param("branch") or 0) == 1 else left]
    if mode == "combineByPosition":
        out = [a.derive({**a.json, **b.json}, a.binary or b.binary) for a, b in zip(left, right, strict=False)]
        if ctx.param("includeUnpaired"):
            n = min(len(left), len(right))
            out += [i.derive(dict(i.json)) for i in left[n:] + right[n:]]
        return [out]
    if mode == "combineAll":
        return [[a.derive({**a.json, **b.json}, a.binary or b.binary) for a in left for b in right]]
    pairs = _pairs(ctx.param("fields"))
    if not pairs:
        raise ctx.error("combineByFields needs 'fields': pairs of [input 1 field, input 2 field]")
    return [_join(left, right, pairs, ctx.param("join") or "inner")]
