"""The soak bench at a few dozen episodes (bench/soak.py runs 1,000): a batch of short VLM episodes on the
local pool (4 workers, recycled every 8 episodes) against the fake model server, watched as it runs. The
properties, not the timings: no lasting zombie (defunct past 10 s, or at the end), no child left, no temp file left in the run's own TMPDIR,
every episode's row present, the batch process's descriptors back where they were."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.model.server import ROOT


def test_a_short_soak_leaves_nothing_behind(tmp_path):
    figures_file = tmp_path / "soak.json"
    proc = subprocess.run([sys.executable, "bench/soak.py", "--episodes", "24", "--workers", "4", "--recycle-after", "8",
                           "--every", "0.5", "--json", str(figures_file)], capture_output=True, text=True, timeout=900,
                          cwd=ROOT)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    figures = json.loads(figures_file.read_text())
    assert figures["rows"] == 24 and figures["rows_missing"] == []
    assert figures["zombies"] == [] and figures["children_left"] == [] and figures["temp_left"] == []
    assert figures["batch_fds_after"] <= figures["batch_fds_before"] + 3
    assert figures["samples"] >= 2 and figures["peak"]["children"] >= 4  # it watched the workers and their browsers
    assert "slope per 100 episodes" in proc.stdout and "load average" in proc.stdout
