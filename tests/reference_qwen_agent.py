"""Qwen-Agent 0.0.34's function-call prompt texts, read from the installed package's own files.

Importing ``qwen_agent`` pulls in audio and RAG dependencies the test venv does not carry, so the
module-level constants and ``get_function_description`` are taken out of
``qwen_agent/llm/fncall_prompts/nous_fncall_prompt.py`` and ``qwen_fncall_prompt.py`` with ``ast``.
"""

from __future__ import annotations

import ast
import importlib.machinery
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


def fncall_modules() -> tuple[Any, Any, Any, Any]:
    """Qwen-Agent's own answer parsers and tool-argument check, imported from the installed package:
    ``(NousFnCallPrompt, QwenFnCallPrompt, schema module, BaseTool)``.

    The package's ``__init__`` files import agents, models and audio (``soundfile``) the test venv does not
    carry; the parsers need none of it. So ``qwen_agent``, ``qwen_agent.llm``, ``qwen_agent.utils`` and
    ``qwen_agent.tools`` are entered as bare packages over their folders (their modules load as they are,
    their ``__init__`` does not run), and ``soundfile``, which ``qwen_agent.utils.utils`` imports at the top
    and these functions never call, is an empty stand-in while they load.
    """
    import sys
    import types

    root = _prompts_dir().parent.parent
    for name, sub in (("qwen_agent", ""), ("qwen_agent.llm", "llm"), ("qwen_agent.utils", "utils"),
                      ("qwen_agent.tools", "tools")):
        if name not in sys.modules:
            package = types.ModuleType(name)
            package.__path__ = [str(root / sub)]
            # a spec like the real package's, so that find_spec("qwen_agent") still answers (test_prompts asks)
            spec = importlib.machinery.ModuleSpec(name, None, is_package=True)
            spec.submodule_search_locations = package.__path__
            package.__spec__ = spec
            sys.modules[name] = package
    stand_in = "soundfile" not in sys.modules and importlib.util.find_spec("soundfile") is None
    if stand_in:
        sys.modules["soundfile"] = types.ModuleType("soundfile")
    try:
        from qwen_agent.llm import schema
        from qwen_agent.llm.fncall_prompts.nous_fncall_prompt import NousFnCallPrompt
        from qwen_agent.llm.fncall_prompts.qwen_fncall_prompt import QwenFnCallPrompt
        from qwen_agent.tools.base import BaseTool
    finally:
        if stand_in:
            del sys.modules["soundfile"]
    return NousFnCallPrompt, QwenFnCallPrompt, schema, BaseTool
