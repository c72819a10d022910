"""Outcomes as data: what the policy declared and what the checks verified on the final world, recorded apart;
success only when a check passed, unverified when none exists, a declared success a check refuses is a false
success. Pure rules first, then real episodes (Chromium, the demo site, a batch, the tiny model on vLLM)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from guiagent.agent.cli import EXIT_FAILED, EXIT_OK, EXIT_UNVERIFIED, exit_code
from guiagent.agent.loop import LoopConfig
from guiagent.agent.outcome import (
    CheckKind,
    Declared,
    DeclaredVsVerified,
    EndedBy,
    Fault,
    FaultKind,
    Outcome,
    Verdict,
    settle,
)
from guiagent.agent.runner import DEMO_STATE, RunSpec, start_episode
from guiagent.agent.spec import BrowserEnvSpec, ScriptPolicySpec, VLMPolicySpec
from guiagent.agent.trajectory import load_trajectory
from guiagent.tools import Check

PASSED = Verdict(kind=CheckKind.RULE, passed=True, saw="url '/list$' held")
REFUSED = Verdict(kind=CheckKind.RULE, passed=False, saw="the URL is http://x/login")
SAID_DONE = Declared(status="success", by="model")
GAVE_UP = Declared(status="failure", by="model")


@pytest.mark.parametrize(("ended_by", "declared", "verified", "fault", "outcome"), [
    (EndedBy.POLICY, SAID_DONE, [PASSED], None, Outcome.SUCCESS),
    (EndedBy.POLICY, SAID_DONE, [REFUSED], None, Outcome.FAILURE),
    (EndedBy.POLICY, SAID_DONE, [PASSED, REFUSED], None, Outcome.FAILURE),
    (EndedBy.POLICY, SAID_DONE, [], None, Outcome.UNVERIFIED),
    (EndedBy.POLICY, GAVE_UP, [], None, Outcome.FAILURE),
    (EndedBy.POLICY, GAVE_UP, [PASSED], None, Outcome.SUCCESS),  # the world is what counts
    (EndedBy.STEP_LIMIT, None, [], None, Outcome.FAILURE),
    (EndedBy.STEP_LIMIT, None, [PASSED], None, Outcome.SUCCESS),
    (EndedBy.STEP_FAILED, None, [PASSED], None, Outcome.FAILURE),  # a script whose own step failed failed
    (EndedBy.FORMAT_ERRORS, None, [], None, Outcome.FAILURE),
    (EndedBy.FAULT, None, [], Fault(kind=FaultKind.ENV, message="the browser is gone"), Outcome.ERROR),
    (EndedBy.FAULT, None, [], Fault(kind=FaultKind.MODEL_SERVER, message="down"), Outcome.ERROR),
    (EndedBy.FAULT, None, [], Fault(kind=FaultKind.CHECK, message="the judge did not answer"), Outcome.ERROR),
    (EndedBy.FAULT, None, [], Fault(kind=FaultKind.POLICY, message="the oracle found nothing"), Outcome.FAILURE),
    (EndedBy.INTERRUPTED, None, [], None, Outcome.INTERRUPTED),
])
def test_settle(ended_by, declared, verified, fault, outcome):
    assert settle(ended_by, declared, verified, fault).outcome is outcome


def test_a_declared_success_a_check_refuses_is_a_false_success_naming_both():
    settled = settle(EndedBy.POLICY, SAID_DONE, [REFUSED])
    assert settled.reason == "false success: the model declared success; the success check saw the URL is http://x/login"
    unverified = settle(EndedBy.POLICY, SAID_DONE, [])
    assert unverified.reason == "the model says it is done; no success check was given"


def test_the_retry_decision_reads_the_fault_kind_never_the_text():
    # a policy's own failure whose text looks like an env fault is still the task failing, not retried
    looks_like_env = Fault(kind=FaultKind.POLICY, message="env: the browser is gone")
    assert settle(EndedBy.FAULT, None, [], looks_like_env).outcome is Outcome.FAILURE
    assert not FaultKind.POLICY.infrastructure and FaultKind.ENV.infrastructure


def test_exit_codes():
    assert exit_code(Outcome.SUCCESS) == EXIT_OK
    assert exit_code(Outcome.UNVERIFIED) == EXIT_UNVERIFIED
    assert all(exit_code(o) == EXIT_FAILED for o in (Outcome.FAILURE, Outcome.ERROR, Outcome.AWAITING_APPROVAL))


def test_declared_vs_verified_table():
    table = DeclaredVsVerified()
    for declared, verified in [(SAID_DONE, [PASSED]), (SAID_DONE, [REFUSED]), (SAID_DONE, [REFUSED]),
                               (SAID_DONE, []), (GAVE_UP, [PASSED]), (None, [REFUSED])]:
        table.add(declared, verified)
    s = table.summary()
    assert (s["true_success"], s["false_success"], s["false_failure"], s["unverified"]) == (1, 2, 1, 1)
    assert s["table"]["none"] == {"passed": 0, "refused": 1, "unchecked": 0}


# -- real episodes: a script on the demo site -----------------------------------------------------------------

EARLY_DONE = """task: Open the settings page.
start_url: /list
steps:
  - {name: done already, action: terminate, status: success}
