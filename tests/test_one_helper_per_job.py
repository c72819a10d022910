"""One job, one helper: atomic writes (tools/files.py), dying with the parent (envs/lifetime.py), process
trees in the test helpers through psutil, and the desktop's input through XTest without pyautogui's
internals. Read from the sources (ast), so a new copy of any of them is caught where it is written."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ("tools", "envs", "policies", "agent", "guiagent")
# The bundled desktop demo is an app under test, launched per episode with `python -m`: it imports nothing of
# guiagent (tools/__init__ alone costs ~0.3 s of import), so it keeps its own three lines.
STANDALONE = {"agent/demo/desktop_app.py"}


def sources(*folders: str) -> dict[str, ast.Module]:
    return {str(p.relative_to(ROOT)): ast.parse(p.read_text(), str(p))
            for folder in folders for p in sorted((ROOT / folder).rglob("*.py"))}


def _name(node: ast.expr) -> str:
    return node.id if isinstance(node, ast.Name) else node.attr if isinstance(node, ast.Attribute) else ""


def renames(tree: ast.Module) -> list[int]:
    """Lines that move a file over another: ``os.replace``/``os.rename``, or ``tmp.replace(path)``."""
    lines = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in ("replace", "rename"):
            receiver = _name(node.func.value)
            if receiver == "os" or ("tmp" in receiver.lower() and len(node.args) == 1):
                lines.append(node.lineno)
    return lines


def test_files_are_replaced_atomically_in_one_place() -> None:
    found = {path: lines for path, tree in sources(*PACKAGE).items() if (lines := renames(tree))}
    assert {p: ln for p, ln in found.items() if p not in STANDALONE} == {"tools/files.py": found.get("tools/files.py")}


def test_parent_death_is_asked_for_in_one_place() -> None:
    users = sorted(path for path, tree in sources(*PACKAGE).items()
                   if any(isinstance(n, ast.Attribute) and n.attr == "prctl" for n in ast.walk(tree)))
    assert users == ["envs/lifetime.py"]


def test_test_helpers_read_processes_through_psutil() -> None:
    """No walking /proc by hand: psutil's children(recursive=True), cmdline() and environ() do it."""
    for path in ("tests/processes.py", "tests/security/test_clean_env.py"):
        tree = ast.parse((ROOT / path).read_text())
        texts = [n.value for n in ast.walk(tree) if isinstance(n, ast.Constant) and isinstance(n.value, str)]
        docstrings = {ast.get_docstring(n, clean=False) for n in ast.walk(tree)
                      if isinstance(n, (ast.Module, ast.FunctionDef, ast.ClassDef))}
        assert not [t for t in texts if t.startswith("/proc") and t not in docstrings], path
        assert "psutil" in {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}, path


def test_the_desktop_uses_no_private_part_of_pyautogui() -> None:
    for path, tree in sources("envs").items():
        private = [n.attr for n in ast.walk(tree) if isinstance(n, ast.Attribute) and n.attr in ("_display", "_pyautogui_x11")]
        strings = [n.value for n in ast.walk(tree) if isinstance(n, ast.Constant) and n.value == "pyautogui._pyautogui_x11"]
        assert not private and not strings, path
