"""--model-family reaches the policy from `run` and `batch` (their shared options) and is checked."""

from __future__ import annotations

import subprocess
import sys

CLI = [sys.executable, "-m", "guiagent.agent.cli"]


def test_batch_and_run_take_the_family_and_refuse_a_protocol_it_does_not_answer_in(tmp_path):
    for command in (["run", "--policy", "vlm", "--task", "x", "--out", str(tmp_path / "r")],
                    ["batch", "demo", "--policy", "vlm", "--out", str(tmp_path / "b")]):
        bad = subprocess.run([*CLI, *command, "--model-family", "ui-tars-1.5", "--protocol", "function-result-return"],
                             capture_output=True, text=True, timeout=120)
        assert bad.returncode == 2, bad.stdout + bad.stderr
        assert "the ui-tars-1.5 family answers in tool-call, not function-result-return" in bad.stderr
        unknown = subprocess.run([*CLI, *command, "--model-family", "gpt-9"], capture_output=True, text=True, timeout=120)
        assert unknown.returncode == 2 and "gpt-9" in unknown.stderr


def test_the_run_spec_carries_the_family():
    from guiagent.agent.run_options import RunOptions

    spec = RunOptions(policy="vlm", model_url="http://127.0.0.1:1/v1", model="m", model_family="qwen3-vl", task="t",
                      max_steps=5).spec()
    assert spec.policy_model is not None
    assert spec.policy_model.family == "qwen3-vl" and spec.policy_model.profile.space == "relative-1000"
