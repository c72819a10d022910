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
    from guiagent.agent.run_options import run_spec

    defaults = dict(xvfb=None, no_cache=False, refresh_cache=False, viewport="1280x800", sample_fps=None, video_fps=1.0,
                    history_seconds=30.0, policy="vlm", script=None, max_pixels=None, model_url="http://127.0.0.1:1/v1",
                    model="m", model_family="qwen3-vl", protocol="tool-call", constrained=False, video_tokens=768,
                    private_network=None, demo_site=False, allow=None, block=None, allow_scheme=None, secret=None,
                    env="browser", display=None, launch=None, window=None, monitor=0, pass_env=None, chromium=None,
                    headed=False, scale=1.0, profile=None, task="t", start_url=None, cache=None, demo_layout="default",
                    max_steps=5, max_format_errors=3, secrets_file=None, approve=None, share=False, success=None)
    spec = run_spec(defaults)
    assert spec.vlm is not None
    assert spec.vlm.family == "qwen3-vl" and spec.vlm.profile.space == "relative-1000"
