"""Switch: route each item to the output of the first matching rule, or by a computed output index."""

from collections.abc import Mapping
from typing import Any

from flowbox.conditions import CONDITION_ROW, combine
from flowbox.node import Context, Item, Param, node


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


@node(type="switch", display_name="Switch", group="flow", icon="route", outputs=_outputs, output_names=_names,
      description="Route items to one of several outputs: the first matching rule wins",
      params=[
          Param("mode", "options", "rules", options=("rules", "expression")),
          Param("rules", "list", [], fields=RULE, show_if={"mode": ["rules"]}),
          Param("fallback", "options", "none", options=("none", "extra"), show_if={"mode": ["rules"]},
                description="'extra': items matching no rule go to an extra last output"),
          Param("output", "number", 0, show_if={"mode": ["expression"]},
                description="Expression giving the output index for each item"),
          Param("outputs", "number", 4, min=1, max=64, show_if={"mode": ["expression"]}),
      ])
async def switch(ctx: Context, items: list[Item]) -> list[list[Item]]:
    mode = ctx.param("mode")
    if mode == "expression":
        n = int(ctx.param("outputs") or 1)
        outs: list[list[Item]] = [[] for _ in range(n)]
        for i, item in enumerate(items):
            index = ctx.param("output", i)
            try:
                index = int(index)
            except (TypeError, ValueError):
                raise ctx.error(f"output index must be a number, got {index!r}", i) from None
            if not 0 <= index < n:
                raise ctx.error(f"output index {index} is out of range 0..{n - 1}", i)
            outs[index].append(item)
        return outs
    fallback = ctx.param("fallback") == "extra"
    n_rules = len(ctx.raw_param("rules") or [])
    outs = [[] for _ in range(n_rules + (1 if fallback else 0))]
    for i, item in enumerate(items):
        rules = ctx.param("rules", i) or []
        for r, rule in enumerate(rules):
            cond = rule.get("condition")
            hit = bool(cond) if cond not in (None, "") else combine(rule.get("conditions") or [],
                                                                    rule.get("combine") or "and")
            if hit:
                outs[r].append(item)
                break
        else:
            if fallback:
                outs[-1].append(item)
    return outs