"""


def _cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "guiagent.agent.cli", *args], capture_output=True, text=True,
                          timeout=300, cwd=cwd)


def test_run_success_check_refuses_a_declared_success_and_export_takes_nothing(tmp_path):
    script = tmp_path / "early.yaml"
    script.write_text(EARLY_DONE)
    out = tmp_path / "run"
    proc = _cli("run", "--script", str(script), "--demo-site", "--success", "url:/settings$", "--out", str(out))
    assert proc.returncode == EXIT_FAILED, proc.stdout + proc.stderr
    meta = load_trajectory(out).meta
    assert meta.outcome is Outcome.FAILURE and meta.ended_by is EndedBy.POLICY
    assert meta.declared is not None and meta.declared.status == "success" and meta.declared.by == "script"
    (verdict,) = meta.verified
    assert verdict.kind is CheckKind.RULE and not verdict.passed and verdict.check == {"url": "/settings$", "timeout": 5.0}
    assert verdict.frame is not None and (out / verdict.frame).exists()  # the final world's frame
    assert meta.reason is not None and meta.reason.startswith("false success: the script declared success; the success check saw")
    assert "false success" in proc.stdout
    export = _cli("export", str(out), "--only-success", "-o", str(tmp_path / "data"))
    assert export.returncode == 2 and "nothing to export" in export.stderr + export.stdout
    assert not (tmp_path / "data" / "data.json").exists()


def test_no_check_is_unverified_and_exported_only_on_request(tmp_path):
    script = tmp_path / "early.yaml"
    script.write_text(EARLY_DONE)
    out = tmp_path / "run"
    proc = _cli("run", "--script", str(script), "--demo-site", "--out", str(out))
    assert proc.returncode == EXIT_UNVERIFIED, proc.stdout + proc.stderr
    meta = load_trajectory(out).meta
    assert meta.outcome is Outcome.UNVERIFIED and meta.verified == []
    assert "the script says it is done; no success check was given" in proc.stdout
    assert _cli("export", str(out), "--only-success", "-o", str(tmp_path / "none")).returncode == 2
    taken = _cli("export", str(out), "--only-success", "--include-unverified", "-o", str(tmp_path / "data"))
    assert taken.returncode == 0, taken.stdout + taken.stderr
    (line,) = (tmp_path / "data" / "provenance.jsonl").read_text().splitlines()
    assert json.loads(line) | {"source": None} == {"sample": 0, "source": None, "step": 0, "decided_by": "script",
                                                   "outcome": "unverified", "declared": "success", "verified_by": [],
                                                   "refused_by": [], "rebuilt": 0, "diverged": False}


def test_the_check_runs_at_the_step_limit_too(tmp_path):
    # the script reaches /settings in its first step and never says done: the step limit ends it, the check passes
    script = tmp_path / "open.yaml"
    script.write_text("""task: Open the settings page.
start_url: /list
steps:
  - {name: open settings, action: left_click, coordinate: [190, 24], expect: {url: "/settings$"}}
  - {name: wait, action: wait, time: 0.1}
