"""`{{ ... }}` expressions (DESIGN §4): templates compiled once, evaluated per item.

A parameter value (a string, or lists and dicts with strings inside) is compiled by
`compile_value` into ONE Python expression: each `{{ }}` is checked and rewritten by the
sandbox (`flowbox.engine.sandbox`: what may be called, and how much work it may do), a
text template becomes an f-string, and evaluating the value for an item is one `eval`
under the watchdog's time and memory limits (`flowbox.engine.watchdog`). A failure names
the node, the parameter and the expression.
"""

from __future__ import annotations

import ast
import datetime as dt
import json
from collections.abc import Callable
from functools import partial
from typing import Any

from flowbox.engine.sandbox import (
    GUARDS,
    SAFE_BUILTINS,
    SandboxViolation,
    allow_attributes,
    checked_len,
    compile_expression,
    parse_expression,
    rewrite_dollars,
    textable,
)
from flowbox.engine.watchdog import TIMEOUT, ExpressionMemoryError, ExpressionTimeout, evaluate
from flowbox.errors import ExpressionError

__all__ = ["ExpressionMemoryError", "ExpressionTimeout", "SandboxViolation", "Value", "allow_attributes",
           "base_namespace", "compile_expression", "compile_value", "split_template", "to_text"]


def base_namespace() -> dict[str, Any]:
    """A fresh globals dict with the guards and safe builtins; callers add the `$` names."""
    return {"__builtins__": SAFE_BUILTINS, **GUARDS, "_G_text": _text}


# ---------------------------------------------------------------- templates

def _parses_as_python(inner: str) -> bool:
    try:
        ast.parse(rewrite_dollars(inner.strip()) or "None", mode="eval")
    except SyntaxError:
        return False
    return True


def split_template(text: str, parses: Callable[[str], bool] = _parses_as_python) -> list[str | tuple[str]]:
    """Split a template into literal strings and `(expression,)` parts.

    An expression ends at the first `}}` after which the inside `parses` (Python by default), so dict
    literals like `{{ {'a': {'b': 1}} }}` work.
    """
    parts: list[str | tuple[str]] = []
    pos = 0
    while True:
        start = text.find("{{", pos)
        if start < 0:
            break
        end = text.find("}}", start + 2)
        if end < 0:
            break
        chosen = end
        probe = end
        while probe >= 0:
            if parses(text[start + 2:probe]):
                chosen = probe
                break
            probe = text.find("}}", probe + 1)
        while text.startswith("}", chosen + 2) and parses(text[start + 2:chosen + 1]):
            chosen += 1  # `{{ {'a': 1}}}`: the expression's own brace sits just before the closing pair
        if start > pos:
            parts.append(text[pos:start])
        parts.append((text[start + 2:chosen],))
        pos = chosen + 2
    if pos < len(text):
        parts.append(text[pos:])
    return parts


