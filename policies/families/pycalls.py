"""Function-call text as data: ``name(arg, key='value')`` read with ``ast``, never executed.

UI-TARS writes its actions as Python-like calls and OpenCUA writes pyautogui code; both are parsed
here into (name, positional args, keyword args) of literal values only. Anything that is not a call
of literals (a variable, an expression, an import) is a ParseError that says so.
"""

from __future__ import annotations

import ast
import warnings
from typing import Any, NamedTuple

from guiagent.tools.parsing import ParseError

MAX_CODE_CHARS = 20_000


class Call(NamedTuple):
    name: str  # dotted: "pyautogui.click", "computer.terminate", "click"
    args: list[Any]
    kwargs: dict[str, Any]


def _literal(node: ast.AST, what: str) -> Any:
    try:
        return ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        raise ParseError(f"{what}: only literal arguments are read, got {ast.unparse(node)[:60]!r}") from None


def _name(func: ast.AST) -> str:
    parts = []
    while isinstance(func, ast.Attribute):
        parts.append(func.attr)
        func = func.value
    if not isinstance(func, ast.Name):
        raise ParseError(f"not a plain function call: {ast.unparse(func)[:60]!r}")
    parts.append(func.id)
    return ".".join(reversed(parts))


def _call(node: ast.Call, what: str) -> Call:
    name = _name(node.func)
    args = [_literal(a, f"{what} {name}") for a in node.args]
    kwargs = {}
    for kw in node.keywords:
        if kw.arg is None:
            raise ParseError(f"{what} {name}: **kwargs are not read")
        kwargs[kw.arg] = _literal(kw.value, f"{what} {name}")
    return Call(name, args, kwargs)


def _parse(text: str, mode: str, what: str) -> ast.AST:
    if len(text) > MAX_CODE_CHARS:
        raise ParseError(f"{what}: {len(text)} characters is too long to read")
    try:
        with warnings.catch_warnings():  # an invalid escape in a string ("\\ ") is the model's text, kept as Python keeps it
            warnings.simplefilter("ignore", (SyntaxWarning, DeprecationWarning))
            return ast.parse(text, mode=mode)
    except (SyntaxError, ValueError, MemoryError, RecursionError) as exc:
        msg = getattr(exc, "msg", str(exc))
        raise ParseError(f"{what}: not a well-formed call ({msg}) in {text.strip()[:80]!r}") from None


def parse_call(text: str, what: str = "action") -> Call:
    """One call expression, e.g. ``click(start_box='(10,20)')``."""
    tree = _parse(text.strip(), "eval", what)
    if not isinstance(tree.body, ast.Call):  # type: ignore[attr-defined]
        raise ParseError(f"{what}: expected a function call, got {text.strip()[:80]!r}")
    return _call(tree.body, what)  # type: ignore[attr-defined]


def parse_calls(code: str, what: str = "code") -> list[Call]:
    """Each statement of ``code`` that is a call; imports are skipped, anything else is an error."""
    tree = _parse(code, "exec", what)
    calls = []
    for stmt in tree.body:  # type: ignore[attr-defined]
        if isinstance(stmt, (ast.Import, ast.ImportFrom)):
            continue
        if isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Call):
            calls.append(_call(stmt.value, what))
            continue
        raise ParseError(f"{what}: only calls are read, got {ast.unparse(stmt)[:60]!r}")
    return calls
