"""The apps suite on Debian's real apps (LibreOffice Calc and Writer, mousepad, xterm, pcmanfm): one batch of the whole suite
with the reference scripts and two workers, shared by the module, succeeds on every task; every task's checker fails
on the untouched starting state (a checker that cannot fail is a defect); an unsupported metric is refused."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from guiagent.agent.batch.results import read_results
from guiagent.agent.checks import evaluate
from guiagent.agent.report import render_html
from guiagent.agent.suites import SuiteError, load_suite, load_suite_file
from guiagent.agent.trajectory import load_trajectory

SUITE = load_suite("apps")


@pytest.fixture(scope="module")
def batch(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("apps") / "batch"
    cmd = [sys.executable, "-m", "guiagent.agent.cli", "batch", "apps", "--policy", "script", "--workers", "2",
           "--out", str(out)]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    return out


def test_suite_covers_the_apps():
    apps = [t.start.app.split()[0] for t in SUITE.tasks if t.start.app]
    assert {a: apps.count(a) for a in set(apps)} == {"localc": 9, "lowriter": 7, "mousepad": 4, "xterm": 5, "pcmanfm": 3}
    assert len([t for t in SUITE.tasks if "cross-app" in t.tags]) == 2
    assert all(t.evaluator is not None and t.script and t.start.sandbox for t in SUITE.tasks)


def test_every_task_succeeds_with_its_reference_script(batch):
    rows = list(read_results(batch).values())
    assert {r.task: r.outcome for r in rows} == {t.id: "success" for t in SUITE.tasks}
    for row in rows:
        assert [v.kind for v in row.verified] == ["file"] and row.verified[0].reward == 1.0
    assert (batch / "summary.json").is_file() and (batch / "index.html").is_file()
    home = batch / "episodes" / "terminal-mkdir" / "seed-0" / "home"
    assert (home / "projects").is_dir()  # the app's HOME stays with the episode, as evidence


@pytest.mark.parametrize("task", SUITE.tasks, ids=lambda t: t.id)
def test_checker_fails_on_the_untouched_state(task, tmp_path):
    for folder in task.start.files:
        shutil.copytree(folder, tmp_path, dirs_exist_ok=True)
    assert task.evaluator is not None
    score, saw = evaluate(task.evaluator, tmp_path, timeout=0)
    assert score < 1.0, saw


def test_unsupported_metric_is_one_clear_sentence(tmp_path):
    path = tmp_path / "suite.yaml"
    path.write_text("tasks:\n  - {id: t, instruction: x, start: {app: xterm}, evaluator: {func: compare_pptx_files}}\n")
    with pytest.raises(SuiteError, match="evaluator: the metric 'compare_pptx_files' is not supported"):
        load_suite_file(path)


@pytest.mark.parametrize(("flag", "sandbox"), [("--network", {"enabled": True, "network": True}),
                                                ("--no-sandbox", {"enabled": False, "network": False})])
def test_network_and_no_sandbox_reach_the_episode_and_its_report(flag, sandbox, tmp_path):
    out = tmp_path / "batch"
    cmd = [sys.executable, "-m", "guiagent.agent.cli", "batch", "apps", "--tasks", "terminal-write-file", flag,
           "--out", str(out)]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    trajectory = load_trajectory(out / "episodes" / "terminal-write-file" / "seed-0")
    assert trajectory.meta.env["sandbox"] == sandbox and trajectory.meta.outcome == "success"
    said = "sandboxed, with network" if sandbox["enabled"] else "no sandbox"
    assert said in render_html(trajectory)
