"""The package as a user installs it: a wheel, a fresh venv (not editable), run from another directory.

The wheel must carry its data (the demo site, the task files), install one top-level name
(``guiagent``) and keep working beside the PyPI packages named like our layer folders
(``envs``, ``tools``, ``agent``, ``policies``) and beside such folders in the working directory.
The venv gets the wheel's own dependencies and nothing else, so one missing from pyproject.toml fails here. They are
copied from the distributions installed in the test's own environment (the closure of the wheel's requirements, as
pip would resolve it), so nothing is downloaded while the tests run; the PyPI namesakes stand in as installed
top-level packages of those names (a stand-in: the real ones would be a download).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from email.parser import Parser
from importlib import metadata
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.timeout(900)  # a wheel build and PyPI installs on a loaded machine
NAMESAKES = ["envs", "tools", "agent", "policies"]  # real PyPI packages
EXTRAS = {"desktop"}
PIP_ENV = {**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1", "PIP_NO_INPUT": "1"}


def _run(cmd: list, timeout: float = 600, **kw) -> subprocess.CompletedProcess:
    return subprocess.run([str(c) for c in cmd], capture_output=True, text=True, timeout=timeout, env=PIP_ENV, **kw)


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    dist = tmp_path_factory.mktemp("dist")
    # the build backend installed with the test extra, not one fetched into an isolated build env
    proc = _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", dist, ROOT])
    assert proc.returncode == 0, proc.stderr
    (built,) = dist.glob("guiagent-*.whl")
    return built


def _needed(requires: list[str], extras: set[str]) -> list[Requirement]:
    """The requirements that apply here with ``extras`` asked for."""
    found = []
    for text in requires:
        req = Requirement(text)
        if req.marker is None or any(req.marker.evaluate({"extra": e}) for e in (extras or {""})):
            found.append(req)
    return found


def installed_closure(requires: list[str], extras: set[str]) -> dict[str, metadata.Distribution]:
    """The installed distributions that ``requires`` (with ``extras``) needs, all the way down."""
    found: dict[str, metadata.Distribution] = {}
    seen: set[tuple[str, frozenset[str]]] = set()
    todo = _needed(requires, extras)
    while todo:
        req = todo.pop()
        key = (canonicalize_name(req.name), frozenset(req.extras))
        if key in seen:
            continue
        seen.add(key)
        dist = metadata.distribution(req.name)  # PackageNotFoundError: the test env lacks what the wheel asks for
        assert req.specifier.contains(dist.version, prereleases=True), f"{req} but {dist.version} is installed"
        found[key[0]] = dist
        todo += _needed(dist.requires or [], set(req.extras))
    return found


def copy_distribution(dist: metadata.Distribution, site: Path) -> None:
    """Put an installed distribution's files (its package files and .dist-info) into another site-packages."""
    for file in dist.files or []:
        if file.parts[0] == "..":  # scripts in bin/: the wheel's own come from pip, the others are not needed
            continue
        source, target = Path(str(dist.locate_file(file))), site / file
        if source.is_file():
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)


@pytest.fixture(scope="module")
def venv(wheel, tmp_path_factory) -> Path:
    """A fresh venv with the wheel installed, not editable, with its dependencies and nothing else: what
    ``pip install guiagent[desktop]`` gives a user, at the versions the tests run with."""
    root = tmp_path_factory.mktemp("venv") / "venv"
    assert _run([sys.executable, "-m", "venv", root]).returncode == 0
    py = root / "bin" / "python"
    site = Path(_run([py, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"]).stdout.strip())
    with zipfile.ZipFile(wheel) as zf:
        (meta_name,) = [n for n in zf.namelist() if n.endswith(".dist-info/METADATA")]
        requires = Parser().parsestr(zf.read(meta_name).decode()).get_all("Requires-Dist") or []
    for dist in installed_closure(requires, EXTRAS).values():
        copy_distribution(dist, site)
    proc = _run([py, "-m", "pip", "install", "-q", "--no-index", "--no-deps", wheel], timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    checked = _run([py, "-m", "pip", "check"])
    assert checked.returncode == 0, checked.stdout  # every requirement of the wheel and its dependencies is there
    where = _run([py, "-c", "import guiagent; print(guiagent.__file__)"], cwd=root)
    assert where.stdout.startswith(str(site)), where.stdout + where.stderr  # the wheel, not the source tree
    return root


def test_the_wheel_holds_one_namespace_and_its_data(wheel) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    tops = {n.split("/")[0] for n in names if not n.split("/")[0].endswith(".dist-info")}
    assert tops == {"guiagent"}
    for needed in ("guiagent/py.typed", "guiagent/agent/demo/demo_task.yaml", "guiagent/agent/demo/desktop_task.yaml",
                   "guiagent/agent/demo/site/login.html", "guiagent/agent/demo/site/app.js",
                   "guiagent/tools/__init__.py", "guiagent/envs/__init__.py", "guiagent/policies/__init__.py"):
        assert needed in names, needed
    # every package of the source tree is listed in pyproject.toml, so none is left out of the wheel
    for layer in ("tools", "envs", "policies", "agent"):
        for init in (ROOT / layer).rglob("__init__.py"):
            rel = init.relative_to(ROOT).as_posix()
            assert f"guiagent/{rel}" in names, f"{rel}: add its package to pyproject.toml's packages"


def test_namesakes_on_pypi_and_in_the_working_directory_break_nothing(venv, tmp_path) -> None:
    py = venv / "bin" / "python"
    site = Path(_run([py, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"]).stdout.strip())
    for name in NAMESAKES:  # installed packages named like our layers (PyPI has each; these stand in for them)
        (site / name).mkdir()
        (site / name / "__init__.py").write_text("raise ImportError('the PyPI namesake, not ours')\n")
    for folder in NAMESAKES:  # a user's own folders named like our layers
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "__init__.py").write_text("raise ImportError('the wrong package')\n")
    code = "import guiagent; from guiagent.agent.runner import RunSpec; from guiagent import BrowserEnv; print(guiagent.__version__)"
    proc = _run([py, "-c", code], cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    cli = _run([venv / "bin" / "guiagent", "--version"], cwd=tmp_path)
    assert cli.returncode == 0 and cli.stdout.strip() == f"guiagent {proc.stdout.strip()}"
    (record,) = venv.glob("lib/python*/site-packages/guiagent-*.dist-info/RECORD")
    tops = {line.split("/")[0] for line in record.read_text().splitlines() if not line.startswith("..")}
    assert {t for t in tops if not t.startswith("guiagent-")} == {"guiagent"}  # the only name we install


@pytest.mark.parametrize("env", ["browser", "desktop"])
def test_the_installed_demo_runs_from_another_directory(venv, tmp_path, env) -> None:
    proc = _run([venv / "bin" / "guiagent", "demo", "--env", env, "--out", "run"], cwd=tmp_path, timeout=300)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert "success after" in proc.stdout
    assert (tmp_path / "run" / "meta.json").exists()
