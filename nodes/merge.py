"""Merge: wait for both inputs, then append, join by fields, zip by position, cross, or pick one."""

import json
from collections.abc import Mapping
from typing import Any

from flowbox.node import Context, Item, N8n, N8nNotes, Param, get_path, node
from flowbox.nodes._n8n import Params, bad, rows, split_names
from flowbox.nodes._paths import MISSING

MODES = ("append", "combineByFields", "combineByPosition", "combineAll", "combineBySql", "chooseBranch")
DEFAULT_QUERY = "SELECT * FROM input1 LEFT JOIN input2 ON input1.name = input2.id"


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


def _join(left: list[Item], right: list[Item], pairs: list[tuple[str, str]], join: str, *, output: str = "both",
          clash: str = "preferInput2", deep: bool = False, unmatched_last: bool = False) -> list[Item]:
    """Items of `left` and `right` whose `pairs` of fields are equal, as `join` says: inner (`output` both:
    merged, `clash` deciding equal keys; input1 / input2: that input's matched items), left / right / outer
    (the unmatched ones too, in input order or, with `unmatched_last`, after the matches as n8n puts them),
    leftAnti / rightAnti / anti (only the unmatched; anti tags each with `_source`)."""
    index: dict[str, list[int]] = {}
    for j, item in enumerate(right):
        key = _key(item, [p[1] for p in pairs])
        if key is not None:
            index.setdefault(key, []).append(j)
    used: set[int] = set()
    matched: list[Item] = []
    unmatched_left: list[Item] = []
    first_of: list[Item] = []
    for item in left:
        key = _key(item, [p[0] for p in pairs])
        matches = index.get(key, []) if key is not None else []
        used.update(matches)
        if matches:
            first_of.append(item)
        elif join in ("left", "outer", "leftAnti", "anti"):
            unmatched_left.append(item)
            if not unmatched_last and join in ("left", "outer"):
                matched.append(_suffixed(item, "1") if clash == "addSuffix" else item.derive(dict(item.json)))
            continue
        if join in ("leftAnti", "rightAnti", "anti") or output != "both":
            continue
        matched.extend(_combine(item, right[j], clash, deep) for j in matches)
    unmatched_right = [item for j, item in enumerate(right) if j not in used]
    if join == "leftAnti":
        return unmatched_left
    if join == "rightAnti":
        return unmatched_right
    if join == "anti" and not (left and right):  # nothing to tell apart: n8n passes the items on, untagged
        return left + right
    if join == "anti":
        return ([i.derive({**i.json, "_source": "input1"}) for i in unmatched_left]
                + [i.derive({**i.json, "_source": "input2"}) for i in unmatched_right])
    if output == "input1":
        return first_of
    if output == "input2":
        return [item for j, item in enumerate(right) if j in used]
    if unmatched_last and join in ("left", "outer"):
        matched += [_suffixed(i, "1") if clash == "addSuffix" else i.derive(dict(i.json)) for i in unmatched_left]
    if join in ("right", "outer"):
        matched += [_suffixed(i, "2") if clash == "addSuffix" else i.derive(dict(i.json)) for i in unmatched_right]
    return matched


def _combine(a: Item, b: Item, clash: str, deep: bool) -> Item:
    """One item of `a` (input 1) and `b` (input 2): on equal keys input 2 wins (preferInput2), input 1 wins
    (preferInput1), or every key gets its input's suffix (addSuffix: `name_1`, `name_2`)."""
    if clash == "addSuffix":
        first, second = {f"{k}_1": v for k, v in a.json.items()}, {f"{k}_2": v for k, v in b.json.items()}
    elif clash == "preferInput1":
        first, second = b.json, a.json
    else:
        first, second = a.json, b.json
    data = deep_merge(first, second) if deep else {**first, **second}
    binary = ({**(b.binary or {}), **(a.binary or {})} if clash == "preferInput1"
              else {**(a.binary or {}), **(b.binary or {})})
    return a.derive(data, binary or None)


