"""guiagent view: the HTML report checked in a real browser, the mp4 and GIF decoded back."""

from __future__ import annotations

import subprocess
import sys

import av
from PIL import Image

from guiagent.agent.runner import RunSpec, demo_script_path, start_episode
from guiagent.agent.trajectory import load_trajectory
from guiagent.envs.browser import BrowserConfig, BrowserEnv
from tests.model.server import ROOT


def test_report_video_and_gif(tmp_path):
    traj = tmp_path / "demo"
    spec = RunSpec(script=str(demo_script_path()), demo_site=True, browser=BrowserConfig(sample_fps=2))
    assert start_episode(spec, traj).status == "success"
    (traj / "frames" / "000002.png").unlink()  # a missing frame is shown as missing, not a broken image
    proc = subprocess.run([sys.executable, "-m", "guiagent.agent.cli", "view", str(traj), "-o", str(tmp_path / "r.html"),
                           "--mp4", str(tmp_path / "e.mp4"), "--gif", str(tmp_path / "e.gif")],
                          capture_output=True, text=True, timeout=180, cwd=ROOT)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "step 3: frame frames/000002.png is missing" in proc.stdout

    env = BrowserEnv(BrowserConfig())
    errors: list[str] = []
    try:
        env.reset()
        env.page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        env.page.on("pageerror", lambda e: errors.append(str(e)))
        env.page.goto((tmp_path / "r.html").as_uri())
        images = env.page.evaluate("[...document.images].map(i => i.complete && i.naturalWidth > 0)")
        sections = env.page.evaluate("document.querySelectorAll('section[id^=step-]').length")
        text = env.page.inner_text("body")
    finally:
        env.close()
    shown = sum(min(12, len(s.context_frames)) for s in load_trajectory(traj).steps)
    assert errors == []
    assert shown > 0 and len(images) == 25 + shown and all(images)  # each step, and its filmstrip
    assert sections == 25
    assert "Sign in as demo / demo" in text and "success" in text and "drag the card to Done" in text

    with av.open(str(tmp_path / "e.mp4")) as container:
        frames = sum(1 for _ in container.decode(video=0))
    assert frames >= 25
    gif = Image.open(tmp_path / "e.gif")
    assert gif.n_frames == 25


def test_view_of_a_broken_folder_says_why(tmp_path):
    (tmp_path / "empty").mkdir()
    proc = subprocess.run([sys.executable, "-m", "guiagent.agent.cli", "view", str(tmp_path / "empty")],
                          capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert proc.returncode == 2 and "not a trajectory (an empty folder)" in proc.stderr
