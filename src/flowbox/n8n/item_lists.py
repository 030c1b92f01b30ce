"""n8n's legacy Item Lists node (v1, v2, v2.1, v2.2, v3, v3.1) onto the standalone n8n nodes it was split
into, whose converters then run: each operation's parameters are laid out as the standalone node's.

| operation | becomes (n8n type, typeVersion) |
|---|---|
| aggregateItems (v1, v2), concatenateItems (v3) | aggregate 1; before v2.1 a field no item has fails |
| limit | limit 1 |
| removeDuplicates | removeDuplicates 1 (v1, v2: `fieldsToCompare.fields` rows), 1.1 (v3: text) |
| sort | sort 1 |
| splitOutItems | splitOut 1; before v2.1 a missing field, before v2.2 a field that is no list or object, fails |
| summarize | summarize 1: groups by the split fields' text, as Item Lists does; from v2.1 a field to summarize
  that no item has is no error (`options.continueIfFieldNotFound`) |

Every other operation (Item Lists v3.1's table tools, if any) is left to the standalone node's converter,
which reports it unsupported.
"""

from __future__ import annotations

import json
from typing import Any

from flowbox.errors import WorkflowInvalid

TYPE = "n8n-nodes-base.itemLists"
VERSIONS = (1, 2, 2.1, 2.2, 3, 3.1)
_SIMPLE = {"aggregateItems": "aggregate", "concatenateItems": "aggregate", "limit": "limit", "sort": "sort",
           "splitOutItems": "splitOut"}


def route(params: dict[str, Any], version: float) -> tuple[str | None, float, dict[str, Any]]:
    """The standalone n8n node type, its typeVersion and the parameters an Item Lists node stands for
    (type None: an operation no standalone node takes)."""
    if version not in VERSIONS:
        known = ", ".join(f"{v:g}" for v in VERSIONS)
        raise WorkflowInvalid(f"typeVersion {version:g} is not one flowbox knows (it converts {known})",
                              field="typeVersion")
    rest = {k: v for k, v in params.items() if k not in ("operation", "resource")}
    resource = params.get("resource", "itemList")
    operation = params.get("operation", "splitOutItems")  # n8n's default in every version
    if resource != "itemList" or not isinstance(operation, str):
        return None, version, params
    if operation == "aggregateItems" and version >= 3 or operation == "concatenateItems" and version < 3:
        return None, version, params
    if operation in ("splitOutItems", "aggregateItems") and version < 2.1:
        rest["failIfMissing"] = True  # Item Lists' own rules, which the standalone nodes' converters take
    if operation == "splitOutItems" and version < 2.2:
        rest["failIfNotList"] = True
    if operation in _SIMPLE:
        return f"n8n-nodes-base.{_SIMPLE[operation]}", 1, rest
    if operation == "removeDuplicates":
        return "n8n-nodes-base.removeDuplicates", 1.1 if version >= 3 else 1, rest
    if operation == "summarize":
        if version >= 2.1:
            options = rest.get("options") or {}
            if not isinstance(options, dict):
                raise WorkflowInvalid(f"parameter 'options' must be an object; got {json.dumps(options)[:40]}",
                                      field="options")
            rest["options"] = {**options, "continueIfFieldNotFound": True}
        return "n8n-nodes-base.summarize", 1, rest
    return None, version, params
