"""Split Out: turn a list field into one item per element."""

from typing import Any

from flowbox.node import Context, Item, N8n, N8nNotes, Param, get_path, node, remove_path, set_path
from flowbox.nodes._n8n import Params, bad, rows, split_names


def from_n8n(params: dict[str, Any], version: float) -> tuple[dict[str, Any], N8nNotes]:
    """n8n's Split Out: `fieldToSplitOut` (one or several, comma-separated), `include` noOtherFields (default) |
    allOtherFields | selectedOtherFields (`fieldsToInclude`), `options.destinationFieldName`; splitting `$binary`
    and options.includeBinary are not supported. `failIfMissing` / `failIfNotList` come from Item Lists (v2.0 and
    v2.1 rules)."""
    p = Params(params, version)
    names = split_names(p.take("fieldToSplitOut", ""))
    if "$binary" in names:
        p.unsupported("splitting $binary (the item's files) is not supported")
    include = p.take("include", "noOtherFields")
    if include not in _INCLUDE:
        raise bad("include", f"must be noOtherFields, allOtherFields or selectedOtherFields; got {include!r}")
    out: dict[str, Any] = {"field": ", ".join(names), "include": _INCLUDE[include]}
    if include == "selectedOtherFields":
        value = p.take("fieldsToInclude", "")
        out["fieldsToInclude"] = ([str(r.get("fieldName", "")) for r in rows(value, "fields", "fieldsToInclude")]
                                  if isinstance(value, dict) else split_names(value))
    options = p.options("options", ("destinationFieldName", "disableDotNotation", "includeBinary"))
    if options.get("disableDotNotation") and any("." in name for name in names):
        p.unsupported("disableDotNotation with a field name holding '.' is not supported")
    if options.get("includeBinary"):
        p.unsupported("options.includeBinary (the input's files on each new item) is not supported")
    out["destination"] = str(options.get("destinationFieldName", ""))
    for strict in ("failIfMissing", "failIfNotList"):
        if p.take(strict, False):
            out[strict] = True
    return p.done(out)


_INCLUDE = {"noOtherFields": "none", "allOtherFields": "allOtherFields", "selectedOtherFields": "selectedOtherFields"}
N8N = N8n(types=("n8n-nodes-base.splitOut",), versions=(1,), convert=from_n8n)


@node(n8n=N8N, type="splitOut", display_name="Split Out", group="transform", icon="list-tree",
      description="One item per element of a list field (several fields split side by side)",
      params=[
          Param("field", "string", "", required=True,
                description="Path of the list field to split; several, comma-separated, split side by side"),
          Param("include", "options", "none", options=("none", "allOtherFields", "selectedOtherFields"),
                description="Copy the item's other fields (all, or `fieldsToInclude`) onto each new item"),
          Param("fieldsToInclude", "list", [], show_if={"include": ["selectedOtherFields"]},
                description="The fields of the item to copy onto each new item"),
          Param("destination", "string", "",
                description="Name for the element field (default: the field name; dots nest); one per split field"),
          Param("failIfMissing", "boolean", False, description="Fail when an item lacks the field (else it is skipped)"),
          Param("failIfNotList", "boolean", False,
                description="Fail when the field is not a list or object (else a single value is one element)"),
      ])
async def split_out(ctx: Context, items: list[Item]) -> list[list[Item]]:
    """Element k of every split field goes to new item k. An object element becomes the new item's fields
    when one field is split with no destination and no other fields; else it sits under the field's name."""
    out = []
    for i, item in enumerate(items):
        paths = [p.strip() for p in ctx.param("field", i).split(",") if p.strip()]
        names = [d.strip() for d in (ctx.param("destination", i) or "").split(",") if d.strip()]
        if names and len(names) != len(paths):
            raise ctx.error("give as many destination names as fields to split out", i)
        include = ctx.param("include", i)
        merge_objects = include == "none" and not names and len(paths) == 1
        split: list[dict[str, Any]] = []
        for n, path in enumerate(paths):
            values = get_path(item.json, path, _MISSING)
            if values is _MISSING and ctx.param("failIfMissing", i):
                raise ctx.error(f"Couldn't find the field '{path}' in the input data", i)
            if values is _MISSING:
                continue
            if not isinstance(values, (dict, list)) and ctx.param("failIfNotList", i):
                raise ctx.error(f"The provided field '{path}' is not an array or object", i)
            if isinstance(values, dict):
                values = list(values.values())
            elif not isinstance(values, list):
                values = [values]
            name = names[n] if names else (path.split(".")[-1] if len(paths) == 1 else path)
            if _UNSAFE & set(name.split(".")):  # never a path into an object's prototype: the field's own name
                name = path.split(".")[-1]
            for k, value in enumerate(values):
                if k == len(split):
                    split.append({})
                if merge_objects and isinstance(value, dict):
                    split[k].update(value)
                elif "." in name:
                    split[k] = set_path(split[k], name, value)
                else:
                    split[k][name] = value
        if include == "allOtherFields":
            others = item.json
            for path in paths:
                others = remove_path(others, path)
            split = [{**others, **data} for data in split]
        elif include == "selectedOtherFields":
            chosen = {f: get_path(item.json, f) for f in ctx.param("fieldsToInclude", i)}
            split = [{**data, **chosen} for data in split]
        out.extend(item.derive(data) for data in split)
    return [out]


_MISSING = object()
_UNSAFE = frozenset({"__proto__", "constructor", "prototype"})
