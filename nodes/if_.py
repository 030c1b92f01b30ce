"""If: route each item to output 0 (true) or output 1 (false)."""

from typing import Any

from flowbox.conditions import CONDITION_PARAMS, item_passes
from flowbox.node import Context, Item, ItemErrors, N8n, N8nNotes, node
from flowbox.nodes._n8n import UNARY, conditions_from_n8n


def from_n8n(params: dict[str, Any], version: float) -> tuple[dict[str, Any], N8nNotes]:
    """n8n's If: v1 typed condition groups with `combineOperation` all|any; v2.x `conditions` with
    `operator: {type, operation}` and `combinator`, `looseTypeValidation`."""
    return conditions_from_n8n(params, version)


_OPS_BACK = {"gt": "number", "gte": "number", "lt": "number", "lte": "number", "isTrue": "boolean",
             "isFalse": "boolean", "exists": "string", "notExists": "string", "isEmpty": "string",
             "isNotEmpty": "string", "contains": "string", "notContains": "string", "startsWith": "string",
             "endsWith": "string", "regex": "string", "notRegex": "string", "equals": "", "notEquals": ""}
_OPERATION = {"isTrue": "true", "isFalse": "false", "isEmpty": "empty", "isNotEmpty": "notEmpty"}


def to_n8n(params: dict[str, Any], version: float | None) -> tuple[dict[str, Any], float, N8nNotes]:
    """The inverse of `from_n8n`: If v2.2's filter layout (`conditions` with `operator: {type, operation}`,
    `combinator`). equals/notEquals take their type from the right value; `condition` (one expression)
    becomes a boolean "is true" row."""
    notes: N8nNotes = []
    rows = list(params.get("conditions") or [])
    if params.get("condition") not in (None, ""):
        rows = [{"left": params["condition"], "op": "isTrue"}]
        notes.append(("approximated", "the single condition expression is written as a boolean 'is true' row"))
    out_rows = []
    for i, row in enumerate(rows):
        op = row.get("op", "equals")
        kind = _OPS_BACK.get(op)
        if kind is None:
            notes.append(("unsupported", f"condition {i + 1}: operator {op!r} has no n8n counterpart; left out"))
            continue
        right = row.get("right", "")
        if not kind:
            kind = "boolean" if isinstance(right, bool) else "number" if isinstance(right, (int, float)) else "string"
        entry: dict[str, Any] = {"id": f"condition-{i}", "leftValue": row.get("left", ""),
                                 "operator": {"type": kind, "operation": _OPERATION.get(op, op)}}
        if op in UNARY:
            entry["operator"]["singleValue"] = True
        else:
            entry["rightValue"] = right
        out_rows.append(entry)
    conditions = {"options": {"caseSensitive": True, "leftValue": "", "typeValidation": "strict", "version": 2},
                  "conditions": out_rows, "combinator": params.get("combine") or "and"}
    return {"conditions": conditions, "options": {}}, 2.2, notes


N8N = N8n(types=("n8n-nodes-base.if",), versions=(1, 2, 2.1, 2.2), convert=from_n8n, export=to_n8n)


@node(n8n=N8N, type="if", display_name="If", group="flow", icon="split", outputs=2, output_names=("true", "false"),
      description="Send items where the condition holds to 'true', the rest to 'false'",
      params=CONDITION_PARAMS)
async def if_(ctx: Context, items: list[Item]) -> list[list[Item]]:
    true: list[Item] = []
    false: list[Item] = []
    errors = ItemErrors(ctx)
    for i, item in enumerate(items):
        try:
            (true if item_passes(ctx, i) else false).append(item)
        except Exception as exc:
            errors.fail(item, i, exc, true)
    return errors.outputs(true, false)
