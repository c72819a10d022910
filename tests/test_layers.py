"""The layering of DESIGN.md: agent -> policies, envs -> tools, and never the other way."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
ALLOWED = {
    "tools": {"tools"},
    "envs": {"envs", "tools"},
    "policies": {"policies", "tools"},
    "agent": {"agent", "policies", "envs", "tools"},
}


def project_imports(path: Path) -> set[str]:
    """The layers a file imports: `guiagent.X...` -> X. A bare `import agent` would be a bug of its own."""
    names = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.append(node.module)
    bare = [n for n in names if n.split(".")[0] in ALLOWED]
    assert not bare, f"{path}: import the namespace, guiagent.{bare[0]}, not {bare[0]}"
    return {n.split(".")[1] for n in names if n.startswith("guiagent.") and n.count(".") >= 1} & set(ALLOWED)


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_each_package_imports_only_the_layers_below_it(package):
    files = sorted((ROOT / package).rglob("*.py"))
    assert files
    wrong = {str(f.relative_to(ROOT)): sorted(project_imports(f) - ALLOWED[package]) for f in files}
    assert {f: w for f, w in wrong.items() if w} == {}
