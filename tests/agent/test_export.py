"""SFT export: every format rendered by the real Qwen2.5-VL processor, labels that land on their targets."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from guiagent.agent.demo.server import DemoServer
from guiagent.agent.export import ExportOptions, build_samples, write_dataset
from guiagent.agent.runner import RunSpec, demo_script_path, start_episode
from guiagent.agent.spec import ScriptPolicySpec
from guiagent.agent.trajectory import load_trajectory
from guiagent.envs.browser import BrowserConfig, BrowserEnv
from guiagent.tools.parsing import parse_function_calls, parse_tool_calls
from tests.model.server import ROOT

CLI = [sys.executable, "-m", "guiagent.agent.cli"]
MAX = 1280 * 28 * 28


@pytest.fixture(scope="module")
def demo_trajectory(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("demo") / "traj"
    assert start_episode(RunSpec(policy=ScriptPolicySpec(script=str(demo_script_path())), demo_site=True),
                                 out).status == "success"
    return out


def processor_report(vllm_python, tiny_model, export: Path, fmt: str, max_pixels: int) -> list[dict]:
    if fmt == "trl":
        import pyarrow.parquet as pq

        rows = pq.read_table(export / "data.parquet").to_pylist()
        for row in rows:  # the bytes stay in the parquet; the checker opens the same files by path
            row["images"] = [{"path": i["path"]} for i in row["images"]]
        (export / "data.parquet.json").write_text(json.dumps(rows))
    out = subprocess.run([str(vllm_python), str(ROOT / "tests/model/check_export.py"), str(tiny_model), str(export), fmt,
                          "3136", str(max_pixels)], capture_output=True, text=True, timeout=600, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("fmt", ["llamafactory", "swift", "qwenvl", "trl"])
def test_each_format_renders_through_the_qwen25vl_processor(demo_trajectory, tmp_path, vllm_python, tiny_model, fmt):
    out = tmp_path / fmt
    proc = subprocess.run([*CLI, "export", str(demo_trajectory), "--format", fmt, "-o", str(out)],
                          capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "25 samples" in proc.stdout  # every step of the demo, the terminate included
    report = processor_report(vllm_python, tiny_model, out, fmt, MAX)
    assert len(report) == 25
    for sample in report:
        assert sample["images"] == sample["placeholders"] == sample["vision_blocks"] >= 1
        assert sample["image_pad_tokens"] == sample["expected_pad_tokens"]
    assert "max_pixels" in (out / "TRAINING.md").read_text() or "MAX_PIXELS" in (out / "TRAINING.md").read_text()


def test_llamafactory_gets_its_dataset_info_and_a_warning_about_its_default_resize(demo_trajectory, tmp_path):
    proc = subprocess.run([*CLI, "export", str(demo_trajectory), "--format", "llamafactory", "-o", str(tmp_path / "lf")],
                          capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert "shrinks images to 589824 pixels" in proc.stdout and "image_max_pixels: 1003520" in proc.stdout
    info = json.loads((tmp_path / "lf" / "dataset_info.json").read_text())
    assert info["guiagent"]["formatting"] == "sharegpt" and info["guiagent"]["file_name"] == "data.json"
    rows = json.loads((tmp_path / "lf" / "data.json").read_text())
    assert all((tmp_path / "lf" / p).exists() for r in rows for p in r["images"])
    assert rows[5]["messages"][0]["role"] == "system" and rows[5]["messages"][-1]["role"] == "assistant"
    assert len(rows[5]["images"]) == 3  # K=2 earlier screenshots + the current one


@pytest.mark.parametrize("max_pixels", [MAX, 256 * 28 * 28])
def test_labels_land_on_the_element_the_recorded_action_targeted(demo_trajectory, tmp_path, max_pixels):
    traj = load_trajectory(demo_trajectory)
    samples, _ = build_samples([demo_trajectory], ExportOptions(max_pixels=max_pixels))
    by_step = {s.step: s for s in samples}
    env = BrowserEnv(BrowserConfig())
    site = DemoServer().start()
    try:
        env.reset(site.url + "/login")  # the sign-in page: its elements are where they were recorded
        for step in traj.steps:
            action = step.actions[0]
            if "coordinate" not in action or step.index not in by_step:
                continue
            label = parse_tool_calls(by_step[step.index].turns[-1].text, "desktop", "qwen2.5-vl").actions[-1]
            mapping = step.geometry.for_model(max_pixels=max_pixels)
            x, y = mapping.model_to_input(label.points()["coordinate"])
            rx, ry = action["coordinate"]
            half = step.geometry.width / mapping.resized_width / 2 + 1e-9
            assert abs(x - rx) <= half and abs(y - ry) <= half
            assert step.url is not None
            if step.url.endswith("/login"):
                hit, page = "e => e ? (e.id || e.tagName) : null", env.page
                assert page is not None
                def at(px, py, hit=hit, page=page):
                    return page.evaluate(f"([x, y]) => ({hit})(document.elementFromPoint(x, y))", [px, py])
                assert at(x, y) == at(rx, ry) is not None
    finally:
        env.close()
        site.stop()


def test_function_result_return_targets_and_per_episode_samples(demo_trajectory, tmp_path):
    samples, _ = build_samples([demo_trajectory], ExportOptions(protocol="function-result-return"))
    assert all(parse_function_calls(s.turns[-1].text, "desktop", "qwen2.5-vl").actions for s in samples)
    assert "✿FUNCTION✿" in samples[0].turns[0].text  # the qwen prompt's tool section
    episode, _ = build_samples([demo_trajectory], ExportOptions(per_episode=True))
    assert len(episode) == 1 and len(episode[0].images) == 25
    write_dataset(episode, tmp_path / "sw", "swift", ExportOptions(per_episode=True))
    row = json.loads((tmp_path / "sw" / "data.jsonl").read_text())
    assert [m["loss"] for m in row["messages"] if m["role"] == "assistant"] == [True] * 25


def test_filters_and_bad_input_are_reported(demo_trajectory, tmp_path):
    broken = tmp_path / "broken"
    shutil.copytree(demo_trajectory, broken)
    (broken / "frames" / "000003.png").unlink()
    with open(broken / "steps.jsonl", "rb+") as f:  # cut the last line in half, as a crash would
        data = f.read()
        f.seek(0)
        f.truncate()
        f.write(data[: len(data) - 200])
    proc = subprocess.run([*CLI, "export", str(broken), "-o", str(tmp_path / "out")], capture_output=True, text=True,
                          timeout=120, cwd=ROOT)
    assert proc.returncode == 0
    assert "last line is incomplete" in proc.stdout and "step 4: frame frames/000003.png is missing" in proc.stdout
    assert "23 samples" in proc.stdout
    meta = json.loads((broken / "meta.json").read_text())
    (broken / "meta.json").write_text(json.dumps({**meta, "outcome": "failure"}))
    only = subprocess.run([*CLI, "export", str(broken), "--only-success", "-o", str(tmp_path / "o2")],
                          capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert only.returncode == 2 and "outcome is failure, not a verified success" in only.stderr
    (broken / "meta.json").write_text(json.dumps({**meta, "format_version": 7}))
    bad = subprocess.run([*CLI, "export", str(broken), "-o", str(tmp_path / "o3")], capture_output=True, text=True,
                         timeout=120, cwd=ROOT)
    assert bad.returncode == 2 and "unknown format version 7" in bad.stderr
    (tmp_path / "empty").mkdir()
    empty = subprocess.run([*CLI, "export", str(tmp_path / "empty"), "-o", str(tmp_path / "o4")], capture_output=True,
                           text=True, timeout=120, cwd=ROOT)
    assert empty.returncode == 2 and "not a trajectory (an empty folder)" in empty.stderr


def test_replay_divergent_steps_are_dropped(demo_trajectory, tmp_path):
    report = tmp_path / "divergence.json"
    report.write_text(json.dumps({"source": str(demo_trajectory), "divergences": [{"step": 4}, {"step": 7}]}))
    proc = subprocess.run([*CLI, "export", str(demo_trajectory), "--replay-report", str(report), "-o", str(tmp_path / "o")],
                          capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert proc.returncode == 0 and "23 samples" in proc.stdout
    assert proc.stdout.count("a replay found this step divergent") == 2


@pytest.mark.parametrize("family", ["qwen2.5-vl", "qwen2-vl", "qwen-vl", "internvl2.5", "pixtral", "qwen3-vl",
                                    "ui-tars-1.5", "opencua"])
def test_labels_are_written_in_each_familys_space_and_answer_form(demo_trajectory, family):
    from guiagent.policies.families import get_family

    profile = get_family(family)
    traj = load_trajectory(demo_trajectory)
    samples, skipped = build_samples([demo_trajectory], ExportOptions(family=family))
    assert len(samples) == 25 and not [s for s in skipped if "not exportable" in s.reason]
    by_step = {s.step: s for s in samples}
    checked = 0
    for step in traj.steps:
        action = step.actions[0]
        sample = by_step[step.index]
        assert profile.task_text(traj.meta.task) in sample.turns[1].text
        label = profile.parse(sample.turns[-1].text, profile.protocols[0], "desktop").actions  # the family's own parser reads it
        if "coordinate" not in action:
            continue
        mapping = profile.mapping(step.geometry, None, MAX)
        pointed = [a for a in label if "coordinate" in a.points()]  # OpenCUA scrolls where a moveTo left the cursor
        x, y = mapping.model_to_input(pointed[-1].points()["coordinate"])
        rx, ry = action["coordinate"]
        half_x = step.geometry.width / step.geometry.scale / mapping.model_width / 2 + 1e-9
        half_y = step.geometry.height / step.geometry.scale / mapping.model_height / 2 + 1e-9
        assert abs(x - rx) <= half_x and abs(y - ry) <= half_y, (family, label, action)
        checked += 1
    assert checked >= 5
