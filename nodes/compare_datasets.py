"""Compare Datasets: pair the items of input A and input B by fields, then sort them into four outputs
(n8n's compareDatasets v2.3): 0 "In A only", 1 "Same", 2 "Different", 3 "In B only".

A pair is "same" when every other field is equal (minus `options.skipFields`); `fuzzyCompare` treats
3 and "3", true and "true"/1, null/""/[] alike. A different pair goes out as input A's item
(`resolve` "preferInput1"), input B's ("preferInput2"), a mix (`preferWhenMix` plus the `exceptWhenMix`
fields from the other input), or ("includeBoth", the default) one item
`{"keys": {...}, "same": {...}, "different": {field: {"inputA", "inputB"}}, "skipped"?: {...}}`.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass
from typing import Any

from flowbox.node import Context, Item, N8n, N8nNotes, Param, node
from flowbox.nodes._n8n import Params
from flowbox.nodes._paths import MISSING, comma_list, get_field, rows, set_field, unset_field
from flowbox.nodes._versions import given, type_version

RESOLVE = ("preferInput1", "preferInput2", "mix", "includeBoth")
LATEST = 2.3  # n8n's versions 1, 2, 2.1, 2.2 keep their own rules when a workflow names them


def _strict(a: Any, b: Any) -> bool:
    """lodash isEqual on JSON values: booleans are not numbers, 1 == 1.0."""
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_strict(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_strict(x, y) for x, y in zip(a, b, strict=True))
    if a is MISSING or b is MISSING:
        return a is b
    return type(a) is type(b) and a == b or _js_type(a) == _js_type(b) == "number" and a == b


def _js_type(value: Any) -> str:
    if value is MISSING:
        return "undefined"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    return "object"  # dict, list and null


def _falsy(value: Any) -> bool:
    return value is None or value == "" and isinstance(value, str) or isinstance(value, list) and not value


def _number_text(value: Any) -> str:
    return str(int(value)) if isinstance(value, float) and value.is_integer() else str(value)


def _parsed_equal(text: str, other: Any) -> bool:
    try:
        return _strict(json.loads(text), other)
    except ValueError:
        return False


def fuzzy_equal(a: Any, b: Any, version: float = 2) -> bool:
    """n8n's fuzzyCompare: loose equality across number/string/boolean/empty values (from version 2 null
    also equals 0 and "0")."""
    ta, tb = _js_type(a), _js_type(b)
    if a is not None and b is not None and ta == tb:
        return _strict(a, b)
    if version >= 2 and a is None and (b is None or b == 0 and tb == "number" or b == "0"):
        return True
    if version >= 2 and b is None and (a is None or a == 0 and ta == "number" or a == "0"):
        return True
    if _falsy(a) and _falsy(b) or _falsy(a) and b is MISSING or a is MISSING and _falsy(b):
        return True
    pair = {ta, tb}
    if pair == {"number", "string"}:
        number, text = (a, b) if ta == "number" else (b, a)
        return _number_text(number) == text
    if ta == "object" and a is not None and tb == "string":
        return _parsed_equal(b, a)
    if tb == "object" and b is not None and ta == "string":
        return _parsed_equal(a, b)
    if pair == {"boolean", "string"}:
        flag, text = (a, b) if ta == "boolean" else (b, a)
        return text.lower() == ("true" if flag else "false") or text == ("1" if flag else "0")
    if pair == {"boolean", "number"}:
        flag, number = (a, b) if ta == "boolean" else (b, a)
        return number == (1 if flag else 0)
    return _strict(a, b)


@dataclass(frozen=True)
class Compare:
    """How one node run compares: its n8n version's rules and the node's options."""

    version: float
    fuzzy: bool
    resolve: str
    dot: bool
    skip: list[str]

    def equal(self, a: Any, b: Any) -> bool:
        return fuzzy_equal(a, b, self.version) if self.fuzzy else _strict(a, b)

    def nullish(self, value: Any) -> Any:
        """A missing value as null (before version 2 every falsy value became null, as `value || null`)."""
        if self.version < 2:
            return None if value is MISSING or value in (0, "", False) and not isinstance(value, (list, dict)) else value
        return None if value is MISSING else value


def _differences(a: Item, b: Item, pairs: list[tuple[str, str]], cmp: Compare) -> dict[str, Any]:
    """The "includeBoth" item of a different pair: keys, same, different (inputA/inputB) and skipped fields."""
    skip, resolve, dot = cmp.skip, cmp.resolve, cmp.dot
    name_a, name_b = ("inputA", "inputB") if cmp.version >= 2 else ("input1", "input2")
    keys = {f1: a.json[f1] for f1, _ in pairs if f1 in a.json}  # undefined is dropped
    union = list(a.json) + [k for k in b.json if k not in a.json]
    compared = union if cmp.fuzzy and cmp.version >= 2.1 else [k for k in a.json if k in b.json]
    same = {k: a.json[k] for k in compared if cmp.equal(a.json.get(k, MISSING), b.json.get(k, MISSING))}
    different: dict[str, Any] = {}
    skipped: dict[str, Any] = {}
    for key in (k for k in union if k not in same):
        one, two = cmp.nullish(a.json.get(key, MISSING)), cmp.nullish(b.json.get(key, MISSING))
        if resolve == "preferInput1":
            different[key] = one
            continue
        if resolve == "preferInput2":
            different[key] = two
            continue
        nested = [f for f in skip if f.startswith(key) and "." in f] if (
            dot and key not in skip and cmp.version >= 2.1) else []
        if key in skip:
            skipped[key] = {name_a: one, name_b: two}
            continue
        if nested:
            if not isinstance(one, dict) or not isinstance(two, dict):
                raise ValueError(f"The field '{key}' is not an object. It is not possible to use dot notation.")
            one, two = copy.deepcopy(one), copy.deepcopy(two)
            holder = skipped.setdefault(key, {name_a: {}, name_b: {}})
            for field in nested:
                inner = field.replace(f"{key}.", "", 1)
                for side, value in ((name_a, one), (name_b, two)):
                    set_field(holder[side], inner, cmp.nullish(get_field(value, inner)))
                    unset_field(value, inner)
        different[key] = {name_a: one, name_b: two}
    out = {"keys": keys, "same": same, "different": different}
    if skipped:
        out["skipped"] = skipped
    return out


def _mixed(a: Item, b: Item, prefer: str, except_fields: Any, cmp: Compare) -> Item:
    entry, other = (a, b) if prefer == "input1" else (b, a)
    data = copy.deepcopy(entry.json)
    for field in comma_list(except_fields):
        if cmp.dot:
            set_field(data, field, cmp.nullish(get_field(other.json, field)))
        else:
            data[field] = other.json.get(field)
    return entry.derive(data)


def _without(data: dict[str, Any], skip: list[str], dot: bool) -> dict[str, Any]:
    if not skip:
        return data
    if not dot or not any("." in f for f in skip):
        return {k: v for k, v in data.items() if k not in skip}
    data = copy.deepcopy(data)
    for field in skip:
        unset_field(data, field)
    return data


def _pairs(ctx: Context) -> list[tuple[str, str]]:
    fields = rows(ctx.param("mergeByFields"), "values")
    if not fields or len(fields) == 1 and not fields[0].get("field1") and not fields[0].get("field2"):
        raise ctx.error('parameter \'mergeByFields\': define at least one pair of fields in "Fields to Match" '
                        "to match on")
    pairs = []
    for n, row in enumerate(fields, 1):
        f1, f2 = str(row.get("field1") or ""), str(row.get("field2") or "")
        if not f1 or not f2:
            raise ctx.error(f"parameter 'mergeByFields': pair {n} needs both fields "
                            f"(field 1 = {f1!r}, field 2 = {f2!r})")
        pairs.append((f1, f2))
    return pairs


def from_n8n(params: dict[str, Any], version: float) -> tuple[dict[str, Any], N8nNotes]:
    """n8n's Compare Datasets v1-v2.3 (same names; v1 keeps fuzzyCompare in `options`, later versions at
    the top): `mergeByFields.values` rows unwrapped. What the export leaves out stays out, so the node
    applies its version's defaults (resolve "preferInput2" before v2.1)."""
    p = Params(params, version)
    p.ignore("infoBox")
    known = ("skipFields", "disableDotNotation", "multipleMatches") + (("fuzzyCompare",) if version < 2 else ())
    out = p.same(("resolve", "preferWhenMix", "exceptWhenMix") + (("fuzzyCompare",) if version >= 2 else ()),
                 lists={"mergeByFields": "values"}, collections={"options": known})
    return p.done(out)


