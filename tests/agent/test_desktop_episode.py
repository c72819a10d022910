"""The desktop path end to end: the bundled Tk demo under a private Xvfb, through the same loop and CLI."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from guiagent.agent.runner import DESKTOP_STATE, desktop_demo_spec, resume_episode, start_episode
from guiagent.agent.trajectory import load_trajectory
from tests.processes import kill_descendants_named

ROOT = Path(__file__).resolve().parents[2]
CLI = [sys.executable, "-m", "guiagent.agent.cli"]


def test_guiagent_demo_desktop_succeeds_and_reads_back(tmp_path):
    out = tmp_path / "demo"
    proc = subprocess.run([*CLI, "demo", "--env", "desktop", "--out", str(out)], capture_output=True, text=True,
                          timeout=180, cwd=ROOT)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "success after 7 steps" in proc.stdout and "xauth" not in proc.stdout
    traj = load_trajectory(out)
    assert traj.problems == [] and traj.meta.outcome == "success" and traj.meta.env["kind"] == "desktop"
    assert traj.steps[-1].window == "Desktop demo - saved, complete"
    assert traj.steps[0].geometry.width == 1280 and traj.frame_path(traj.steps[0]).exists()


def _kill_after_blue(out: Path, what: str, cmdline: bool = False):
    """An on_step callback: once step 4 (choose Blue) has reached the app's saved state, kill ``what``."""

    def kill(record, max_steps):
        if record.index == 3:
            state = out / DESKTOP_STATE
            while not (state.exists() and '"colour": "Blue"' in state.read_text()):  # the app saved it
                time.sleep(0.01)
            assert kill_descendants_named(what, cmdline=cmdline) == 1

    return kill


@pytest.mark.parametrize("what, cmdline, says", [("Xvfb", False, "is gone"), ("desktop_app", True, "exited")],
                         ids=["xvfb", "app"])
def test_a_dead_x_server_or_app_is_an_error_and_resume_reaches_success(tmp_path, what, cmdline, says):
    out = tmp_path / "run"
    spec = desktop_demo_spec(out)
    spec.env.sample_fps = 4  # the background sampler dies with the server too, quietly
    result = start_episode(spec, out, on_step=_kill_after_blue(out, what, cmdline))
    assert result.status == "error" and result.reason is not None
    assert result.reason.startswith("env: ") and says in result.reason
    traj = load_trajectory(out)
    assert traj.problems == [] and traj.meta.outcome == "error" and len(traj.steps) == 4
    assert traj.steps[0].context_frames  # what the first action changed on the screen

    resumed = resume_episode(out)  # a fresh Xvfb, the app launched again (it reads its saved state)
    assert resumed.status == "success", resumed.reason
    traj = load_trajectory(out)
    assert [s.index for s in traj.steps] == list(range(7)) and traj.meta.outcome == "success"
    assert [(s.first_step, s.after) for s in traj.meta.segments] == [(0, None), (4, "error")]
    assert traj.steps[-1].window == "Desktop demo - saved, complete"


def test_sigkill_then_resume_on_the_desktop(tmp_path):
    out = tmp_path / "run"
    proc = subprocess.Popen([*CLI, "demo", "--env", "desktop", "--out", str(out)], cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    steps = out / "steps.jsonl"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and (not steps.exists() or steps.read_text().count("\n") < 4):
        time.sleep(0.005)
    os.killpg(proc.pid, signal.SIGKILL)  # the runtime, its Xvfb and the app together
    proc.wait()
    assert load_trajectory(out).meta.outcome == "running"
    resumed = subprocess.run([*CLI, "run", "--resume", str(out)], capture_output=True, text=True, timeout=180, cwd=ROOT)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    traj = load_trajectory(out)
    assert [s.index for s in traj.steps] == list(range(7)) and traj.meta.outcome == "success"
