"""qwen_vl_utils.smart_resize, loaded from the installed package's own source.

The package imports torch and torchvision at module level, which the test venv does not carry,
so we take the module's constants and the four functions smart_resize needs out of its source
file with ``ast`` and run them unchanged.
"""

from __future__ import annotations

import ast
import importlib.util
import math
from collections.abc import Callable
from pathlib import Path

_NEEDED = {"round_by_factor", "ceil_by_factor", "floor_by_factor", "smart_resize"}


def load_reference_smart_resize() -> Callable[..., tuple[int, int]]:
    spec = importlib.util.find_spec("qwen_vl_utils")
    if spec is None or spec.submodule_search_locations is None:
        raise RuntimeError("qwen_vl_utils is not installed (pip install qwen-vl-utils==0.0.14)")
    source_path = Path(next(iter(spec.submodule_search_locations))) / "vision_process.py"
    tree = ast.parse(source_path.read_text())
    keep: list[ast.stmt] = []
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and node.name in _NEEDED:
            keep.append(node)
        elif isinstance(node, ast.Assign) and all(isinstance(t, ast.Name) and t.id.isupper() for t in node.targets):
            if isinstance(node.value, (ast.Constant, ast.BinOp, ast.UnaryOp)) and "os." not in ast.unparse(node):
                keep.append(node)
    namespace: dict = {"math": math, "Optional": __import__("typing").Optional, "Tuple": tuple}
    exec(compile(ast.Module(body=keep, type_ignores=[]), str(source_path), "exec"), namespace)
    return namespace["smart_resize"]
