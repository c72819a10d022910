"""Whole episodes with the VLM policy on the demo site, against a real vLLM server (tiny random model)."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from guiagent.agent.loop import LoopConfig
from guiagent.agent.runner import RunSpec, start_episode
from guiagent.agent.spec import BrowserEnvSpec, VLMPolicySpec
from guiagent.agent.trajectory import StepRecord, load_trajectory
from guiagent.policies.media import VideoConfig
from guiagent.policies.vlm import VLMConfig
from guiagent.tools.parsing import Protocol
from tests.model.server import MODEL_NAME, VLLMServer

# Random weights, constrained to well-formed calls; terminate left out so the episode runs its length.
# max_tokens leaves room for the longest answer the constraint allows (its 61-character thought may take a
# token a character: at 96 one answer was cut short in a loaded make test).
MOVES = ["key", "type", "mouse_move", "left_click", "right_click", "double_click", "scroll", "wait"]


def vlm_spec(base_url: str, protocol: Protocol = "tool-call", steps: int = 10, **video) -> RunSpec:
    vlm = VLMConfig(base_url=base_url, model=MODEL_NAME, protocol=protocol, constrained=True,
                    constrained_actions=MOVES, max_tokens=256, temperature=1.0, max_pixels=256 * 28 * 28,
                    video=VideoConfig(fps=1.0, history_seconds=video.get("history_seconds", 6), token_budget=512))
    # sample_fps: what is painted during actions joins the clip
    return RunSpec(env=BrowserEnvSpec(sample_fps=1.0, start_url="/login"), policy=VLMPolicySpec(vlm=vlm), task="Sign in as demo / demo.",
                   demo_site=True, loop=LoopConfig(max_steps=steps))


def usage(step: StepRecord) -> dict[str, int]:
    assert step.usage is not None
    return step.usage


@pytest.mark.parametrize("protocol", ["tool-call", "function-result-return"])
def test_ten_vlm_steps_on_the_demo_site_are_recorded(vllm_server, tmp_path, protocol):
    out = tmp_path / "run"
    result = start_episode(vlm_spec(vllm_server.base_url, protocol), out)
    assert result.status == "failure" and result.reason == "reached the step limit (10) without finishing"
    traj = load_trajectory(out)
    assert len(traj.steps) == 10 and traj.problems == []
    assert traj.meta.policy["kind"] == "vlm" and traj.meta.policy["protocol"] == protocol
    for step in traj.steps:
        assert step.raw and step.format_error is None, step.raw
        assert step.model_actions and len(step.model_actions) == len(step.actions)
        assert step.mapping is not None and step.mapping.frame == step.geometry
        assert usage(step)["prompt_tokens"] > usage(step)["image_tokens"] > 0
    # the history grows as text, and a clip appears once there is a past to show
    # (the clip's intro text goes with the clip when the context budget drops it: compare like with like)
    prompts = [usage(s)["prompt_tokens"] - usage(s)["image_tokens"] - usage(s)["video_tokens"] for s in traj.steps]
    for with_clip in (False, True):
        same = [p for p, s in zip(prompts, traj.steps, strict=True) if (usage(s)["video_frames"] > 0) == with_clip]
        assert same == sorted(same)
    assert prompts[-1] > prompts[0]
    assert usage(traj.steps[0])["video_frames"] == 0 and max(usage(s)["video_frames"] for s in traj.steps) >= 2
    assert any(s.context_frames for s in traj.steps)  # the sampler ran beside the model policy


def test_killing_the_server_mid_episode_fails_clearly_and_keeps_the_trajectory(vllm_python, tiny_model, tmp_path):
    with VLLMServer(vllm_python, tiny_model, tmp_path / "server.log") as server:
        spec = vlm_spec(server.base_url, steps=20)
        assert spec.policy_model is not None
        spec.policy_model.max_retries = 1

        def kill_after_three(record, max_steps):
            if record.index == 2:
                server.kill()

        result = start_episode(spec, tmp_path / "run", on_step=kill_after_three)
    assert result.status == "error"  # the server under the agent died: resumable, not the task failing
    assert result.reason == f"model-server: cannot reach the model server at {server.base_url} (is it running?)"
    traj = load_trajectory(tmp_path / "run")
    assert traj.problems == [] and traj.meta.outcome == "error" and traj.meta.reason == result.reason
    assert [s.index for s in traj.steps] == [0, 1, 2, 3]
    assert all(s.raw for s in traj.steps[:3]) and traj.steps[3].actions == []


def test_a_server_that_refuses_the_video_says_so(vllm_python, tiny_model, tmp_path):
    with VLLMServer(vllm_python, tiny_model, tmp_path / "server.log", limit_mm={"image": 1, "video": 0}) as server:
        result = start_episode(vlm_spec(server.base_url, steps=4), tmp_path / "run")
    assert result.status == "failure"
    assert result.reason is not None
    assert "the server refuses this many images/videos per prompt" in result.reason
    assert "--limit-mm-per-prompt" in result.reason


def test_the_cli_runs_the_vlm_policy_and_doctor_checks_the_server(vllm_server, tmp_path):
    cli = [sys.executable, "-m", "guiagent.agent.cli"]
    run = subprocess.run(
        [*cli, "run", "--policy", "vlm", "--model-url", vllm_server.base_url, "--model", MODEL_NAME,
         "--constrained", "--demo-site", "--start-url", "/login", "--task", "Sign in.", "--max-steps", "2",
         "--history-seconds", "0", "--max-pixels", str(256 * 28 * 28), "--out", str(tmp_path / "run")],
        capture_output=True, text=True, timeout=300,
    )
    assert run.returncode == 1, run.stdout + run.stderr  # random actions: the step limit, not a crash
    assert "step   1/2" in run.stdout and "tokens" in run.stdout
    assert "reached the step limit (2)" in run.stdout
    doctor = subprocess.run([*cli, "doctor", "--model-url", vllm_server.base_url, "--history-seconds", "4",
                             "--max-pixels", str(256 * 28 * 28)],
                            capture_output=True, text=True, timeout=300)
    assert doctor.returncode == 0, doctor.stdout + doctor.stderr
    assert MODEL_NAME in doctor.stdout and "max_model_len 4096" in doctor.stdout
    assert re.search(r"accepts a screenshot plus a [2-4]-frame clip", doctor.stdout)
    assert re.search(r"image \d+ \+ video \d+ = \d+ visual tokens predicted; the server counted \d+", doctor.stdout)
    assert "vllm serve Qwen/Qwen2.5-VL-7B-Instruct" in doctor.stdout
    assert "model family qwen2.5-vl: proposed from its id and config" in doctor.stdout
    bad = subprocess.run([*cli, "run", "--policy", "vlm", "--video-fps", "0.7", "--task", "x", "--out", str(tmp_path / "x")],
                         capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and "2/fps must be a whole number" in bad.stderr