N8N = N8n(types=("n8n-nodes-base.compareDatasets",), versions=(1, 2, 2.1, 2.2, 2.3), convert=from_n8n)

@node(n8n=N8N, type="compareDatasets", display_name="Compare Datasets", group="transform", icon="compare_arrows",
      inputs=2, outputs=4, output_names=("In A only", "Same", "Different", "In B only"),
      description="Compare two inputs for changes: in A only, same, different, in B only",
      params=[
          Param("mergeByFields", "list", [{"field1": "", "field2": ""}], required=True, fields=(
              Param("field1", "string", "", placeholder="e.g. id", description="Input A field"),
              Param("field2", "string", "", placeholder="e.g. id", description="Input B field"),
          ), description="Items of A and B are paired when these fields match"),
          Param("resolve", "options", "includeBoth", options=RESOLVE, description="When there are differences"),
          Param("fuzzyCompare", "boolean", False,
                description="Tolerate small type differences (the number 3 and the text '3' are the same)"),
          Param("preferWhenMix", "options", "input1", options=("input1", "input2"), show_if={"resolve": ["mix"]}),
          Param("exceptWhenMix", "string", "", placeholder="e.g. id, country", show_if={"resolve": ["mix"]},
                description="Fields taken from the other input, separated by commas"),
          Param("options", "collection", {}, fields=(
              Param("skipFields", "string", "", placeholder="e.g. updated_at, updated_by",
                    description="Fields left out when checking whether two items are the same"),
              Param("fuzzyCompare", "boolean", False, description="n8n version 1's place for fuzzyCompare"),
              Param("disableDotNotation", "boolean", False),
              Param("multipleMatches", "options", "first", options=("first", "all")),
          )),
      ])
