"""Code: run Python, or n8n's Code node JavaScript (QuickJS, flowbox.engine.codejs), on the items in a sandboxed
worker (flowbox.engine.codesandbox): time, memory and process limits, no view of the server's files, processes or
network; hosts of `settings.codeNetwork` only (Python; JavaScript has no network API at all)."""

from typing import Any

from flowbox.errors import NodeError
from flowbox.node import Context, Item, ItemErrors, N8n, N8nNotes, Param, node
from flowbox.nodes._n8n import Params

EXAMPLE = """# `items` is the list of the input items' json; return a list of dicts
return [{**item, "seen": True} for item in items]
"""
MODES = {"allItems": "allItems", "eachItem": "eachItem",  # flowbox's names, then n8n's (either language)
         "runOnceForAllItems": "allItems", "runOnceForEachItem": "eachItem"}


def from_n8n(params: dict[str, Any], version: float) -> tuple[dict[str, Any], N8nNotes]:
    """n8n's Code node, `mode` runOnceForAllItems (default) | runOnceForEachItem: JavaScript (`jsCode`, the default
    language) runs as flowbox's JavaScript Code node with n8n's names; Python (`pythonCode`) in flowbox's Python
    sandbox."""
    p = Params(params, version)
    language = p.take("language", "javaScript")
    n8n_mode = p.take("mode", "runOnceForAllItems")
    mode = "eachItem" if n8n_mode == "runOnceForEachItem" else "allItems"
    if language == "javaScript":
        p.approximated("n8n's JavaScript runs in QuickJS in flowbox's code sandbox: n8n's Code node names and output "
                       "rules, no require()/npm modules, no network (fetch, this.helpers); $('Node') sees the nodes "
                       "the code names literally; a code run has a 30 s time limit")
        return p.done({"language": "javaScript", "mode": n8n_mode if n8n_mode in MODES else "runOnceForAllItems",
                       "code": p.take("jsCode", "")})
    if language not in ("python", "pythonNative"):
        p.unsupported(f"{language} code is not supported (flowbox's Code node runs Python and JavaScript)")
        return p.done({})
    p.approximated("n8n's Python code runs in flowbox's sandbox: `items`/`item` are plain dicts, `_input` and "
                   "`_(\"Node\")` as in flowbox; check code that uses n8n's `_json` or item.json attributes")
    return p.done({"language": "python", "mode": mode, "code": p.take("pythonCode", "")})


def to_n8n(params: dict[str, Any], version: float | None) -> tuple[dict[str, Any], float, N8nNotes]:
    """The inverse of `from_n8n`: Code v2 with `language: python` and `pythonCode`."""
    out: dict[str, Any] = {"language": "python", "pythonCode": params.get("code", "")}
    if params.get("mode") == "eachItem":
        out["mode"] = "runOnceForEachItem"
    return out, 2, [("approximated", "Python code written for flowbox's sandbox: check it in n8n's Python Code "
                                     "node (`items` are plain dicts here)")]


N8N = N8n(types=("n8n-nodes-base.code",), versions=(1, 2), convert=from_n8n, export=to_n8n)


def from_n8n_function(params: dict[str, Any], version: float) -> tuple[dict[str, Any], N8nNotes]:
    """n8n's legacy Function node (`functionCode` over `items`, returning items): the JavaScript Code node run
    once for all items, where `items` and the return rules are the same."""
    p = Params(params, version)
    p.approximated("the legacy Function node's JavaScript runs as the Code node (QuickJS, all items at once): "
                   "$item(), getWorkflowStaticData() and require() are not available")
    return p.done({"language": "javaScript", "mode": "runOnceForAllItems", "code": p.take("functionCode", "")})


def from_n8n_function_item(params: dict[str, Any], version: float) -> tuple[dict[str, Any], N8nNotes]:
    """n8n's legacy Function Item node: `functionCode` runs once per item with `item` as the item's json and
    returns the new json, so it becomes the JavaScript Code node per item with `item` bound to `$input.item.json`."""
    p = Params(params, version)
    p.approximated("the legacy Function Item node's JavaScript runs as the Code node per item (QuickJS): "
                   "$item(), getWorkflowStaticData() and require() are not available")
    code = p.take("functionCode", "")
    return p.done({"language": "javaScript", "mode": "runOnceForEachItem",
                   "code": f"return (function (item) {{\n{code}\n}}).call(this, $input.item.json);"})


FUNCTION = N8n(types=("n8n-nodes-base.function",), versions=(1,), convert=from_n8n_function)
FUNCTION_ITEM = N8n(types=("n8n-nodes-base.functionItem",), versions=(1,), convert=from_n8n_function_item)


@node(n8n=(N8N, FUNCTION, FUNCTION_ITEM), type="code", display_name="Code", group="transform", icon="code", runs_code=True,
      description="Run Python or JavaScript (n8n's Code node) on all items at once or on each item, in a sandbox: "
                  "it sees none of the server's files, processes or secrets and reaches no network but the "
                  "workflow's settings.codeNetwork hosts (docs/code-sandbox.md)",
      params=[
          Param("language", "options", "python", options=("python", "javaScript"),
                description="javaScript: n8n's Code node ($input, $json, $('Node'), DateTime, console.log, ...)"),
          Param("mode", "options", "allItems", options=tuple(MODES),
                description="allItems (n8n: runOnceForAllItems): `items` -> list of dicts; eachItem "
                            "(runOnceForEachItem): `item` -> one dict (None drops it)"),
          Param("code", "code", "", required=True, placeholder=EXAMPLE,
                description="Python: the body of a function of `items` (allItems) or `item` (eachItem); "
                            "JavaScript: the body of n8n's Code node function (return items or an object)"),
          Param("timeout", "number", 30, min=0.1, max=3600, description="Seconds before the code is stopped"),
      ])
async def code(ctx: Context, items: list[Item]) -> list[list[Item]]:
    """In eachItem mode with onError continue/errorOutput, only a failing item becomes an error item
    (or goes to the error output); the others keep their results, as n8n's continueOnFail does."""
    mode = MODES[ctx.param("mode")]
    errors = ItemErrors(ctx)
    try:
        results = await ctx.run_code(ctx.raw_param("code") or "", mode, items, ctx.param("timeout"),
                                     item_errors=mode == "eachItem" and errors.mode != "stop",
                                     language=ctx.param("language"))
    except NodeError as exc:  # what the code printed before it failed is in the run's log too
        if getattr(exc, "logs", ""):
            ctx.log(exc.logs.rstrip())  # type: ignore[attr-defined]
        raise
    logs = getattr(results, "logs", "")
    if logs:
        ctx.log(logs.rstrip())
    out: list[Item] = []
    for i, result in enumerate(results):
        if "error" in result:
            errors.fail(items[result["pairedItem"]], result["pairedItem"], result["error"], out)
            continue
        paired = _paired_index(result.get("pairedItem"))
        if paired is None and len(results) == len(items):
            paired = i
        if paired is None and len(items) == 1:
            paired = 0
        source = items[paired] if isinstance(paired, int) and 0 <= paired < len(items) else None
        binary = result.get("binary") or (source.binary if source is not None and mode == "eachItem" else None)
        out.append(Item(result["json"], binary, source))
    return errors.outputs(out)


def _paired_index(paired: Any) -> int | None:
    """The input item a result names: an index, or n8n's `{"item": i}` (the first of a list)."""
    if isinstance(paired, list):
        paired = paired[0] if paired else None
    if isinstance(paired, dict):
        paired = paired.get("item")
    return paired if isinstance(paired, int) and not isinstance(paired, bool) else None
