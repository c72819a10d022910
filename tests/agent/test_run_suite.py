"""``guiagent run --suite FILE --task ID``: one task of a suite as a single episode, built as a batch builds its
episodes (its start, check or reward, seed, limits and script), and a clear error naming the suite's task ids."""

from __future__ import annotations

from bench.load_server import DEFAULT_MODEL, LoadServer
from guiagent.agent.cli import EXIT_FAILED, EXIT_OK, EXIT_USAGE
from guiagent.agent.outcome import CheckKind, EndedBy
from guiagent.agent.trajectory import load_trajectory
from tests.agent.test_judge import EARLY_DONE, _agreement_suite, _cli


def test_run_suite_task_runs_one_task_with_its_reward_seed_and_limits(tmp_path):
    suite = _agreement_suite(tmp_path / "suite.json")
    out = tmp_path / "one"
    with LoadServer(delay_s=0.0, verdicts=["failure"]) as judge:
        proc = _cli("run", "--suite", str(suite), "--task", "right", "--policy", "oracle", "--seed", "2", "--out", str(out),
                    "--judge-url", judge.base_url, "--judge-model", DEFAULT_MODEL)
    assert proc.returncode == EXIT_OK, proc.stdout + proc.stderr  # the reward decides; the judge is beside it
    meta = load_trajectory(out).meta
    assert [v.kind for v in meta.verified] == [CheckKind.REWARD, CheckKind.JUDGE] and meta.verified[0].check["seed"] == 2
    assert meta.task.startswith("Click on the") and meta.loop["max_steps"] == 2  # the page's words, the task's limit
    spec = meta.extra["spec"]
    assert spec["policy"] == {"kind": "oracle"} and spec["judge"]["model"] == DEFAULT_MODEL
    again = _cli("run", "--suite", str(suite), "--task", "wrong", "--policy", "oracle", "--out", str(tmp_path / "two"))
    assert again.returncode == EXIT_FAILED, again.stdout + again.stderr
    assert load_trajectory(tmp_path / "two").meta.ended_by is EndedBy.STEP_LIMIT


def test_run_suite_task_with_a_script_and_a_check(tmp_path):
    (tmp_path / "early.yaml").write_text(EARLY_DONE)
    (tmp_path / "full.yaml").write_text("""task: Open the settings page.
steps:
  - {name: open settings, action: left_click, coordinate: [190, 24], expect: {url: "/settings$"}}
  - {name: done, action: terminate, status: success}
""")
    suite = tmp_path / "suite.yaml"
    suite.write_text("""suite: outcomes
defaults: {site: demo, max_steps: 5, initial_state: {logged_in: true}, start: {url: /list}}
tasks:
  - {id: true-success, instruction: Open the settings page., success: {url: "/settings$"}, script: full.yaml}
  - {id: false-success, instruction: Open the settings page., success: {url: "/settings$"}, script: early.yaml}
""")
    ok = _cli("run", "--suite", str(suite), "--task", "true-success", "--out", str(tmp_path / "a"))
    assert ok.returncode == EXIT_OK, ok.stdout + ok.stderr
    traj = load_trajectory(tmp_path / "a")
    assert len(traj.steps) == 2 and traj.meta.success_check == {"url": "/settings$", "timeout": 5.0}
    assert traj.meta.start_url is not None and traj.meta.start_url.endswith("/list")  # the task's start, logged in
    bad = _cli("run", "--suite", str(suite), "--task", "false-success", "--out", str(tmp_path / "b"))
    assert bad.returncode == EXIT_FAILED and "false success" in bad.stdout


def test_run_suite_names_the_task_ids_it_has(tmp_path):
    suite = _agreement_suite(tmp_path / "suite.json")
    for args, says in [(["--task", "nope"], "no task 'nope' in suite judged; its tasks: right, wrong"),
                       ([], "--suite needs --task ID, the id of one of its tasks: right, wrong"),
                       (["--task", "right"], "--policy script needs a script for every task"),
                       (["--task", "right", "--policy", "oracle", "--start-url", "/x"], "--suite takes the task's own --start-url")]:
        proc = _cli("run", "--suite", str(suite), *args, "--out", str(tmp_path / "never"))
        assert proc.returncode == EXIT_USAGE and says in proc.stderr + proc.stdout, proc.stderr + proc.stdout
        assert not (tmp_path / "never").exists()
    proc = _cli("run", "--suite", str(tmp_path / "missing.yaml"), "--task", "x", "--out", str(tmp_path / "never"))
    assert proc.returncode == EXIT_USAGE and "no suite" in proc.stderr + proc.stdout
