"""The judge: a second model's verdict recorded under ``verified``. Its rules first (it decides only where no rule or
reward checked; its answer's form), then real episodes: a scripted judge (bench/load_server.py answering scripted
verdicts) on the demo site and beside MiniWoB's rewards in a batch (agreement figures checked exactly), a judge
server that is down (a check fault: outcome error), and the tiny model on the real vLLM server (the plumbing and
the constrained form; random weights, so not the verdict itself)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from bench.load_server import DEFAULT_MODEL, LoadServer
from guiagent.agent.batch import run_from_cli
from guiagent.agent.cli import EXIT_FAILED, EXIT_OK, EXIT_USAGE
from guiagent.agent.judging import last_frames
from guiagent.agent.outcome import (
    Agreement,
    CheckKind,
    Declared,
    EndedBy,
    FaultKind,
    Outcome,
    Verdict,
    judge_agreement,
    settle,
    verified_label,
)
from guiagent.agent.runner import RunSpec, start_episode
from guiagent.agent.spec import OraclePolicySpec, ScriptPolicySpec
from guiagent.agent.suites.miniwob import oracle_js, page_reward
from guiagent.agent.trajectory import load_trajectory
from guiagent.policies.judge import JudgeConfig, JudgeError, answer_regex, parse_answer, regex_matches
from guiagent.tools import Check

RULE_PASSED = Verdict(kind=CheckKind.RULE, passed=True, saw="url '/list$' held")
RULE_REFUSED = Verdict(kind=CheckKind.RULE, passed=False, saw="the URL is http://x/login")
JUDGE_YES = Verdict(kind=CheckKind.JUDGE, passed=True, saw="success: it is done", reasons="it is done")
JUDGE_NO = Verdict(kind=CheckKind.JUDGE, passed=False, saw="failure: the list is empty", reasons="the list is empty")
SAID_DONE = Declared(status="success", by="model")

EARLY_DONE = """task: Open the settings page.
start_url: /list
steps:
  - {name: done already, action: terminate, status: success, answer: The settings page is open.}