def _combine_many(numbered: list[tuple[int, Item]], clash: str, deep: bool) -> Item:
    """One item of the items at one position of three or more inputs, given as (input number, item), as
    `_combine` does for two (addSuffix: `name_1`, `name_2`, `name_3`, ... by input)."""
    items = [item for _, item in numbered]
    if clash == "addSuffix":
        parts = [{f"{k}_{n}": v for k, v in item.json.items()} for n, item in numbered]
    else:
        parts = [item.json for item in (reversed(items) if clash == "preferInput1" else items)]
    data: dict[str, Any] = {}
    binary: dict[str, Any] = {}
    for part, item in zip(parts, reversed(items) if clash == "preferInput1" else items, strict=True):
        data = deep_merge(data, part) if deep else {**data, **part}
        binary.update(item.binary or {})
    return Item(data, binary or None, items[0], tuple(items[1:]))


def _int(value: Any, name: str) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        raise ValueError(f"parameter '{name}' must be an input number; got {value!r}") from None


def number_of_inputs(params: Mapping[str, Any]) -> int:
    """Merge's inputs: `numberInputs` (2 to 10; 2 when it is not a number yet)."""
    try:
        return min(10, max(2, int(params.get("numberInputs") or 2)))
    except (TypeError, ValueError):
        return 2


def _first_item(inputs: list[list[Item]]) -> Item | None:
    return next((items[0] for items in inputs if items), None)


def _by_sql(ctx: Context, inputs: list[list[Item]]) -> list[Item]:
    """The rows of the SQL query over input1, input2, ..., each paired with the items it took from."""
    from flowbox.nodes._merge_sql import QueryFailed, run_query

    try:
        rows = run_query([[i.json for i in items] for items in inputs], ctx.param("query"))
    except QueryFailed as exc:
        raise ctx.error(f"Issue while executing query: {exc}", 0) from None
    out = []
    for json_, sources in rows:
        found = [inputs[n][k] for n, k in enumerate(sources) if k is not None]
        out.append(Item(json_, None, found[0] if found else _first_item(inputs), tuple(found[1:])))
    if not out and ctx.param("emptyResult") == "success":
        out.append(Item({"success": True}, None, _first_item(inputs)))
    return out


def _suffixed(item: Item, suffix: str) -> Item:
    return item.derive({f"{k}_{suffix}": v for k, v in item.json.items()})


def deep_merge(target: Any, source: Any) -> Any:
    """lodash's merge of two JSON values: objects key by key and arrays index by index, recursively; the
    source's value wins elsewhere (a missing one never overwrites)."""
    if isinstance(target, dict) and isinstance(source, dict):
        out = dict(target)
        for key, value in source.items():
            out[key] = deep_merge(out[key], value) if key in out else value
        return out
    if isinstance(target, list) and isinstance(source, list):
        return [deep_merge(target[i], v) if i < len(target) else v for i, v in enumerate(source)] + target[len(source):]
    return source


_JOINS = {"keepMatches": "inner", "keepEverything": "outer", "enrichInput1": "left", "enrichInput2": "right",
          "keepNonMatches": "anti"}
_ANTI = {"both": "anti", "input1": "leftAnti", "input2": "rightAnti"}
_SWAPPED = {"preferInput1": "preferInput2", "preferInput2": "preferInput1", "addSuffix": "addSuffix"}


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
    output = p.take("outputDataFrom", "both")
    if output not in _ANTI:
        raise bad("outputDataFrom", f"must be both, input1 or input2; got {output!r}")
    out = {"mode": "combineByFields", "fields": fields, "join": _JOINS.get(join, "inner"), "unmatchedLast": True}
    if join == "keepNonMatches":
        out["join"] = _ANTI[output]
    elif join == "keepMatches" and output != "both":
        out["output"] = output
    if join == "enrichInput2" and version >= 3:
        out["clash"] = "preferInput1"  # Merge v3's default there: input 1's values win (v2: input 2's)
    p.approximated("items match when their fields are equal and present; a null matches nothing (n8n: null "
                   "matches null)")
    return out


