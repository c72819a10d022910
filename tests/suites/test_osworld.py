"""OSWorld's task JSON (tests/data/osworld: written here in OSWorld's schema) run through ``guiagent batch`` with
--policy script: every supported task succeeds; the task with an unsupported func and the one that downloads from
the internet are listed as skipped with their reason in the summary, the index and the CLI's output; every
checker fails on the untouched start."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from guiagent.agent.batch.results import read_results
from guiagent.agent.checks import evaluate
from guiagent.agent.suites import SuiteError, load_suite

DATA = Path(__file__).resolve().parent.parent / "data" / "osworld"
SUITE = load_suite(str(DATA))


@pytest.fixture(scope="module")
def batch(tmp_path_factory) -> tuple[Path, str]:
    out = tmp_path_factory.mktemp("osworld") / "batch"
    cmd = [sys.executable, "-m", "guiagent.agent.cli", "batch", str(DATA), "--policy", "script", "--workers", "2",
           "--out", str(out)]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    return out, done.stdout


def test_the_tasks_use_the_config_steps_and_four_metrics():
    raw = [json.loads(p.read_text()) for p in sorted(DATA.glob("*.json"))]
    steps = {s["type"] for t in raw for s in t["config"]}
    assert {"download", "open", "launch", "execute", "sleep"} <= steps
    funcs = {t.evaluator.funcs[0] for t in SUITE.tasks if t.evaluator is not None}
    assert len(SUITE.tasks) == 6 and len(funcs) >= 4


def test_every_supported_task_succeeds_and_the_rest_are_skipped_with_a_reason(batch):
    out, stdout = batch
    rows = list(read_results(out).values())
    assert {r.task: r.outcome for r in rows} == {t.id: "success" for t in SUITE.tasks}
    summary = json.loads((out / "summary.json").read_text())
    reasons = {t["id"]: t["reason"] for t in summary["skipped"]}
    assert "'compare_pptx_files' is not supported" in reasons["impress-unsupported"]
    assert "needs the internet" in reasons["calc-from-the-internet"]
    assert "impress-unsupported" in (out / "index.html").read_text() and "skipped    impress-unsupported" in stdout


@pytest.mark.parametrize("task", SUITE.tasks, ids=lambda t: t.id)
def test_checker_fails_on_the_untouched_state(task, tmp_path):
    for folder in task.start.files:
        shutil.copytree(folder, tmp_path, dirs_exist_ok=True)
    assert task.evaluator is not None
    score, saw = evaluate(task.evaluator, tmp_path, timeout=0)
    assert score < 1.0, saw


def test_a_file_that_is_not_a_task_is_one_clear_sentence(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text("[1, 2]")
    with pytest.raises(SuiteError, match="not an OSWorld task JSON: expected an object with an 'id'"):
        load_suite(str(bad))
