"""Rename Keys: rename fields of each item (n8n's renameKeys v1), by name pairs and by regular expression.

`keys` rows `{currentKey, newKey}` take dotted paths (`a.b` -> `c`); a row with an empty side, equal sides
or a missing current key changes nothing. `additionalOptions.regexReplacement` rows rename every key whose
name matches `searchRegex` (first match replaced, `$1`-style captures in `replaceRegex`), down to
`options.depth` levels (-1: all). Patterns run under flowbox's regex time limit; one that runs past it
fails the item with n8n's message ("Regex pattern ... may cause performance issues ...").
"""

from __future__ import annotations

import copy
from typing import Any

import regex

from flowbox.conditions import REGEX_TIMEOUT
from flowbox.conditions import _regex as compile_pattern
from flowbox.node import Context, Item, ItemErrors, N8n, N8nNotes, Param, node
from flowbox.nodes._n8n import Params
from flowbox.nodes._n8n import rows as n8n_rows
from flowbox.nodes._paths import MISSING, get_field, rows, set_field, unset_field

_TEMPLATE = regex.compile(r"\$(\$|&|`|'|\d{1,2}|<[^>]*>)")


def js_replacement(template: str, m: regex.Match[str]) -> str:
    """JavaScript's `String.replace` template for one match: `$1`, `$<name>`, `$&`, `` $` ``, `$'`, `$$`."""
    def one(t: regex.Match[str]) -> str:
        token = t.group(1)
        if token == "$":
            return "$"
        if token == "&":
            return m.group(0)
        if token == "`":
            return m.string[:m.start()]
        if token == "'":
            return m.string[m.end():]
        if token.startswith("<"):
            try:
                return m.group(token[1:-1]) or ""
            except IndexError:
                return t.group(0)
        n = int(token)
        if 0 < n <= len(m.groups()):
            return m.group(n) or ""
        if len(token) == 2 and 0 < int(token[0]) <= len(m.groups()):
            return (m.group(int(token[0])) or "") + token[1]
        return t.group(0)

    return _TEMPLATE.sub(one, template)


def _rename_matching(obj: Any, pattern: regex.Pattern[str], template: str, depth: int) -> None:
    """Rename, in place, the keys of `obj` (and of nested objects down to `depth`) that match `pattern`."""
    if isinstance(obj, list):
        if depth != 0:
            for child in obj:
                _rename_matching(child, pattern, template, depth - 1)
        return
    if not isinstance(obj, dict):
        return
    for key in list(obj):
        if key not in obj:
            continue
        if isinstance(obj[key], (dict, list)) and depth != 0:
            _rename_matching(obj[key], pattern, template, depth - 1)
        m = pattern.search(key, timeout=REGEX_TIMEOUT)
        if m is not None:
            new = key[:m.start()] + js_replacement(template, m) + key[m.end():]
            if new != key:
                obj[new] = obj.pop(key)


def _slow_pattern(pattern: regex.Pattern[str]) -> str:
    """n8n's words for a pattern that takes too long (here: past REGEX_TIMEOUT on one key), so a workflow that
    branches on the error output sees the same text."""
    return (f'Regex pattern "{pattern.pattern}" may cause performance issues. '
            'Please try a simpler pattern like "[a-z]+" or "\\w+". ')


def _regex_row(row: dict[str, Any]) -> tuple[regex.Pattern[str], str, int]:
    options = row.get("options") or {}
    source = str(row.get("searchRegex") or "")
    if not source:
        raise ValueError("parameter 'additionalOptions.regexReplacement': a row has an empty 'searchRegex'")
    flagged = f"/{source}/{'i' if options.get('caseInsensitive') else ''}"
    try:
        pattern = compile_pattern(flagged)
    except ValueError as exc:
        raise ValueError(f"parameter 'additionalOptions.regexReplacement': invalid regular expression "
                         f"{source!r}: {str(exc).split(': ', 1)[-1]}") from None
    depth = options.get("depth", -1)
    try:
        depth = int(-1 if depth in (None, "") else depth)
    except (TypeError, ValueError):
        raise ValueError(f"parameter 'additionalOptions.regexReplacement': depth must be a whole number; "
                         f"got {depth!r}") from None
    return pattern, str(row.get("replaceRegex") or ""), depth


