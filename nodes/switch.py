"""Switch: route each item to the output of the first matching rule, or by a computed output index."""

from collections.abc import Mapping
from typing import Any

from flowbox.conditions import CONDITION_ROW, combine
from flowbox.node import Context, Item, N8n, N8nNotes, Param, node
from flowbox.nodes._n8n import Params, conditions_v1, conditions_v2, rows


def _outputs(params: Mapping[str, Any]) -> int:
    if params.get("mode") == "expression":
        try:
            return max(1, int(params.get("outputs") or 1))
        except (TypeError, ValueError):
            return 1
    rules = params.get("rules") or []
    return max(1, len(rules) + (1 if params.get("fallback") == "extra" else 0))


def _names(params: Mapping[str, Any]) -> tuple[str, ...]:
    if params.get("mode") == "expression":
        return tuple(str(i) for i in range(_outputs(params)))
    rules = params.get("rules") or []
    names = [str(r.get("name") or f"rule {i + 1}") if isinstance(r, dict) else f"rule {i + 1}"
             for i, r in enumerate(rules)]
    if params.get("fallback") == "extra":
        names.append("fallback")
    return tuple(names)


RULE = (
    Param("condition", "string", None, description="Expression that is true for items of this output"),
    Param("conditions", "list", [], fields=CONDITION_ROW),
    Param("combine", "options", "and", options=("and", "or")),
    Param("name", "string", "", description="Label of this output"),
)


def from_n8n(params: dict[str, Any], version: float) -> tuple[dict[str, Any], N8nNotes]:
    """n8n's Switch. v3.x: `rules.values` [{conditions (filter layout), renameOutput, outputKey}],
    `options.fallbackOutput` none|extra|an output's index, `allMatchingOutputs`, `ignoreCase`, or `mode` expression with `numberOutputs` and `output`.
    v1: `dataType`, `value1`, `rules.rules` [{operation, value2, output}] on four outputs, rules naming
    their outputs in order (an item goes to the first matching rule's output); v2: one output per rule
    (`outputKey` its label), expression mode with `outputsAmount`; `fallbackOutput` -1 or an output's index."""
    p = Params(params, version)
    mode = p.take("mode", "rules")
    if mode == "expression":
        outputs = p.take("numberOutputs", 4) if version >= 3 else p.take("outputsAmount", 4) if version >= 2 else 4
        return p.done({"mode": "expression", "output": p.take("output", 0), "outputs": outputs})
    if version >= 3:
        options = p.options("options", ("fallbackOutput", "renameFallbackOutput", "allMatchingOutputs",
                                        "ignoreCase", "looseTypeValidation"))
        rules = []
        for i, row in enumerate(rows(p.take("rules", {}), "values", "rules")):
            found, combine = conditions_v2(row.get("conditions", {}), f"rules.values[{i}].conditions", p)
            rules.append({"conditions": found, "combine": combine,
                          "name": str(row.get("outputKey", "")) if row.get("renameOutput") else ""})
        if options.get("ignoreCase"):
            for rule in rules:
                for row in rule["conditions"]:
                    if "right" in row and row.get("type") != "dateTime":
                        row["ignoreCase"] = True
        out = {"mode": "rules", "rules": rules, **_fallback(options.get("fallbackOutput", "none"), len(rules), p)}
        if options.get("allMatchingOutputs"):
            out["allMatching"] = True
        return p.done(out)
    kind = p.take("dataType", "number")
    value1 = p.take("value1", {"number": 0, "boolean": False}.get(kind, ""))
    n8n_rules = rows(p.take("rules", {}), "rules", "rules")
    fallback_to = p.take("fallbackOutput", -1)
    # v2: one output per rule; v1: four outputs, each rule names one (the first matching rule wins)
    outputs = list(range(len(n8n_rules))) if version >= 2 else [int(r.get("output", 0)) for r in n8n_rules]
    if outputs != sorted(outputs):
        p.unsupported("rules that do not name their outputs in order are not supported")
    groups: list[list[dict[str, Any]]] = [[] for _ in range(max([*outputs, -1 if version >= 2 else 3]) + 1)]
    for i, row in enumerate(n8n_rules):
        found = conditions_v1({kind: [{"value1": value1, **{k: v for k, v in row.items() if k != "outputKey"}}]},
                              f"rules.rules[{i}]", p)
        groups[outputs[i]].extend(found)
    if isinstance(fallback_to, int) and fallback_to >= len(groups):
        groups += [[] for _ in range(fallback_to + 1 - len(groups))]
    named = {i: str(r.get("outputKey", "")) for i, r in enumerate(n8n_rules) if version >= 2 and r.get("outputKey")}
    return p.done({"mode": "rules", **_fallback(fallback_to, len(groups), p),
                   "rules": [{"conditions": rows_, "combine": "or", **({"name": named[i]} if i in named else {})}
                             for i, rows_ in enumerate(groups)]})