def to_text(value: Any) -> str:
    """How an expression's value is inserted into surrounding text."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list, tuple)):
        return json.dumps(value, default=str, ensure_ascii=False)
    if isinstance(value, (dt.datetime, dt.date, dt.time)):
        return value.isoformat()
    return str(value)


class Value:
    """A parameter value compiled once: constants stay as they are, templates evaluate per item."""

    __slots__ = ("const", "fn")

    def __init__(self, const: Any = None, fn: Callable[[dict[str, Any]], Any] | None = None) -> None:
        self.const = const
        self.fn = fn

    def get(self, namespace: dict[str, Any]) -> Any:
        return self.const if self.fn is None else self.fn(namespace)


def compile_value(value: Any, *, node: str, parameter: str) -> Value:
    """Compile a parameter value (str, or a list/dict with strings nested inside) once.

    Every template inside the value becomes part of ONE Python expression (a text
    template is an f-string), so evaluating the parameter for an item is one `eval`.
    """
    templates: list[tuple[str, str]] = []
    tree = _value_ast(value, node, parameter, templates)
    if tree is None:
        return Value(const=value)
    try:
        code = compile(ast.fix_missing_locations(ast.Expression(tree)), "<expression>", "eval")
    except SyntaxError as exc:  # what only the compiler sees (a walrus rebinding a loop variable, ...)
        raise _expression_error(exc, node, parameter, templates[0][1] if templates else str(value)) from None
    return Value(fn=partial(_evaluate_value, code, templates, node))


def _template_ast(text: str, node: str, path: str, templates: list[tuple[str, str]]) -> ast.expr:
    parts = split_template(text)
    exprs = [p for p in parts if isinstance(p, tuple)]
    values: list[ast.expr] = []
    for part in parts:
        if isinstance(part, str):
            values.append(ast.Constant(part))
            continue
        source = part[0].strip()
        templates.append((path, source))
        try:
            tree = parse_expression(source)
        except (SyntaxError, SandboxViolation) as exc:
            raise _expression_error(exc, node, path, source) from None
        if len(exprs) == 1 and all(isinstance(p, tuple) or not p.strip() for p in parts):
            return tree  # the whole value is one expression: keep its type
        values.append(ast.FormattedValue(ast.Call(ast.Name("_G_text", ast.Load()), [tree], []), -1, None))
    return ast.JoinedStr(values)


def _value_ast(value: Any, node: str, path: str, templates: list[tuple[str, str]]) -> ast.expr | None:
    """AST evaluating `value` with its templates, or None when it holds no template."""
    if isinstance(value, str):
        return _template_ast(value, node, path, templates) if "{{" in value else None
    if isinstance(value, list):
        subs = [_value_ast(v, node, f"{path}[{i}]", templates) for i, v in enumerate(value)]
        if not any(s is not None for s in subs):
            return None
        return ast.List([s if s is not None else _const_ast(v) for s, v in zip(subs, value, strict=True)], ast.Load())
    if isinstance(value, dict):
        subs_d = [_value_ast(v, node, f"{path}.{k}", templates) for k, v in value.items()]
        if not any(s is not None for s in subs_d):
            return None
        return ast.Dict([ast.Constant(k) for k in value],
                        [s if s is not None else _const_ast(v) for s, v in zip(subs_d, value.values(), strict=True)])
    return None


def _const_ast(value: Any) -> ast.expr:
    """A constant as an AST that builds a fresh copy per evaluation (no shared mutable data)."""
    if isinstance(value, list):
        return ast.List([_const_ast(v) for v in value], ast.Load())
    if isinstance(value, dict):
        return ast.Dict([ast.Constant(k) for k in value], [_const_ast(v) for v in value.values()])
    return ast.Constant(value)


def _evaluate_value(code: Any, templates: list[tuple[str, str]], node: str, namespace: dict[str, Any]) -> Any:
    try:
        return checked_len(evaluate(code, namespace))
    except Exception as exc:  # any failure of user code inside {{ }} fails the node, naming it
        path, source = _failing_template(templates, namespace, exc)
        raise _expression_error(exc, node, path, source) from None


def _failing_template(templates: list[tuple[str, str]], namespace: dict[str, Any],
                      exc: BaseException) -> tuple[str, str]:
    """Which template of a value failed: re-run them one by one (only on the error path)."""
    if len(templates) > 1 and not isinstance(exc, ExpressionTimeout):
        for path, source in templates:
            try:
                evaluate(compile_expression(source), namespace)
            except Exception:
                return path, source
    return templates[0]


def _text(value: Any) -> str:
    return checked_len(to_text(textable(value)))


def _expression_error(exc: BaseException, node: str, path: str, expression: str) -> ExpressionError:
    if isinstance(exc, SyntaxError):
        reason = f"syntax error: {exc.msg}"
    elif isinstance(exc, ExpressionTimeout):
        reason = str(exc) or f"expression ran longer than {TIMEOUT:g} s"
    elif isinstance(exc, RecursionError):
        reason = "too deeply nested"
    elif isinstance(exc, SandboxViolation):
        reason = str(exc)
    elif isinstance(exc, NameError):
        reason = str(exc).replace("_S_", "$")
    elif isinstance(exc, MemoryError):
        reason = "out of memory"
    else:
        reason = f"{type(exc).__name__}: {exc}".replace("_S_", "$")
    return ExpressionError(reason, node=node, parameter=path, expression=f" {expression} ")

