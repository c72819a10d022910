"""guiagent view: the HTML report checked in a real browser, the mp4 and GIF decoded back."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from typing import cast

import av
from PIL import GifImagePlugin, Image

from guiagent.agent.runner import RunSpec, demo_script_path, start_episode
from guiagent.agent.spec import BrowserEnvSpec, ScriptPolicySpec
from guiagent.agent.trajectory import load_trajectory
from guiagent.envs.browser import BrowserConfig, BrowserEnv
from tests.model.server import ROOT


def test_report_video_and_gif(tmp_path):
    traj = tmp_path / "demo"
    spec = RunSpec(env=BrowserEnvSpec(sample_fps=2), policy=ScriptPolicySpec(script=str(demo_script_path())),
                   demo_site=True)
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
        page = env.page
        assert page is not None
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto((tmp_path / "r.html").as_uri())
        lazy = page.evaluate("[...document.images].every(i => i.loading === 'lazy')")
        # frames load as they scroll into view: load them all now, as scrolling through would
        page.evaluate("Promise.all([...document.images].map(i => { i.loading = 'eager'; return i.decode().catch(() => null); }))")
        images = page.evaluate("[...document.images].map(i => i.complete && i.naturalWidth > 0)")
        marks = page.evaluate("document.querySelectorAll('#step-1 .shot svg circle').length")
        sections = page.evaluate("document.querySelectorAll('section[id^=step-]').length")
        text = page.inner_text("body")
    finally:
        env.close()
    shown = sum(min(12, len(s.context_frames)) for s in load_trajectory(traj).steps)
    assert errors == []
    # each step (the one whose frame is gone shown as missing), its filmstrip, and the screen after the last step
    assert lazy and shown > 0 and len(images) == 24 + shown + 1 and all(images)
    assert "frame frames/000002.png is missing" in text and marks >= 1  # the click drawn over its frame
    assert sections == 25
    assert "+-" not in text and re.search(r"[+-]\d\.\d\d s", text)  # filmstrip times, signed once
    assert re.search(r"25 steps in \d+\.\d s", text) and "after the step (+" in text
    assert "Sign in as demo / demo" in text and "success" in text and "drag the card to Done" in text

    with av.open(str(tmp_path / "e.mp4")) as container:
        frames = sum(1 for _ in container.decode(video=0))
    assert frames >= 25
    gif = cast(GifImagePlugin.GifImageFile, Image.open(tmp_path / "e.gif"))
    assert gif.n_frames == 25


def test_view_of_a_broken_folder_says_why(tmp_path):
    (tmp_path / "empty").mkdir()
    proc = subprocess.run([sys.executable, "-m", "guiagent.agent.cli", "view", str(tmp_path / "empty")],
                          capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert proc.returncode == 2 and "not a trajectory (an empty folder)" in proc.stderr


def test_report_timeline_failed_step_and_prompt(tmp_path):
    """A failing episode: the timeline jumps to its steps, the failed step shows the screen after it, and a
    step carrying a recorded prompt (written here into the trajectory, as a VLM step records it) shows it."""
    script = tmp_path / "fail.yaml"
    script.write_text("task: fail\nstart_url: /login\nsteps:\n  - {action: left_click, coordinate: [640, 220]}\n"
                      "  - {name: look, action: type, text: demo, expect: {text: Nowhere, timeout: 0.5}}\n")
    traj = tmp_path / "t"
    assert start_episode(RunSpec(policy=ScriptPolicySpec(script=str(script)), demo_site=True), traj).status == "failure"
    lines = (traj / "steps.jsonl").read_text().splitlines()
    first = json.loads(lines[0])
    first["policy_info"]["prompt"] = {"messages": 3, "role": "user", "parts": [
        {"text": "The screen from 2025-01-01T00:00:00.000Z"}, {"video": {"frames": 4, "fps": 1.0, "t0": 1.7e9, "t_end": 1.7e9 + 3}},
        {"text": "The screen now:"}, {"image": {"width": 1288, "height": 812}}]}
    (traj / "steps.jsonl").write_text("\n".join([json.dumps(first), *lines[1:]]) + "\n")
    proc = subprocess.run([sys.executable, "-m", "guiagent.agent.cli", "view", str(traj)], capture_output=True, text=True,
                          timeout=120, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    env = BrowserEnv(BrowserConfig(url_policy=None))
    try:
        env.reset()
        page = env.page
        assert page is not None
        page.goto((traj / "report.html").as_uri())
        links = page.evaluate("[...document.querySelectorAll('nav#timeline a')].map(a => [a.textContent, a.className])")
        assert links[:2] == [["1", "ok"], ["2", "bad"]]
        page.click("nav#timeline a[href='#step-2']")
        assert page.evaluate("location.hash") == "#step-2"
        top = page.evaluate("document.getElementById('step-2').getBoundingClientRect().top")
        bar = page.evaluate("document.getElementById('timeline').getBoundingClientRect().bottom")
        assert bar - 1 <= top < bar + 100  # scrolled to it, just below the sticky timeline
        failed = page.inner_text("#step-2")
        assert "the episode failed here" in failed and "check text 'Nowhere' failed" in failed
        assert page.evaluate("!!document.querySelector('#step-2 .after img').naturalWidth")
        prompt = page.inner_text("#step-1 .prompt")
        assert "after 2 earlier messages" in prompt and "video: 4 frames at 1 fps" in prompt and "image 1288x812" in prompt
    finally:
        env.close()