def _fallback(value: Any, outputs: int, p: Params) -> dict[str, Any]:
    """n8n's fallbackOutput: "none" or -1, "extra" (an output of its own), or an existing output's index."""
    if value in ("none", -1, None):
        return {"fallback": "none"}
    if value == "extra":
        return {"fallback": "extra"}
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < outputs:
        return {"fallback": "output", "fallbackOutput": value}
    p.unsupported(f"fallbackOutput {value!r} is not supported (none, extra or an output's index)")
    return {"fallback": "none"}


N8N = N8n(types=("n8n-nodes-base.switch",), versions=(1, 2, 3, 3.1, 3.2), convert=from_n8n)


@node(n8n=N8N, type="switch", display_name="Switch", group="flow", icon="route", outputs=_outputs, output_names=_names,
      description="Route items to one of several outputs: the first matching rule wins",
      params=[
          Param("mode", "options", "rules", options=("rules", "expression")),
          Param("rules", "list", [], fields=RULE, show_if={"mode": ["rules"]}),
          Param("fallback", "options", "none", options=("none", "extra", "output"), show_if={"mode": ["rules"]},
                description="Items matching no rule: dropped, to an extra last output, or to output `fallbackOutput`"),
          Param("fallbackOutput", "number", 0, min=0, integer=True, show_if={"mode": ["rules"], "fallback": ["output"]},
                description="The output (0 is the first rule's) that items matching no rule go to"),
          Param("allMatching", "boolean", False, show_if={"mode": ["rules"]},
                description="Send an item to every matching rule's output, not only the first"),
          Param("output", "number", 0, integer=True, show_if={"mode": ["expression"]},
                description="Expression giving the output index for each item"),
          Param("outputs", "number", 4, min=1, max=64, integer=True, show_if={"mode": ["expression"]}),
      ])
async def switch(ctx: Context, items: list[Item]) -> list[list[Item]]:
    mode = ctx.param("mode")
    if mode == "expression":
        n = ctx.param("outputs") or 1
        outs: list[list[Item]] = [[] for _ in range(n)]
        for i, item in enumerate(items):
            index = ctx.param("output", i)
            if not 0 <= index < n:
                raise ctx.error(f"output index {index} is out of range 0..{n - 1}", i)
            outs[index].append(item)
        return outs
    fallback, every = ctx.param("fallback"), ctx.param("allMatching")
    n_rules = len(ctx.raw_param("rules") or [])
    outs = [[] for _ in range(n_rules + (1 if fallback == "extra" else 0))]
    spare = len(outs) - 1 if fallback == "extra" else ctx.param("fallbackOutput") if fallback == "output" else None
    if spare is not None and spare >= len(outs):
        raise ctx.error(f"fallbackOutput {spare} is not one of the {len(outs)} outputs")
    for i, item in enumerate(items):
        matched = False
        for r, rule in enumerate(ctx.param("rules", i) or []):
            cond = rule.get("condition")
            if bool(cond) if cond not in (None, "") else combine(rule.get("conditions") or [],
                                                                  rule.get("combine") or "and"):
                outs[r].append(item)
                matched = True
                if not every:
                    break
        if not matched and spare is not None:
            outs[spare].append(item)
    return outs
