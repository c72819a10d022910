"""`guiagent script`: a recorded run becomes a script that replays, on the moved layout too."""

import subprocess
import sys
from pathlib import Path
from typing import Literal

import yaml

from guiagent.agent.loop import LoopConfig
from guiagent.agent.runner import RunSpec, demo_script_path, start_episode
from guiagent.agent.script_from_run import script_from_trajectory
from guiagent.agent.spec import ScriptPolicySpec
from guiagent.agent.trajectory import StepRecord, Trajectory, TrajectoryMeta, load_trajectory
from guiagent.tools import ActionResult, FrameGeometry

ROOT = Path(__file__).resolve().parents[2]


def run(script: Path, out: Path, layout: Literal["default", "moved"] = "default"):
    spec = RunSpec(policy=ScriptPolicySpec(script=str(script)), demo_site=True, demo_layout=layout,
                   loop=LoopConfig(max_steps=40))
    return start_episode(spec, out)


def test_the_demo_run_becomes_a_script_that_passes_on_both_layouts(tmp_path):
    assert run(demo_script_path(), tmp_path / "recorded").status == "success"
    generated = tmp_path / "generated.yaml"
    proc = subprocess.run([sys.executable, "-m", "guiagent.agent.cli", "script", str(tmp_path / "recorded"), "-o",
                           str(generated)], capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    assert f"script: {generated} (25 steps)" in proc.stdout
    script = yaml.safe_load(generated.read_text())
    assert script["start_url"] == "/login" and script["success"]["selector"] == "#summary[data-complete='true']"
    sign_in = next(s for s in script["steps"] if s.get("name") == "sign in")
    assert sign_in["target"] == {"selector": "#signin", "describe": "the button 'Sign in'"}
    assert sign_in["coordinate"] == [640, 362] and sign_in["expect"]["url"] == "/list$"
    drag = next(s for s in script["steps"] if s["action"] == "left_click_drag")
    assert drag["start_target"]["selector"] == "#card" and drag["target"]["selector"] == "#done"
    help_tab = next(s for s in script["steps"] if s.get("name") == "open help in a new tab")
    assert help_tab["expect"] == {"url": "/help$", "js": 'document.title === "Help - Demo"'}  # what followed

    for layout in ("default", "moved"):
        result = run(generated, tmp_path / f"replayed-{layout}", layout)
        assert result.status == "success", (layout, result.reason)
    moved = load_trajectory(tmp_path / "replayed-moved")
    assert {t.source for s in moved.steps for t in s.targets} == {"dom"}  # found on the page, no model, no fallback


def test_a_model_run_without_elements_gets_describe_targets_from_its_thoughts(tmp_path):
    def step(i, thought, action, url, title):
        return StepRecord(index=i, t=0, t_start=0, t_end=0, frame=f"frames/{i:06d}.png", geometry=FrameGeometry(width=100, height=100),
                          thought=thought, raw="<tool_call>...</tool_call>", actions=[action], results=[ActionResult.success()],
                          url=url, title=title)

    traj = Trajectory(root=tmp_path, meta=TrajectoryMeta(task="t", start_url="https://example.com/a"), steps=[
        step(0, "I should open the menu. Then pick Help.", {"action": "left_click", "coordinate": [10, 20]}, "https://example.com/a", "A"),
        step(1, "", {"action": "type", "text": "x"}, "https://example.com/b", "B"),
        step(2, "Done.", {"action": "terminate", "status": "success"}, "https://example.com/b", "B"),
    ])
    steps = script_from_trajectory(traj)["steps"]
    assert steps[0] == {"action": "left_click", "coordinate": [10, 20], "target": {"describe": "I should open the menu."},
                        "expect": {"url": "/b$", "js": 'document.title === "B"'}}
    assert steps[1] == {"action": "type", "text": "x"} and steps[2]["action"] == "terminate"
