"""guiagent replay: a demo trajectory reproduces itself; a changed screen is caught, reported, shown."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image, ImageDraw

from guiagent.agent.replay import replay_trajectory
from guiagent.agent.runner import RunSpec, demo_script_path, desktop_demo_spec, start_episode
from guiagent.agent.spec import ScriptPolicySpec
from guiagent.agent.trajectory import load_trajectory
from tests.model.server import ROOT

CLI = [sys.executable, "-m", "guiagent.agent.cli"]


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("demo") / "traj"
    assert start_episode(RunSpec(policy=ScriptPolicySpec(script=str(demo_script_path())), demo_site=True),
                                 out).status == "success"
    return out


def test_replaying_the_demo_reproduces_it(demo, tmp_path):
    result, report = replay_trajectory(demo, tmp_path / "replay")
    assert result.status == "success" and report.divergences == []
    replayed = load_trajectory(tmp_path / "replay")
    assert len(replayed.steps) == 25
    assert all(s.policy_info["similarity"] >= 0.95 for s in replayed.steps)
    assert [s.actions for s in replayed.steps] == [s.actions for s in load_trajectory(demo).steps]
    original = json.loads((demo / "demo-state.json").read_text())
    again = json.loads((tmp_path / "replay" / "demo-state.json").read_text())
    assert again == original  # the same final page state, on a site that started fresh
    assert "no divergence" in (tmp_path / "replay" / "divergence.txt").read_text()


def tampered(demo: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "tampered"
    shutil.copytree(demo, copy)
    frame = copy / "frames" / "000010.png"
    image = Image.open(frame)
    ImageDraw.Draw(image).rectangle((300, 200, 1000, 600), fill=(255, 0, 0))
    image.save(frame)
    return copy


def test_strict_stops_at_the_first_divergence_and_shows_it(demo, tmp_path):
    source = tampered(demo, tmp_path)
    proc = subprocess.run([*CLI, "replay", str(source), "--out", str(tmp_path / "r")], capture_output=True, text=True,
                          timeout=180, cwd=ROOT)
    assert proc.returncode == 1
    assert "diverged at step 11 (similarity 0." in proc.stdout
    report = json.loads((tmp_path / "r" / "divergence.json").read_text())
    (d,) = report["divergences"]
    assert d["step"] == 10 and d["label"] == "notifications checkbox" and d["similarity"] < 0.95
    for kind in ("recorded", "live", "diff"):
        assert (tmp_path / "r" / d["frames"][kind]).exists()
    assert report["replayed_steps"] == 11 and report["outcome"] == "failure"


def test_lenient_goes_on_and_reports_each_divergence(demo, tmp_path):
    source = tampered(demo, tmp_path)
    result, report = replay_trajectory(source, tmp_path / "r", mode="lenient")
    assert result.status == "success" and report.replayed_steps == 25
    assert [d["step"] for d in report.divergences] == [10]
    text = (tmp_path / "r" / "divergence.txt").read_text()
    assert "step 11 (notifications checkbox): similarity 0." in text


def test_a_cut_short_trajectory_replays_what_is_whole(demo, tmp_path):
    copy = tmp_path / "cut"
    shutil.copytree(demo, copy)
    lines = (copy / "steps.jsonl").read_text().splitlines(keepends=True)
    (copy / "steps.jsonl").write_text("".join(lines[:12]) + lines[12][:100])
    proc = subprocess.run([*CLI, "replay", str(copy), "--mode", "lenient", "--out", str(tmp_path / "r")],
                          capture_output=True, text=True, timeout=180, cwd=ROOT)
    assert "skipped: steps.jsonl: last line is incomplete" in proc.stdout
    assert len(load_trajectory(tmp_path / "r").steps) == 13  # the 12 whole steps, then the recorded outcome
    (tmp_path / "empty").mkdir()
    empty = subprocess.run([*CLI, "replay", str(tmp_path / "empty")], capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert empty.returncode == 2 and "not a trajectory (an empty folder)" in empty.stderr


def test_replaying_the_desktop_demo(tmp_path):
    source = tmp_path / "desktop"
    assert start_episode(desktop_demo_spec(source), source).status == "success"
    result, report = replay_trajectory(source, tmp_path / "replay")
    assert result.status == "success" and report.divergences == [], report
    state = json.loads((tmp_path / "replay" / "desktop-state.json").read_text())
    assert state["title"] == "Desktop demo - saved, complete"
