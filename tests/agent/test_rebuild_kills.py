"""Resume after the run died mid-step: SIGKILL of the guiagent process (at whatever point of the next step the
kill lands: before its decision, between its action and its record, ...) and Chromium killed under the episode,
each at a sample of 10 step indices, on a real Chromium and the demo site; the world is rebuilt by replay."""

import os
import random
import signal

import pytest

from guiagent.agent.export.samples import ExportOptions, build_samples
from guiagent.agent.report import render_html
from guiagent.agent.runner import RunSpec, demo_script_path, resume_episode, start_episode
from guiagent.agent.spec import ScriptPolicySpec
from guiagent.agent.trajectory import load_trajectory
from tests.agent.test_cli import guiagent
from tests.agent.test_rebuild import DEMO_STEPS, _assert_rebuilt_and_succeeded, _run_until
from tests.processes import kill_descendants_named


@pytest.mark.parametrize("k", sorted(random.Random(20).sample(range(1, DEMO_STEPS - 1), 10)))
def test_sigkill_of_the_run_then_resume_succeeds(tmp_path, k):
    out = tmp_path / "run"
    proc = _run_until(out, k)
    os.killpg(proc.pid, signal.SIGKILL)  # the runtime, its demo site and Chromium, all at once
    proc.communicate()
    before = load_trajectory(out)
    assert before.meta.outcome == "running"
    resumed = guiagent("run", "--resume", out, timeout=240)
    assert resumed.returncode == 0, (resumed.stdout, resumed.stderr)
    _assert_rebuilt_and_succeeded(out, len(before.steps))


@pytest.mark.parametrize("k", sorted(random.Random(21).sample(range(1, DEMO_STEPS - 1), 10)))
def test_chromium_killed_mid_episode_then_resume_succeeds(tmp_path, k):
    out = tmp_path / "run"

    def kill_chromium(record, max_steps):
        if record.index == k:
            assert kill_descendants_named("chromium") > 0

    result = start_episode(RunSpec(policy=ScriptPolicySpec(script=str(demo_script_path())), demo_site=True), out,
                                   on_step=kill_chromium)
    assert result.status == "error", result.reason
    recorded = len(load_trajectory(out).steps)
    resumed = resume_episode(out)
    assert resumed.status == "success", resumed.reason
    traj = load_trajectory(out)
    rebuilt = traj.meta.segments[-1].rebuilt
    assert rebuilt is not None and rebuilt.verified, rebuilt
    # the step the browser died under ran nothing (its fault): replayed are the steps before it
    assert rebuilt.replayed == recorded, (recorded, rebuilt)
    assert "replayed and verified" in render_html(traj)
    samples, skipped = build_samples([out], ExportOptions(exclude_resumed=True))  # the same world: kept
    assert samples and not any("resumed" in s.reason for s in skipped)
    assert samples[0].provenance is not None and samples[0].provenance.rebuilt == 1
