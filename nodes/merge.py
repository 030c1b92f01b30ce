"""Merge: wait for both inputs, then append, join by fields, zip by position, cross, or pick one."""

import json
from typing import Any

from flowbox.node import Context, Item, N8n, N8nNotes, Param, get_path, node
from flowbox.nodes._n8n import Params, rows, split_names

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


_JOINS = {"keepMatches": "inner", "keepEverything": "outer", "enrichInput1": "left", "enrichInput2": "right"}


def _merge_by_fields(p: Params, version: float) -> dict[str, Any]:
    """v2/v3 combine by matching fields: `mergeByFields.values` [{field1, field2}] (v3: or
    `fieldsToMatchString`), `joinMode`, `outputDataFrom`."""
    if version >= 3 and not p.take("advanced", False):
        fields = [[name, name] for name in split_names(p.take("fieldsToMatchString", ""))]
    else:
        fields = [[str(r.get("field1", "")), str(r.get("field2", ""))]
                  for r in rows(p.take("mergeByFields", {}), "values", "mergeByFields")]
    join = p.take("joinMode", "keepMatches")
    if join not in _JOINS:
        p.unsupported(f"joinMode {join!r} is not supported")
    if join == "keepMatches" and p.take("outputDataFrom", "both") != "both":
        p.unsupported("outputDataFrom one input only is not supported")
    p.approximated("fields present in both inputs take input 2's value (nested objects are not deep-merged)")
    return {"mode": "combineByFields", "fields": fields, "join": _JOINS.get(join, "inner")}


def from_n8n(params: dict[str, Any], version: float) -> tuple[dict[str, Any], N8nNotes]:
    """n8n's Merge. v1: append, multiplex, passThrough, mergeByIndex, mergeByKey; v2/v3: append, combine
    (by fields, by position, all combinations), chooseBranch. SQL mode, more than two inputs, and the
    v1 key-match filters are not supported."""
    p = Params(params, version)
    mode = p.take("mode", "append")
    if version >= 3 and p.take("numberInputs", 2) != 2:
        p.unsupported("more than two inputs are not supported")
    known = ("clashHandling", "includeUnpaired", "multipleMatches", "fuzzyCompare", "disableDotNotation")
    options = p.options("options", known)
    for key in ("fuzzyCompare", "disableDotNotation"):
        if options.get(key):
            p.unsupported(f"option '{key}' is not supported")
    clash = ((options.get("clashHandling") or {}).get("values") or {})
    if clash.get("resolveClash", "preferInput2") != "preferInput2":
        p.unsupported(f"clash handling {clash['resolveClash']!r} is not supported (input 2's value wins)")
    if options.get("multipleMatches", "all") != "all":
        p.unsupported("multipleMatches 'first' is not supported")
    if mode == "append":
        return p.done({"mode": "append"})
    if mode in ("passThrough", "chooseBranch"):
        branch = p.take("output", "input1")
        p.ignore("chooseBranchMode")
        if branch not in ("input1", "input2"):
            p.unsupported(f"output {branch!r} is not supported")
        return p.done({"mode": "chooseBranch", "branch": 1 if branch == "input2" else 0})
    if mode == "multiplex":
        return p.done({"mode": "combineAll"})
    if mode == "mergeByIndex":
        join = p.take("join", "left")  # n8n v1's default
        if join == "left":
            p.unsupported("mergeByIndex join 'left' (as many items as input 1) is not supported; inner and "
                          "outer are")
        return p.done({"mode": "combineByPosition", "includeUnpaired": join == "outer"})
    if mode == "mergeByKey":
        if p.take("overwrite", "always") != "always":
            p.unsupported(f"overwrite {p.raw['overwrite']!r} is not supported (input 2's values always win)")
        p.approximated("fields present in both inputs take input 2's value; input 1 items without the key are "
                       "kept (n8n v1 drops them)")
        return p.done({"mode": "combineByFields", "join": "left",
                       "fields": [[p.take("propertyName1", ""), p.take("propertyName2", "")]]})
    if mode == "combine":
        how = p.take("combinationMode" if version < 3 else "combineBy",
                     "mergeByFields" if version < 3 else "combineByFields")
        if how in ("mergeByFields", "combineByFields"):
            return p.done(_merge_by_fields(p, version))
        if how in ("mergeByPosition", "combineByPosition"):
            return p.done({"mode": "combineByPosition", "includeUnpaired": bool(options.get("includeUnpaired"))})
        if how in ("multiplex", "combineAll"):
            return p.done({"mode": "combineAll"})
    p.unsupported(f"mode {mode!r} is not supported")
    return p.done({})


N8N = N8n(types=("n8n-nodes-base.merge",), versions=(1, 2, 2.1, 3, 3.1, 3.2), convert=from_n8n)


@node(n8n=N8N, type="merge", display_name="Merge", group="flow", icon="merge", inputs=2,
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
        return [right if ctx.param("branch") == 1 else left]
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