"""


# -- rules ------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("verified", "outcome"), [
    ([JUDGE_YES], Outcome.SUCCESS),  # no rule: the judge decides
    ([JUDGE_NO], Outcome.FAILURE),
    ([RULE_PASSED, JUDGE_NO], Outcome.SUCCESS),  # beside a rule it is measured, never obeyed
    ([RULE_REFUSED, JUDGE_YES], Outcome.FAILURE),
])
def test_the_judge_decides_only_where_no_rule_or_reward_checked(verified, outcome):
    assert settle(EndedBy.POLICY, SAID_DONE, verified).outcome is outcome
    assert verified_label(verified) == ("passed" if outcome is Outcome.SUCCESS else "refused")


def test_a_judge_refusing_a_declared_success_is_a_false_success_naming_both():
    settled = settle(EndedBy.POLICY, SAID_DONE, [JUDGE_NO])
    assert settled.reason == "false success: the model declared success; the judge saw failure: the list is empty"


def test_the_answer_form_and_its_parsing():
    regex = answer_regex(20)
    assert regex_matches('{"reasons": "the page shows it", "verdict": "success"}', 20)
    assert not regex_matches('{"reasons": "the page shows it", "verdict": "maybe"}', 20)
    assert not regex_matches('{"reasons": "' + "x" * 21 + '", "verdict": "failure"}', 20)
    assert not regex_matches('{"reasons": "say \\"hi\\"", "verdict": "failure"}', 20) and "verdict" in regex
    assert parse_answer('Here: ```json\n{"reasons": "ok", "verdict": "failure"}\n```').verdict == "failure"
    for bad, says in [("no json here", "no JSON object"), ('{"reasons": "x"', "not valid JSON"),
                      ('{"reasons": "x", "verdict": "done"}', "verdict"), ('{"verdict": "success"}', "reasons")]:
        with pytest.raises(JudgeError, match=says):
            parse_answer(bad)


def test_agreement_of_the_judges_success_with_the_reward():
    pairs = [judge_agreement(v) for v in ([RULE_PASSED, JUDGE_YES], [RULE_PASSED, JUDGE_NO], [RULE_REFUSED, JUDGE_YES],
                                          [RULE_REFUSED, JUDGE_NO], [RULE_REFUSED, JUDGE_NO], [JUDGE_YES], [RULE_PASSED])]
    assert pairs[-2:] == [None, None]  # without both there is nothing to agree on
    agreement = Agreement()
    for pair in pairs[:-2]:
        assert pair is not None
        agreement.add(*pair)
    assert (agreement.true_positive, agreement.false_positive, agreement.false_negative, agreement.true_negative) == (1, 1, 1, 2)
    assert agreement.precision == 1 / 2 and agreement.recall == 1 / 2 and Agreement().precision is None


def test_the_judge_is_shown_the_last_step_frames_and_the_final_screen(tmp_path):
    (tmp_path / "frames").mkdir()
    for name in ("000000.png", "000001.png", "000001-ctx000.jpeg", "000002.png", "000002-after.png"):
        (tmp_path / "frames" / name).write_bytes(b"x")
    assert last_frames(tmp_path, "frames/000002-after.png", 3) == ["frames/000001.png", "frames/000002.png",
                                                                 "frames/000002-after.png"]
    assert last_frames(tmp_path, "frames/000002.png", 2) == ["frames/000001.png", "frames/000002.png"]


# -- a scripted judge on the demo site ---------------------------------------------------------------------------

def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "guiagent.agent.cli", *args], capture_output=True, text=True, timeout=300)


@pytest.mark.parametrize("verdict", ["success", "failure"])
def test_a_scripted_judge_decides_a_run_with_no_rule(tmp_path, verdict):
    script = tmp_path / "early.yaml"
    script.write_text(EARLY_DONE)
    out = tmp_path / "run"
    with LoadServer(delay_s=0.0, verdicts=[verdict]) as judge:
        proc = _cli("run", "--script", str(script), "--demo-site", "--out", str(out), "--judge-url", judge.base_url,
                    "--judge-model", DEFAULT_MODEL, "--judge-frames", "2")
    assert proc.returncode == (EXIT_OK if verdict == "success" else EXIT_FAILED), proc.stdout + proc.stderr
    (asked,) = judge.judged
    assert asked["images"] == 2  # the last step's frame and the screen the episode ended on
    assert "Task: Open the settings page." in asked["text"] and "Final answer: The settings page is open." in asked["text"]
    meta = load_trajectory(out).meta
    (seen,) = meta.verified
    assert seen.kind is CheckKind.JUDGE and seen.passed is (verdict == "success") and seen.reasons == "scripted verdict 1"
    assert seen.saw == f"{verdict}: scripted verdict 1" and seen.frame is not None and (out / seen.frame).is_file()
    assert seen.check["model"] == DEFAULT_MODEL and seen.check["shown"][-1] == seen.frame and seen.check["frames"] == 2
    assert meta.extra["spec"]["judge"]["base_url"] == judge.base_url  # in the run spec: a resume keeps it
    if verdict == "success":
        assert meta.outcome is Outcome.SUCCESS
    else:
        assert meta.outcome is Outcome.FAILURE
        assert meta.reason == "false success: the script declared success; the judge saw failure: scripted verdict 1"


def test_a_judge_that_does_not_answer_is_a_check_fault_not_a_failure(tmp_path):
    script = tmp_path / "early.yaml"
    script.write_text(EARLY_DONE)
    with LoadServer(delay_s=0.0, verdicts=["success"]) as gone:
        url = gone.base_url  # a port nothing listens on once it stops
    judge = JudgeConfig(base_url=url, model=DEFAULT_MODEL, max_retries=0)
    result = start_episode(RunSpec(policy=ScriptPolicySpec(script=str(script)), demo_site=True, judge=judge),
                                   tmp_path / "run")
    assert result.status is Outcome.ERROR and result.verified == []
    meta = load_trajectory(tmp_path / "run").meta
    assert meta.fault is not None and meta.fault.kind is FaultKind.CHECK
    assert "the judge could not give a verdict: cannot reach the model server" in meta.fault.message


def test_the_judge_options_are_checked(tmp_path):
    proc = _cli("run", "--script", str(tmp_path / "x.yaml"), "--judge-url", "http://127.0.0.1:9/v1", "--out", str(tmp_path / "r"))
    assert proc.returncode == EXIT_USAGE and "needs both --judge-url" in proc.stderr + proc.stdout


# -- beside MiniWoB's rewards: agreement figures -------------------------------------------------------------

def _agreement_suite(path: Path) -> Path:
    """click-button with the oracle (the page's reward says success) and with an "oracle" that clicks the page's
    top-left corner, where no button is (the page never ends the episode: reward 0, failure), seeds 0-2 each."""
    right = oracle_js("click-button")
    assert right is not None and "b.textContent === q" in right
    reward = page_reward().model_dump()
    task = {"site": "miniwob", "start": {"url": "/miniwob/click-button.html"}, "reward": reward, "max_steps": 2,
            "seeds": [0, 1, 2]}
    path.write_text(json.dumps({"suite": "judged", "tasks": [
        {"id": "right", **task, "oracle": right},
        {"id": "wrong", **task, "oracle": "[{action: 'left_click', coordinate: [3, 3]}]"},
    ]}))
    return path


def test_a_batch_reports_the_judges_agreement_with_the_reward(tmp_path):
    suite = _agreement_suite(tmp_path / "suite.json")
    scripted = ["success", "failure", "success", "success", "failure", "failure"]
    with LoadServer(delay_s=0.0, verdicts=scripted) as judge:
        spec = RunSpec(policy=OraclePolicySpec(), judge=JudgeConfig(base_url=judge.base_url, model=DEFAULT_MODEL,
                       frames=2))
        report = run_from_cli([str(suite)], tmp_path / "out", spec, workers=1, retries=0)
    assert report.all_ran and len(judge.judged) == 6
    rows = sorted(report.rows, key=lambda r: r.finished_at)  # one worker: the episodes ran, and were judged, in turn
    assert [r.key for r in rows] == [f"{t}/seed-{s}" for t in ("right", "wrong") for s in (0, 1, 2)]
    assert [r.outcome for r in rows] == [Outcome.SUCCESS] * 3 + [Outcome.FAILURE] * 3  # the reward decides
    for row, asked in zip(rows, judge.judged, strict=True):
        (seen,) = [v for v in row.verified if v.kind is CheckKind.JUDGE]
        assert seen.passed is (asked["verdict"] == "success") and asked["images"] == 2
        assert "Final answer: (none)" in asked["text"]  # the page ended it: its reward is not shown to the judge
    # by hand: judge success on right/0, right/2 (real successes) and wrong/0 (a failure); right/1 missed
    tp, fp, fn, tn = 2, 1, 1, 2
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["judge_agreement"] == {"episodes": 6, "true_positive": tp, "false_positive": fp, "false_negative": fn,
                                          "true_negative": tn, "precision": tp / (tp + fp), "recall": tp / (tp + fn)}
    assert summary["tasks"]["wrong"]["judge_agreement"]["false_positive"] == 1
    assert summary["tasks"]["right"]["judge_agreement"]["precision"] == 1.0
    assert summary["tasks"]["right"]["judge_agreement"]["recall"] == 2 / 3
    index = (tmp_path / "out" / "index.html").read_text()
    assert "Judge agreement" in index and "precision 0.667" in index and "recall 0.667" in index


# -- the tiny model on the real vLLM server ------------------------------------------------------------------

def test_the_tiny_model_judges_through_the_constrained_form(vllm_server, tmp_path):
    from guiagent.policies.chat_client import ChatClient
    from guiagent.policies.judge import judge_messages, request_body
    from tests.model.server import MODEL_NAME

    config = JudgeConfig(base_url=vllm_server.base_url, model=MODEL_NAME, frames=2, max_pixels=256 * 28 * 28,
                         reasons_chars=40, max_tokens=96)
    script = tmp_path / "early.yaml"
    script.write_text(EARLY_DONE)
    out = tmp_path / "run"
    result = start_episode(RunSpec(policy=ScriptPolicySpec(script=str(script)), demo_site=True, judge=config), out)
    (seen,) = result.verified
    assert seen.kind is CheckKind.JUDGE and seen.reasons and len(seen.reasons) <= 40
    assert seen.saw is not None and seen.saw.startswith("success: " if seen.passed else "failure: ")
    assert result.status is (Outcome.SUCCESS if seen.passed else Outcome.FAILURE)  # no rule: the judge decides
    assert load_trajectory(out).meta.verified == [seen]
    # the raw answer is in the constrained form
    frames = [(out / name).read_bytes() for name in seen.check["shown"]]
    client = ChatClient(config.base_url, config.model, "EMPTY", "X", 60, 10, 0)
    try:
        raw = client.chat(request_body(config, judge_messages("Open the settings page.", None, frames, config.max_pixels)))
    finally:
        client.close()
    assert regex_matches(raw["choices"][0]["message"]["content"], 40), raw


def test_a_rule_and_the_tiny_judge_together(vllm_server, tmp_path):
    from tests.model.server import MODEL_NAME

    config = JudgeConfig(base_url=vllm_server.base_url, model=MODEL_NAME, frames=1, max_pixels=256 * 28 * 28,
                         reasons_chars=20, max_tokens=64)
    script = tmp_path / "early.yaml"
    script.write_text(EARLY_DONE)
    result = start_episode(RunSpec(policy=ScriptPolicySpec(script=str(script)), demo_site=True, judge=config,
                                   success=Check(url="/settings$")),
                           tmp_path / "run")
    assert [v.kind for v in result.verified] == [CheckKind.RULE, CheckKind.JUDGE]
    assert result.status is Outcome.FAILURE  # the rule refused; the judge's word does not change that
    assert len(result.verified[1].check["shown"]) == 1


def test_a_resume_after_the_judge_failed_asks_it_again_and_takes_no_step(tmp_path):
    from guiagent.agent.runner import resume_episode
    from tests.model.server import free_port

    script = tmp_path / "early.yaml"
    script.write_text(EARLY_DONE)
    port = free_port()
    judge = JudgeConfig(base_url=f"http://127.0.0.1:{port}/v1", model=DEFAULT_MODEL, max_retries=0)
    out = tmp_path / "run"
    assert start_episode(RunSpec(policy=ScriptPolicySpec(script=str(script)), demo_site=True, judge=judge),
                                 out).status is Outcome.ERROR
    with LoadServer(delay_s=0.0, verdicts=["success"], port=port) as server:  # the judge is back
        result = resume_episode(out)
    assert result.status is Outcome.SUCCESS and len(server.judged) == 1
    traj = load_trajectory(out)
    assert len(traj.steps) == 1 and traj.meta.fault is None  # the terminate step is not taken again
    assert [v.kind for v in traj.meta.verified] == [CheckKind.JUDGE]

