"""A model-driven desktop episode on a real LibreOffice Calc task: the tiny random Qwen2.5-VL on the real vLLM server
drives ``calc-change-value`` for a few steps with ``--a11y``. The model cannot solve it, so this checks the plumbing
and the outcome: every step records the apps' accessibility tree, meta.json's verified holds the file check's
result (read from the sheet Calc left), and the outcome is what the outcome model says for that check."""

from __future__ import annotations

import json
import subprocess
import sys

from guiagent.agent.batch.results import read_results
from tests.model.server import MODEL_NAME

TASK = "calc-change-value"


def test_a_vlm_episode_on_calc_records_the_tree_and_the_file_check(vllm_server, tmp_path):
    out = tmp_path / "batch"
    cmd = [sys.executable, "-m", "guiagent.agent.cli", "batch", "apps", "--tasks", TASK, "--policy", "vlm",
           "--model-url", vllm_server.base_url, "--model", MODEL_NAME, "--constrained", "--max-steps", "2",
           "--max-pixels", str(256 * 28 * 28), "--history-seconds", "0", "--a11y", "--out", str(out)]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=900, check=False)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    (row,) = read_results(out).values()
    folder = out / row.trajectory
    meta = json.loads((folder / "meta.json").read_text())
    assert meta["policy"]["kind"] == "vlm" and meta["env"]["a11y"] is True

    steps = [json.loads(line) for line in (folder / "steps.jsonl").read_text().splitlines()]
    assert 1 <= len(steps) <= 2 and all(s["raw"] and s["usage"]["prompt_tokens"] > 0 for s in steps)
    for step in steps:  # Calc's own widgets, linearized as OSWorld does
        assert step["a11y"].startswith("tag\tname\tposition (top-left x&y)\tsize (w&h)")
        assert "sales.xlsx" in step["a11y"] or "table" in step["a11y"]

    (check,) = meta["verified"]  # the task's file check ran on what Calc left, whatever the model did
    assert check["kind"] == "file" and check["reward"] in (0.0, 1.0)
    assert (meta["outcome"] == "success") == check["passed"]  # the check decides, not the model's word
    assert meta["outcome"] in ("success", "failure") and row.outcome == meta["outcome"]