def from_n8n(params: dict[str, Any], version: float) -> tuple[dict[str, Any], N8nNotes]:
    """n8n's Merge. v1: append, multiplex, passThrough, mergeByIndex, mergeByKey; v2/v3: append, combine
    (by fields, by position, all combinations, SQL), chooseBranch; v3's numberInputs (up to 10) for append,
    by position, SQL and chooseBranch. The v1 key-match filters are not supported."""
    p = Params(params, version)
    mode = p.take("mode", "append")
    inputs = p.take("numberInputs", 2) if version >= 3 else 2
    extra = {"numberInputs": inputs} if inputs != 2 else {}
    known = ("clashHandling", "includeUnpaired", "multipleMatches", "fuzzyCompare", "disableDotNotation",
             "emptyQueryResult")
    options = p.options("options", known)
    for key in ("fuzzyCompare", "disableDotNotation"):
        if options.get(key):
            p.unsupported(f"option '{key}' is not supported")
    clash = ((options.get("clashHandling") or {}).get("values") or {})
    resolve = {"preferLast": "preferInput2"}.get(clash.get("resolveClash"), clash.get("resolveClash"))
    if resolve not in (None, "preferInput1", "preferInput2", "addSuffix"):
        p.unsupported(f"clash handling {resolve!r} is not supported")
    if clash.get("overrideEmpty"):
        p.unsupported("clash handling overrideEmpty is not supported")
    merging = {"clash": resolve} if resolve else {}
    merging["deepMerge"] = clash.get("mergeMode", "deepMerge") == "deepMerge"  # n8n's default
    if options.get("multipleMatches", "all") != "all":
        p.unsupported("multipleMatches 'first' is not supported")
    if mode == "append":
        return p.done({"mode": "append", **extra})
    if mode == "combineBySql":
        query = str(p.take("query", DEFAULT_QUERY))
        if "{{" in query and not query.startswith("="):  # n8n resolves the {{ }} in the query text itself
            query = "=" + query
        empty = options.get("emptyQueryResult", "empty") if version >= 3.2 else "success"
        p.approximated("the query runs in SQLite, not alasql: standard SQL gives the same rows, alasql's own "
                       "functions and statements do not exist")
        return p.done({"mode": "combineBySql", "query": query, "emptyResult": empty, **extra})
    if mode in ("passThrough", "chooseBranch"):
        branch = p.take("output", "specifiedInput" if version >= 3 else "input1")
        p.ignore("chooseBranchMode")
        if branch == "specifiedInput":  # v3: useDataOfInput, counted from 1
            branch = f"input{p.take('useDataOfInput', 1)}"
        if branch != "empty" and not (branch.startswith("input") and branch[5:].isdigit()):
            p.unsupported(f"output {branch!r} is not supported")
            return p.done({})
        return p.done({"mode": "chooseBranch", "branch": "empty" if branch == "empty" else int(branch[5:]) - 1,
                       **extra})
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
            out = {**_merge_by_fields(p, version), **merging}
            if version < 3 and params.get("joinMode") == "enrichInput2":  # v2 matches input 2 against input 1,
                out["clash"] = _SWAPPED.get(resolve or "", "preferInput1")  # so its clash option's inputs swap
            if version < 2.1:
                out["failIfMissing"] = True
            return p.done(out)
        if how in ("mergeByPosition", "combineByPosition"):
            return p.done({"mode": "combineByPosition", "includeUnpaired": bool(options.get("includeUnpaired")),
                           **merging, **extra})
        if extra:
            p.unsupported(f"{how} of more than two inputs is not supported")
        if how in ("multiplex", "combineAll"):
            return p.done({"mode": "combineAll", **merging})
    p.unsupported(f"mode {mode!r} is not supported")
    return p.done({})


N8N = N8n(types=("n8n-nodes-base.merge",), versions=(1, 2, 2.1, 3, 3.1, 3.2), convert=from_n8n)


