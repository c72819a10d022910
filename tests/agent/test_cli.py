"""The guiagent command as a user runs it: exit codes, messages, and SIGKILL-then-resume."""

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from guiagent.agent.runner import demo_script_path
from guiagent.agent.trajectory import load_trajectory
from guiagent.policies.script import load_script

GUIAGENT = [sys.executable, "-m", "guiagent.agent.cli"]
ROOT = Path(__file__).resolve().parents[2]


def guiagent(*args, timeout=120):
    return subprocess.run([*GUIAGENT, *map(str, args)], capture_output=True, text=True, timeout=timeout, cwd=ROOT)


def test_demo_exits_0_and_writes_the_trajectory_into_out(tmp_path):
    out = tmp_path / "demo"
    proc = guiagent("demo", "--out", out)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "step   1/25  left_click [640, 220]  ok" in proc.stdout
    assert "success after 25 steps" in proc.stdout
    assert {"meta.json", "steps.jsonl", "frames"} <= {p.name for p in out.iterdir()}


def test_a_failing_script_exits_1_with_the_reason(tmp_path):
    script = tmp_path / "fail.yaml"
    script.write_text("task: fail\nstart_url: /login\nsteps:\n  - {name: look, action: wait, time: 0, expect: {text: Nowhere, timeout: 0.3}}\n")
    proc = guiagent("run", "--script", script, "--demo-site", "--out", tmp_path / "t")
    assert proc.returncode == 1
    assert "failure after 1 steps" in proc.stdout and "check text 'Nowhere'" in proc.stdout
    assert "step 1 (look) failed (printed above)" in proc.stdout


def test_bad_usage_and_config_exit_2_with_the_reason(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("steps:\n  - {action: left_click, coordinate: [-3, 1]}\n")
    cases = [
        (["run", "--script", bad, "--demo-site", "--out", tmp_path / "a"], "step 1: left_click.coordinate.0"),
        (["run", "--script", demo_script_path(), "--out", tmp_path / "b"], "is relative: give an absolute URL or use --demo-site"),
        (["run", "--script", demo_script_path(), "--viewport", "big", "--out", tmp_path / "c"], "--viewport must look like 1280x800"),
        (["run", "--out", tmp_path / "d", "--task", "x"], "--policy script needs --script FILE"),
        (["run", "--resume", tmp_path / "nothing-here"], "no such trajectory folder"),
        (["run", "--script", demo_script_path(), "--demo-site", "--chromium", "/no/chromium", "--out", tmp_path / "e"],
         "Chromium not found at '/no/chromium'"),
        (["run", "--max-steps", "0"], "Invalid value for '--max-steps'"),
    ]
    for args, message in cases:
        proc = guiagent(*args)
        assert proc.returncode == 2, (args, proc.stdout, proc.stderr)
        assert message in " ".join((proc.stdout + proc.stderr).split()), (args, proc.stderr)


def test_out_that_already_holds_a_trajectory_is_refused(tmp_path):
    out = tmp_path / "demo"
    assert guiagent("demo", "--out", out).returncode == 0
    proc = guiagent("demo", "--out", out)
    assert proc.returncode == 2 and "already holds a trajectory" in proc.stderr


def test_sigkill_mid_episode_then_resume_loses_and_repeats_no_step(tmp_path):
    out = tmp_path / "run"
    args = [*GUIAGENT, "run", "--script", str(demo_script_path()), "--demo-site", "--out", str(out)]
    proc = subprocess.Popen(args, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
    steps = out / "steps.jsonl"
    deadline = time.monotonic() + 60
    # Kill somewhere inside step 15 ("open terms"), whose page state is all on the server.
    while time.monotonic() < deadline and (not steps.exists() or steps.read_text().count("\n") < 14):
        time.sleep(0.005)
    time.sleep(random.uniform(0, 0.08))
    os.killpg(proc.pid, signal.SIGKILL)  # the runtime, its demo site and Chromium, all at once
    proc.wait()
    before = load_trajectory(out)
    assert before.meta.outcome == "running" and 14 <= len(before.steps) < 25

    resumed = guiagent("run", "--resume", out)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    after = load_trajectory(out)
    assert after.meta.outcome == "success"
    assert [s.index for s in after.steps] == list(range(25))  # none lost, none repeated
    assert [s.label for s in after.steps] == [s.name for s in load_script(demo_script_path()).steps]
    assert after.steps[: len(before.steps)] == before.steps  # what was recorded stays as it was
    # the resumed run printed only the steps it ran itself
    assert f"step  {len(before.steps) + 1}/" in resumed.stdout
    assert "step   1/" not in resumed.stdout



def test_a_script_action_that_fails_fails_the_step_even_without_expect(tmp_path):
    script = tmp_path / "outside.yaml"
    script.write_text("task: click outside\nstart_url: /login\nsteps:\n"
                      "  - {name: off the page, action: left_click, coordinate: [5000, 10]}\n"
                      "  - {action: terminate, status: success}\n")
    proc = guiagent("run", "--script", script, "--demo-site", "--out", tmp_path / "t")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    said = " ".join(proc.stdout.split())
    assert "failure after 1 steps in" in said and "step 1 (off the page) failed (printed above)" in said, said
    assert said.count("left_click: coordinate [5000, 10] is outside") == 1, said  # the reason, once
    assert load_trajectory(tmp_path / "t").meta.outcome == "failure"


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_ctrl_c_or_sigterm_says_where_it_stopped_and_how_to_resume(tmp_path, sig):
    out = tmp_path / "run"
    args = [*GUIAGENT, "run", "--script", str(demo_script_path()), "--demo-site", "--out", str(out)]
    proc = subprocess.Popen(args, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    steps = out / "steps.jsonl"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and (not steps.exists() or steps.read_text().count("\n") < 14):
        time.sleep(0.005)
    if sig == signal.SIGINT:
        os.killpg(proc.pid, sig)  # a terminal's Ctrl-C reaches the whole group, Chromium included
    else:
        os.kill(proc.pid, sig)
    stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130, stdout + stderr
    assert "Traceback" not in stderr
    assert f"resume with: guiagent run --resume {out}" in stdout
    meta = load_trajectory(out).meta
    assert meta.outcome == "interrupted" and meta.ended_at is not None
    assert meta.reason is not None
    assert meta.reason.startswith(f"interrupted ({'SIGTERM' if sig == signal.SIGTERM else 'Ctrl-C'}) during step ")
    if sig == signal.SIGTERM:
        return
    resumed = guiagent("run", "--resume", out)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    after = load_trajectory(out)
    assert after.meta.outcome == "success" and [s.index for s in after.steps] == list(range(25))
    assert [s.after for s in after.meta.segments] == [None, "interrupted"]
