"""Resume rebuilds the world by replaying (agent/rebuild.py), on a real Chromium and the demo site: Ctrl-C at a
sample of step indices then the printed resume command, SIGKILL of the run, Chromium killed, and a replay that
diverges because the site was changed between the runs."""

import json
import os
import random
import shlex
import signal
import subprocess
import time
from pathlib import Path

import pytest

from guiagent.agent.export.samples import ExportOptions, build_samples
from guiagent.agent.rebuild import WORLD_START
from guiagent.agent.report import render_html
from guiagent.agent.runner import DEMO_STATE, demo_script_path
from guiagent.agent.trajectory import STEPS_FILE, load_trajectory
from tests.agent.test_cli import GUIAGENT, ROOT, guiagent

DEMO_STEPS = 25


def _run_until(out: Path, k: int) -> subprocess.Popen:
    """The demo run as a user starts it, once ``k`` steps are recorded (the next one in progress)."""
    args = [*GUIAGENT, "run", "--script", str(demo_script_path()), "--demo-site", "--out", str(out)]
    proc = subprocess.Popen(args, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    steps = out / STEPS_FILE
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline and (not steps.exists() or steps.read_text().count("\n") < k):
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.005)
    return proc


def _assert_rebuilt_and_succeeded(out: Path, before_steps: int) -> None:
    after = load_trajectory(out)
    assert after.meta.outcome == "success", after.meta.reason
    assert [s.index for s in after.steps] == list(range(DEMO_STEPS))
    rebuilt = after.meta.segments[-1].rebuilt
    assert rebuilt is not None and rebuilt.verified and rebuilt.replayed == before_steps, rebuilt
    assert DEMO_STATE in rebuilt.restored  # the site's state put back to the start before replaying


def _flatten_spec(meta_file: Path) -> None:
    """Rewrite meta.json's run spec in the flat form of tests/agent/data/meta_flat_spec.json (written by the code
    before the tagged unions): env and policy as names, their settings beside them."""
    meta = json.loads(meta_file.read_text())
    spec = meta["extra"]["spec"]
    env, policy = spec.pop("env"), spec.pop("policy")
    old = json.loads((Path(__file__).parent / "data" / "meta_flat_spec.json").read_text())["extra"]["spec"]
    flat = {**spec, "start_url": env.pop("start_url"), "env": env.pop("kind"), "browser": env, "desktop": old["desktop"], "policy": policy.pop("kind"),
            "vlm": None, "replay": None, **policy}
    assert flat.keys() == old.keys()
    meta["extra"]["spec"] = flat
    meta_file.write_text(json.dumps(meta))


@pytest.mark.parametrize("k", sorted(random.Random(19).sample(range(1, DEMO_STEPS - 1), 10)))
def test_ctrl_c_at_a_sample_of_steps_then_the_printed_resume_command_succeeds(tmp_path, k):
    out = tmp_path / "run"
    proc = _run_until(out, k)
    os.killpg(proc.pid, signal.SIGINT)  # a terminal's Ctrl-C reaches the whole group, Chromium included
    stdout, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 130, (stdout, stderr)
    command = next(line.split("resume with: ", 1)[1] for line in stdout.splitlines() if "resume with: " in line)
    argv = shlex.split(command)
    assert argv[0] == "guiagent", command
    if k % 2:  # half of them resume a meta.json whose spec is in the flat form main's code wrote before the unions
        _flatten_spec(out / "meta.json")
    before = load_trajectory(out)
    resumed = subprocess.run([*GUIAGENT, *argv[1:]], capture_output=True, text=True, timeout=240, cwd=ROOT)
    assert resumed.returncode == 0, (resumed.stdout, resumed.stderr)
    _assert_rebuilt_and_succeeded(out, len(before.steps))
    assert load_trajectory(out).steps[: len(before.steps)] == before.steps  # recorded steps stay as they were


def test_a_replay_that_diverges_stops_naming_the_step_and_resume_anyway_goes_on(tmp_path):
    out = tmp_path / "run"
    proc = _run_until(out, 8)  # signed in; 'Old task' deleted; the new item field clicked
    os.killpg(proc.pid, signal.SIGINT)
    proc.communicate(timeout=120)
    assert proc.returncode == 130
    # the site changed between the runs: the list the episode started with holds more items
    start = json.loads((out / WORLD_START).read_text())
    state = {"items": [*(f"Another errand {i}" for i in range(8)), "Old task"]}
    start[DEMO_STATE] = json.dumps(state)
    (out / WORLD_START).write_text(json.dumps(start))
    steps_before, before = (out / STEPS_FILE).read_bytes(), load_trajectory(out)
    meta_before = before.meta

    stopped = guiagent("run", "--resume", out, timeout=240)
    assert stopped.returncode == 1, stopped.stdout + stopped.stderr
    said = " ".join(stopped.stderr.split())
    assert "the replay that rebuilds the world diverged at step 6 (delete 'Old task' (confirm dialog))" in said, said
    assert "the screen differs (similarity" in said and "--resume-anyway" in said, said
    assert (out / STEPS_FILE).read_bytes() == steps_before  # no recorded step changed
    after = load_trajectory(out).meta
    assert after.outcome == meta_before.outcome == "interrupted" and after.segments == meta_before.segments
    assert (out / "rebuild-divergence" / "step-000005-diff.png").exists()

    anyway = guiagent("run", "--resume", out, "--resume-anyway", timeout=240)
    assert "note: the rebuild diverged at step 6" in anyway.stdout, anyway.stdout + anyway.stderr
    traj = load_trajectory(out)
    assert len(traj.steps) > 8 and traj.steps[:8] == before.steps
    rebuilt = traj.meta.segments[-1].rebuilt
    assert rebuilt is not None and not rebuilt.verified and rebuilt.anyway and rebuilt.diverged_at == 5
    assert traj.meta.segments[-1].diverged and traj.meta.diverged
    assert "the rebuild diverged at step 6" in render_html(traj)
    samples, skipped = build_samples([out], ExportOptions(exclude_resumed=True, only_success=False))
    assert not samples and any("resumed on a world not verified by replay" in s.reason for s in skipped)