KEY_ROW = (
    Param("currentKey", "string", "", placeholder="currentKey",
          description="The current name of the key; dotted paths reach nested keys (level1.level2.currentKey)"),
    Param("newKey", "string", "", placeholder="newKey", description="The new name; dotted paths nest"),
)
REGEX_ROW = (
    Param("searchRegex", "string", "", placeholder="e.g. [N-n]ame", description="Regex to match key names"),
    Param("replaceRegex", "string", "", placeholder="replacedName",
          description="The new name; captures as $1, $2, ..."),
    Param("options", "collection", {}, fields=(
        Param("caseInsensitive", "boolean", False),
        Param("depth", "number", -1, integer=True, description="-1 for unlimited, 0 for top level only"),
    )),
)


def from_n8n(params: dict[str, Any], version: float) -> tuple[dict[str, Any], N8nNotes]:
    """n8n's Rename Keys v1: `keys.key` rows unwrapped; `additionalOptions.regexReplacement.replacements`
    rows unwrapped too."""
    p = Params(params, version)
    out = p.same((), lists={"keys": "key"}, collections={"additionalOptions": ("regexReplacement",)})
    extra = out.get("additionalOptions", {})
    if "regexReplacement" in extra:
        found = n8n_rows(extra["regexReplacement"], "replacements", "additionalOptions.regexReplacement")
        for n, row in enumerate(found, 1):
            unknown = set(row.get("options") or {}) - {"caseInsensitive", "depth"}
            if unknown:
                p.unsupported(f"'additionalOptions.regexReplacement' row {n}: option "
                              f"'{sorted(unknown)[0]}' is not supported")
        out["additionalOptions"] = {**extra, "regexReplacement": found}
    return p.done(out)


N8N = N8n(types=("n8n-nodes-base.renameKeys",), versions=(1,), convert=from_n8n)

@node(n8n=N8N, type="renameKeys", display_name="Rename Keys", group="transform", icon="drive_file_rename_outline",
      description="Rename fields of each item, by name or by regular expression (n8n's Rename Keys)",
      params=[
          Param("keys", "list", [], fields=KEY_ROW, description="Keys to rename, in order"),
          Param("additionalOptions", "collection", {}, fields=(
              Param("regexReplacement", "list", [], fields=REGEX_ROW,
                    description="Rename every key matching a regular expression (after `keys`)"),
          )),
      ])
async def rename_keys(ctx: Context, items: list[Item]) -> list[list[Item]]:
    out: list[Item] = []
    errors = ItemErrors(ctx)
    for i, item in enumerate(items):
        try:
            pairs = rows(ctx.param("keys", i), "key")
            extra = ctx.param("additionalOptions", i) or {}
            replacements = [_regex_row(r) for r in rows(extra.get("regexReplacement"), "replacements")]
            data = copy.deepcopy(item.json)
            for pair in pairs:
                current, new = str(pair.get("currentKey") or ""), str(pair.get("newKey") or "")
                if not current or not new or current == new:
                    continue
                value = get_field(item.json, current)
                if value is MISSING:
                    continue
                set_field(data, new, copy.deepcopy(value))
                unset_field(data, current)
            for pattern, template, depth in replacements:
                try:
                    _rename_matching(data, pattern, template, depth)
                except TimeoutError:
                    errors.fail(item, i, ValueError(_slow_pattern(pattern)), out)
                    break
            else:
                out.append(item.derive(data))
        except ValueError as exc:
            errors.fail(item, i, ValueError(f"item {i}: {exc}"), out)
    return errors.outputs(out)
