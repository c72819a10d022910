"""Qwen-Agent 0.0.34's function-call prompt texts, read from the installed package's own files.

Importing ``qwen_agent`` pulls in audio and RAG dependencies the test venv does not carry, so the
module-level constants and ``get_function_description`` are taken out of
``qwen_agent/llm/fncall_prompts/nous_fncall_prompt.py`` and ``qwen_fncall_prompt.py`` with ``ast``.
"""

from __future__ import annotations

import ast
import importlib.util
import json
from pathlib import Path
from typing import Any


def _prompts_dir() -> Path:
    spec = importlib.util.find_spec("qwen_agent")
    if spec is None or spec.submodule_search_locations is None:
        raise RuntimeError("qwen-agent is not installed (pip install qwen-agent==0.0.34)")
    return Path(next(iter(spec.submodule_search_locations))) / "llm" / "fncall_prompts"


def load(module: str) -> dict[str, Any]:
    """The string constants (and pure helpers) of ``fncall_prompts/<module>.py``."""
    source = _prompts_dir() / f"{module}.py"
    tree = ast.parse(source.read_text())
    keep: list[ast.stmt] = [
        node for node in tree.body
        if (isinstance(node, ast.Assign) and "os." not in ast.unparse(node))
        or (isinstance(node, ast.FunctionDef) and node.name == "get_function_description")
    ]
    namespace: dict[str, Any] = {"json": json, "Dict": dict, "Literal": Any}
    exec(compile(ast.Module(body=keep, type_ignores=[]), str(source), "exec"), namespace)
    return namespace