@node(n8n=N8N, type="merge", display_name="Merge", group="flow", icon="merge", inputs=number_of_inputs,
      description="Wait for both inputs, then combine their items",
      params=[
          Param("mode", "options", "append", options=MODES),
          Param("numberInputs", "number", 2, min=2, max=10, integer=True,
                show_if={"mode": ["append", "combineByPosition", "combineBySql", "chooseBranch"]},
                description="How many inputs the node has (the other modes combine two)"),
          Param("fields", "json", [], show_if={"mode": ["combineByFields"]},
                description="Pairs of [input 1 field, input 2 field] that must match"),
          Param("join", "options", "inner", options=("inner", "left", "right", "outer", "leftAnti", "rightAnti",
                                                        "anti"), show_if={"mode": ["combineByFields"]},
                description="left/right/outer keep the unmatched items of input 1/2/both; leftAnti/rightAnti/anti "
                            "output only the unmatched ones (anti: both inputs', each tagged with _source)"),
          Param("output", "options", "both", options=("both", "input1", "input2"),
                show_if={"mode": ["combineByFields"], "join": ["inner"]},
                description="both: matched items merged; input1 / input2: that input's matched items as they are"),
          Param("clash", "options", "preferInput2", options=("preferInput2", "preferInput1", "addSuffix"),
                show_if={"mode": ["combineByFields", "combineByPosition", "combineAll"]},
                description="When both items have a field: input 2's value, input 1's, or both as name_1 / name_2"),
          Param("deepMerge", "boolean", False, show_if={"mode": ["combineByFields", "combineByPosition", "combineAll"]},
                description="Merge nested objects and arrays field by field instead of replacing them"),
          Param("failIfMissing", "boolean", False, show_if={"mode": ["combineByFields"]},
                description="Fail when no item of an input that has items has a field to match (n8n's Merge v2)"),
          Param("unmatchedLast", "boolean", False, show_if={"mode": ["combineByFields"]},
                description="Put the unmatched items after the matched ones (n8n's order) instead of in input order"),
          Param("includeUnpaired", "boolean", False, show_if={"mode": ["combineByPosition"]},
                description="Keep items that have no partner at the same position"),
          Param("query", "code", DEFAULT_QUERY, show_if={"mode": ["combineBySql"]},
                description="SQL over the tables input1 and input2 (SQLite); each result row is an item"),
          Param("emptyResult", "options", "empty", options=("empty", "success"), show_if={"mode": ["combineBySql"]},
                description="When the query returns no rows: no items, or one item {success: true}"),
          Param("branch", "options", 0, options=(*range(10), "empty"), show_if={"mode": ["chooseBranch"]},
                description="Which input's items to output (0 for input 1, 1 for input 2, ...), or 'empty': one "
                            "empty item"),
      ])
async def merge(ctx: Context, inputs: list[list[Item]]) -> list[list[Item]]:
    inputs = list(inputs) + [[] for _ in range(2 - len(inputs))]
    left, right = inputs[:2]
    mode = ctx.param("mode")
    if mode == "append":
        return [[item for items in inputs for item in items]]
    if mode == "chooseBranch":
        branch = ctx.param("branch")
        if branch == "empty":  # once every input arrived: one empty item, paired with the first item of each
            firsts = [items[0] for items in inputs if items]
            return [[Item({}, None, firsts[0] if firsts else None, tuple(firsts[1:]))]]
        index = _int(branch, "branch")
        if not 0 <= index < len(inputs):
            raise ctx.error(f"Input {index + 1} doesn't exist",
                            description=f"The node has only {len(inputs)} inputs, so selecting input {index + 1} "
                                        "is not possible.")
        return [inputs[index]]
    if mode == "combineBySql":
        return [_by_sql(ctx, inputs)]
    clash, deep = ctx.param("clash"), ctx.param("deepMerge")
    if mode == "combineByPosition" and len(inputs) > 2:
        length = max(map(len, inputs)) if ctx.param("includeUnpaired") else min(map(len, inputs))
        return [[_combine_many([(n, items[i]) for n, items in enumerate(inputs, 1) if i < len(items)], clash, deep)
                 for i in range(length)]]
    if len(inputs) > 2:
        raise ctx.error(f"mode {mode!r} combines two inputs; set numberInputs to 2 (append, combineByPosition, "
                        "combineBySql and chooseBranch take more)")
    if mode == "combineByPosition":
        out = [_combine(a, b, clash, deep) for a, b in zip(left, right, strict=False)]
        if ctx.param("includeUnpaired"):
            n = min(len(left), len(right))
            out += [i.derive(dict(i.json)) for i in left[n:] + right[n:]]
        return [out]
    if mode == "combineAll":  # input 1 outer; when input 1's values win, input 2 outer (n8n's order)
        if clash == "preferInput1":
            return [[_combine(a, b, clash, deep) for b in right for a in left]]
        return [[_combine(a, b, clash, deep) for a in left for b in right]]
    pairs = _pairs(ctx.param("fields"))
    if not pairs:
        raise ctx.error("combineByFields needs 'fields': pairs of [input 1 field, input 2 field]")
    if ctx.param("failIfMissing"):
        for side, items in enumerate((left, right)):
            for field in {pair[side] for pair in pairs}:
                if items and all(get_path(i.json, field, MISSING) is MISSING for i in items if i.json):
                    raise ctx.error(f"Field '{field}' is not present in any of items in 'Input {side + 1}'")
    return [_join(left, right, pairs, ctx.param("join"), output=ctx.param("output"), clash=clash, deep=deep,
                  unmatched_last=ctx.param("unmatchedLast"))]
