"""The layering of DESIGN.md: agent -> policies, envs -> tools, and never the other way; and no import circles
(function-level imports included), nor imports of another module's private names."""

from __future__ import annotations

import ast
import graphlib
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


def module_graph(root: Path, layers: list[str]) -> dict[str, set[str]]:
    """Each module of the layers under ``root`` (``guiagent.<layer>...``) and the project modules it imports,
    at any level of the file (a function-level import is still an edge); ``from pkg import sub`` names the
    submodule when there is one."""
    files = {}
    for layer in layers:
        for f in (root / layer).rglob("*.py"):
            parts = f.relative_to(root).with_suffix("").parts
            files[".".join(("guiagent", *(parts[:-1] if parts[-1] == "__init__" else parts)))] = f
    graph = {}
    for name, f in files.items():
        deps = set()
        for node in ast.walk(ast.parse(f.read_text(), str(f))):
            if isinstance(node, ast.Import):
                deps |= {a.name for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                deps |= {f"{node.module}.{a.name}" if f"{node.module}.{a.name}" in files else node.module for a in node.names}
        graph[name] = {d for d in deps if d in files and d != name}
    return graph


def circle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import circle of ``graph`` (its modules, the first repeated at the end), or None."""
    try:
        graphlib.TopologicalSorter(graph).prepare()
    except graphlib.CycleError as exc:
        return list(reversed(exc.args[1]))
    return None


def test_no_module_imports_itself_through_others():
    found = circle(module_graph(ROOT, sorted(ALLOWED)))
    assert found is None, "import circle: " + " -> ".join(found or [])


def test_the_circle_check_finds_a_deliberate_circle(tmp_path):
    (tmp_path / "agent" / "batch").mkdir(parents=True)
    (tmp_path / "agent" / "batch" / "__init__.py").write_text("from guiagent.agent.batch.engine import run\n")
    (tmp_path / "agent" / "batch" / "engine.py").write_text("def run():\n    from guiagent.agent.batch import BatchError\n")
    (tmp_path / "agent" / "runner.py").write_text("import guiagent.agent.batch\n")
    found = circle(module_graph(tmp_path, ["agent"]))
    assert found is not None and set(found) == {"guiagent.agent.batch", "guiagent.agent.batch.engine"}, found
    (tmp_path / "agent" / "batch" / "engine.py").write_text("def run():\n    pass\n")
    assert circle(module_graph(tmp_path, ["agent"])) is None


def test_no_module_imports_another_modules_private_names():
    found = []
    for layer in sorted(ALLOWED):
        for f in sorted((ROOT / layer).rglob("*.py")):
            for node in ast.walk(ast.parse(f.read_text(), str(f))):
                if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("guiagent."):
                    found += [f"{f.relative_to(ROOT)}: {node.module}.{a.name}" for a in node.names
                              if a.name.startswith("_") and not a.name.startswith("__")]
    assert found == []