async def compare_datasets(ctx: Context, inputs: list[list[Item]]) -> list[list[Item]]:
    pairs = _pairs(ctx)
    options = ctx.param("options") or {}
    version = type_version(ctx, LATEST)
    dot = not options.get("disableDotNotation")
    skip = comma_list(options.get("skipFields"))
    if not dot and any("." in f for f in skip):
        field = next(f for f in skip if "." in f)
        raise ctx.error(f"parameter 'options.skipFields': dot notation is disabled, but field to skip "
                        f"comparing '{field}' contains a dot")
    resolve = ctx.param("resolve") if version >= 2.1 or given(ctx, "resolve") else "preferInput2"
    fuzzy = ctx.param("fuzzyCompare") if version >= 2 else options.get("fuzzyCompare") is True
    cmp = Compare(version, fuzzy, resolve, dot, skip)
    every = options.get("multipleMatches") == "all"
    a_items, b_items = ([i for i in items if i.json] for items in (inputs + [[], []])[:2])
    if version < 2.2:
        _fields_present(ctx, a_items, [f1 for f1, _ in pairs], dot, "Input A")
        _fields_present(ctx, b_items, [f2 for _, f2 in pairs], dot, "Input B")
    only_a: list[Item] = []
    same: list[Item] = []
    different: list[Item] = []
    matched_b: set[int] = set()
    for a in a_items:
        lookup = {f2: get_field(a.json, f1, dot) for f1, f2 in pairs}
        if any(v is MISSING for v in lookup.values()):
            only_a.append(a)
            continue
        found = [(j, b) for j, b in enumerate(b_items)
                 if all(cmp.equal(v, get_field(b.json, f2, dot)) for f2, v in lookup.items())]
        found = found if every else found[:1]
        if not found:
            only_a.append(a)
            continue
        kept: Item | None = None
        for j, b in found:
            matched_b.add(j)
            one, two = _without(a.json, skip, dot), _without(b.json, skip, dot)
            alike = all(cmp.equal(one[k], two.get(k, MISSING)) for k in one) if fuzzy else _strict(one, two)
            if alike:
                kept = kept or (b if fuzzy and resolve == "preferInput2" else a)
            elif resolve == "preferInput1":
                different.append(a)
            elif resolve == "preferInput2":
                different.append(b)
            elif resolve == "mix":
                different.append(_mixed(a, b, ctx.param("preferWhenMix"), ctx.param("exceptWhenMix"), cmp))
            else:
                try:
                    different.append(a.derive(_differences(a, b, pairs, cmp), binary=None))
                except ValueError as exc:
                    raise ctx.error(f"parameter 'options.skipFields': {exc}") from None
        if kept is not None and kept.json:
            same.append(kept)
    only_b = [b for j, b in enumerate(b_items) if j not in matched_b]
    return [only_a, same, different, only_b]


def _fields_present(ctx: Context, items: list[Item], fields: list[str], dot: bool, label: str) -> None:
    """Before version 2.2 a match field that no item of an input has is an error."""
    for field in fields:
        if items and not any(get_field(item.json, field, dot) is not MISSING for item in items):
            raise ctx.error(f"parameter 'mergeByFields': Field '{field}' is not present in any of items in '{label}'")
