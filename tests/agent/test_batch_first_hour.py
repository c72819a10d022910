"""A batch as a newcomer meets it (issue 21): a default folder like run's, Ctrl-C says how to go on, the index
links only reports that exist (each written as its episode ends), the live view lists the last failures."""

from __future__ import annotations

import io
import os
import shlex
import signal
import subprocess
import sys
import time

from rich.console import Console

from guiagent.agent.batch.progress import Progress
from guiagent.agent.batch.results import ResultRow
from guiagent.agent.outcome import Outcome

SUITE = """suite: first-hour
defaults: {site: demo, max_steps: 5}
tasks:
  - id: quick-fail
    instruction: Find what is not there.
    start: {url: /login}
    script: fail.yaml
  - id: slow
    instruction: Wait a long time.
    start: {url: /login}
    script: slow.yaml
"""


def test_ctrl_c_on_a_batch_says_how_to_continue_into_the_default_folder(tmp_path) -> None:
    (tmp_path / "suite.yaml").write_text(SUITE)
    (tmp_path / "fail.yaml").write_text("steps:\n  - {name: look, action: wait, time: 0, expect: {text: Nowhere, timeout: 0.3}}\n")
    (tmp_path / "slow.yaml").write_text("steps:\n  - {name: wait, action: wait, time: 300}\n")
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "guiagent.agent.cli", "batch", "suite.yaml", "--workers", "1"],
                            cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True, env=env)
    try:
        deadline = time.monotonic() + 120  # a bound on a hung start, not a timing assumption
        while time.monotonic() < deadline and proc.poll() is None:
            results = list(tmp_path.glob("runs/batch-*/results.jsonl"))
            if results and results[0].read_text().count("\n") >= 1:  # quick-fail is in; slow is waiting 300 s
                break
            time.sleep(0.1)
        os.killpg(proc.pid, signal.SIGINT)
        out, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode == 130, out + err
    [folder] = tmp_path.glob("runs/batch-*")  # the default folder, as run makes one
    line = next(x for x in out.splitlines() if x.startswith("run the same command to continue: "))
    command = shlex.split(line.split(": ", 1)[1])
    assert command[:3] == ["guiagent", "batch", "suite.yaml"] and command[-2:] == ["--out", str(folder.relative_to(tmp_path))]

    report = folder / "episodes" / "quick-fail" / "seed-0" / "report.html"
    assert report.exists()  # written as the episode ended, before any `guiagent view`
    again = subprocess.run([sys.executable, "-m", "guiagent.agent.cli", *command[1:], "--tasks", "quick-fail"],
                           cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert "1 of 1 episodes already finished" in again.stderr, again.stdout + again.stderr
    index = (folder / "index.html").read_text()
    assert "href='episodes/quick-fail/seed-0/report.html'" in index


def test_the_index_links_no_report_that_does_not_exist(tmp_path) -> None:
    from guiagent.agent.batch.results import render_index, summarize

    rows = [ResultRow(key="t/seed-0", task="t", seed=0, outcome=Outcome.ERROR, trajectory="episodes/t/seed-0")]
    index = render_index(rows, summarize(rows, 1, 1.0), tmp_path)
    assert "report.html" not in index.split("<h2>Episodes</h2>")[1].split("</p>", 1)[1] and "no report" in index


def test_the_live_view_lists_the_last_failures_with_their_reasons() -> None:
    printed = io.StringIO()
    progress = Progress(Console(file=printed, width=160, color_system=None))
    progress.start(7, 0)
    for n in range(6):
        progress.finished(ResultRow(key=f"t{n}/seed-0", task=f"t{n}", seed=0, outcome=Outcome.FAILURE,
                                    trajectory=".", reason=f"step 1 (look): reason number {n}"))
    progress.finished(ResultRow(key="ok/seed-0", task="ok", seed=0, outcome=Outcome.SUCCESS, trajectory="."))
    view = Console(file=io.StringIO(), width=160, color_system=None, record=True)
    view.print(progress.render())
    text = view.export_text()
    assert "last 5 failed:" in text and "t5/seed-0: step 1 (look): reason number 5" in text
    assert "reason number 0" not in text and "ok/seed-0" not in text
