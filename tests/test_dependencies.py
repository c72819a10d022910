"""pyproject.toml declares exactly what the code imports, extra by extra.

The imports are read from the sources (ast: ``import``/``from`` anywhere in a file, a literal
``find_spec("name")``, and an extra's module taken with ``need("name", ...)``, tools/extras.py) and mapped to
installed distributions (``importlib.metadata.packages_distributions``;
where several share a top-level name, as the langgraph packages do, the one that ships the module).
The declared dependencies are the installed package's own (``importlib.metadata.requires``).
"""

from __future__ import annotations

import ast
import re
import sys
from functools import cache
from importlib.metadata import distribution, packages_distributions, requires
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ("tools", "envs", "policies", "agent", "guiagent")
TEST_EXTRA = "test"
# In the test extra but run rather than imported: the linters (`make lint`) and a pytest plugin (`timeout`).
RUN_NOT_IMPORTED = {"ruff": "make lint", "pyright": "make lint", "pytest-timeout": "pyproject's timeout option",
                    "pytest-xdist": "make test's -n", "setuptools": "the packaging test's wheel build"}
# What scripts under tests/model import: they run in the vLLM and trainer venvs (scripts/setup-*-venv).
OTHER_VENVS = {"torch", "transformers", "tokenizers", "vllm", "trl", "datasets", "llamafactory"}
# Looked up, never imported: tests/reference_qwen_agent.py puts an empty stand-in while Qwen-Agent's parsers load.
STAND_INS = {"soundfile"}


def normal(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def imported_modules(folders: tuple[str, ...]) -> dict[str, set[str]]:
    """Absolute module names imported by the files under ``folders`` -> the files."""
    found: dict[str, set[str]] = {}
    for folder in folders:
        for path in sorted((ROOT / folder).rglob("*.py")):
            names = []
            for node in ast.walk(ast.parse(path.read_text(), str(path))):
                if isinstance(node, ast.Import):
                    names += [a.name for a in node.names]
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    names.append(node.module)
                elif (isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant)
                      and isinstance(node.args[0].value, str)
                      and ((isinstance(node.func, ast.Attribute) and node.func.attr == "find_spec")
                           or (isinstance(node.func, ast.Name) and node.func.id == "need"))):  # tools.extras.need
                    names.append(node.args[0].value)
            for name in names:
                top = name.split(".")[0]
                script = folder not in PACKAGE and (path.parent / f"{top}.py").exists()  # a script's sibling module
                local = (ROOT / top).exists() or script  # bench, tests
                if top not in sys.stdlib_module_names and top != "guiagent" and not local:
                    found.setdefault(name, set()).add(str(path.relative_to(ROOT)))
    return found


_top_level = cache(packages_distributions)


@cache
def _files(dist: str) -> frozenset[str]:
    return frozenset(str(f) for f in distribution(dist).files or [])


def distribution_of(module: str) -> str | None:
    """The installed distribution that provides ``module`` (normalised name), or None."""
    candidates = _top_level().get(module.split(".")[0], [])
    if len(candidates) > 1:  # a namespace shared by several: the one whose files hold the deepest match
        parts = module.split(".")
        for depth in range(len(parts), 0, -1):
            prefix = "/".join(parts[:depth])
            owners = [d for d in candidates if any(f.startswith(prefix + "/") or f == prefix + ".py" for f in _files(d))]
            if len(owners) == 1:
                return normal(owners[0])
    return normal(candidates[0]) if candidates else None


def declared() -> dict[str, set[str]]:
    """Extra ("" for the core) -> the distributions it declares."""
    out: dict[str, set[str]] = {}
    for req in requires("guiagent") or []:
        name = normal(re.match(r"[A-Za-z0-9._-]+", req).group(0))  # type: ignore[union-attr]
        extra = re.search(r"""extra\s*==\s*["']([^"']+)["']""", req)
        out.setdefault(extra.group(1) if extra else "", set()).add(name)
    return out


def used(folders: tuple[str, ...]) -> tuple[dict[str, set[str]], dict[str, set[str]]]:
    """(distribution -> the files that import it, module not installed -> its files)."""
    dists: dict[str, set[str]] = {}
    missing: dict[str, set[str]] = {}
    for module, files in imported_modules(folders).items():
        dist = distribution_of(module)
        target = dists.setdefault(dist, set()) if dist else missing.setdefault(module.split(".")[0], set())
        target.update(files)
    return dists, missing


def test_the_package_imports_exactly_what_its_core_and_extras_declare() -> None:
    runtime = {extra: names for extra, names in declared().items() if extra != TEST_EXTRA}
    dists, missing = used(PACKAGE)
    assert missing == {}, f"imported but not installed: {missing}"
    undeclared = {d: sorted(f) for d, f in dists.items() if not any(d in names for names in runtime.values())}
    assert undeclared == {}, f"imported but not declared in pyproject.toml: {undeclared}"
    unused = {extra or "core": sorted(names - dists.keys()) for extra, names in runtime.items() if names - dists.keys()}
    assert unused == {}, f"declared but imported nowhere in the package: {unused}"


def test_the_test_extra_declares_what_tests_and_benchmarks_import_beyond_the_package() -> None:
    extras = declared()
    dists, missing = used(("tests", "bench"))
    assert {m: sorted(f) for m, f in missing.items() if m not in STAND_INS and (m not in OTHER_VENVS or
            any(not p.startswith("tests/model/") for p in f))} == {}
    everything = set().union(*extras.values())
    assert {d: sorted(f) for d, f in dists.items() if d not in everything} == {}
    unused = extras[TEST_EXTRA] - dists.keys() - RUN_NOT_IMPORTED.keys()
    assert unused == set(), f"declared in the test extra but imported by no test or benchmark: {unused}"


def test_the_map_from_imports_to_distributions() -> None:
    """The cases the rules above lean on: a namespace shared by several distributions, an import name that
    differs from its distribution's."""
    assert distribution_of("langgraph.checkpoint.sqlite") == "langgraph-checkpoint-sqlite"
    assert distribution_of("langgraph.graph") == "langgraph"
    assert distribution_of("yaml") == "pyyaml" and distribution_of("PIL.Image") == "pillow"
    assert distribution_of("dotenv.parser") == "python-dotenv"  # not the `dotenv` shim qwen-agent pulls in
