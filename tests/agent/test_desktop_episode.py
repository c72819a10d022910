"""The desktop path end to end: the bundled Tk demo under a private Xvfb, through the same loop and CLI."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from guiagent.agent.runner import desktop_demo_spec, start_episode
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


def test_killing_the_x_server_mid_episode_ends_it_clearly(tmp_path):
    out = tmp_path / "run"

    def kill_x_after_two(record, max_steps):
        if record.index == 1:
            assert kill_descendants_named("Xvfb") == 1

    spec = desktop_demo_spec(out)
    spec.desktop.sample_fps = 4  # the background sampler dies with the server too, quietly
    result = start_episode(spec, out, on_step=kill_x_after_two)
    assert result.status == "failure" and result.reason.startswith("env: ")
    assert "is gone" in result.reason
    traj = load_trajectory(out)
    assert traj.problems == [] and traj.meta.outcome == "failure" and len(traj.steps) >= 2
    assert traj.steps[0].context_frames  # what the first action changed on the screen


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