""")
    spec = RunSpec(policy=ScriptPolicySpec(script=str(script)), demo_site=True, success=Check(url="/settings$"),
                   loop=LoopConfig(max_steps=2))
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / DEMO_STATE).write_text(json.dumps({"logged_in": True}))  # the site's state at the start
    result = start_episode(spec, tmp_path / "run")
    assert result.status is Outcome.SUCCESS and result.ended_by is EndedBy.STEP_LIMIT and result.declared is None
    assert [v.passed for v in result.verified] == [True]


def test_the_success_check_on_the_untouched_start_says_failure(tmp_path):
    """A check that cannot fail is a defect: the one used above, on the starting state, refuses."""
    spec = RunSpec(policy=ScriptPolicySpec(script=str(_write(tmp_path / "s.yaml", EARLY_DONE))), demo_site=True,
                   success=Check(url="/settings$"))
    result = start_episode(spec, tmp_path / "run")
    assert result.status is Outcome.FAILURE and not result.verified[0].passed


def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


# -- a batch: the declared x verified table ------------------------------------------------------------------

def test_a_batch_shows_the_declared_x_verified_table(tmp_path):
    suite = tmp_path / "suite.yaml"
    _write(tmp_path / "early.yaml", EARLY_DONE)
    _write(tmp_path / "full.yaml", """task: Open the settings page.
steps:
  - {name: open settings, action: left_click, coordinate: [190, 24], expect: {url: "/settings$"}}
  - {name: done, action: terminate, status: success}
""")
    suite.write_text("""suite: outcomes
defaults: {site: demo, max_steps: 5, initial_state: {logged_in: true}, start: {url: /list}}
tasks:
  - {id: true-success, instruction: Open the settings page., success: {url: "/settings$"}, script: full.yaml}
  - {id: false-success, instruction: Open the settings page., success: {url: "/settings$"}, script: early.yaml}
  - {id: no-check, instruction: Open the settings page., script: early.yaml}
""")
    out = tmp_path / "batch"
    proc = _cli("batch", str(suite), "--out", str(out), "--workers", "2")
    assert proc.returncode != 2, proc.stdout + proc.stderr
    summary = json.loads((out / "summary.json").read_text())
    assert (summary["success"], summary["failure"], summary["unverified"], summary["error"]) == (1, 1, 1, 0)
    table = summary["declared_vs_verified"]
    assert (table["true_success"], table["false_success"], table["unverified"], table["false_failure"]) == (1, 1, 1, 0)
    assert summary["tasks"]["false-success"]["declared_vs_verified"]["false_success"] == 1
    index = (out / "index.html").read_text()
    assert "1 false successes (declared, refused by a check)" in index and "Declared x verified" in index


# -- the model: the tiny Qwen2.5-VL on vLLM, forced to declare success at once ---------------------------------

TERMINATE_SUCCESS = r'<tool_call>\n\{"name": "computer_use", "arguments": \{"action": "terminate", "status": "success"\}\}\n</tool_call>'


def _model_spec(base_url: str, success: Check | None) -> RunSpec:
    from guiagent.policies.vlm import VLMConfig
    from tests.model.server import MODEL_NAME

    vlm = VLMConfig(base_url=base_url, model=MODEL_NAME, constrained=True, constrained_regex=TERMINATE_SUCCESS,
                    max_tokens=64, max_pixels=256 * 28 * 28)
    return RunSpec(env=BrowserEnvSpec(start_url="/list"), policy=VLMPolicySpec(vlm=vlm), task="Open the settings page.", demo_site=True,
                   success=success, loop=LoopConfig(max_steps=3))


def test_a_model_that_declares_success_on_the_wrong_page_fails(vllm_server, tmp_path):
    out = tmp_path / "run"
    result = start_episode(_model_spec(vllm_server.base_url, Check(url="/settings$")), out)
    assert result.status is Outcome.FAILURE and exit_code(result.status) == EXIT_FAILED
    assert result.reason is not None and result.reason.startswith("false success: the model declared success; the success check saw")
    traj = load_trajectory(out)
    assert len(traj.steps) == 1 and traj.steps[0].source == "model" and traj.meta.declared == Declared(status="success", by="model")
    assert _cli("export", str(out), "--only-success", "-o", str(tmp_path / "data")).returncode == 2


def test_a_model_with_no_check_is_unverified(vllm_server, tmp_path):
    out = tmp_path / "run"
    result = start_episode(_model_spec(vllm_server.base_url, None), out)
    assert result.status is Outcome.UNVERIFIED and exit_code(result.status) == EXIT_UNVERIFIED
    assert result.reason == "the model says it is done; no success check was given"
    assert _cli("export", str(out), "--only-success", "-o", str(tmp_path / "none")).returncode == 2
    assert _cli("export", str(out), "--only-success", "--include-unverified", "-o", str(tmp_path / "data")).returncode == 0
