"""What a newcomer meets first (issue 21): a failure said once, a finished run not resumed, the real step limit."""

from __future__ import annotations

import json

import pytest

from tests.agent.test_cli_conventions import guiagent

FAILING = """task: click, then expect what never comes
start_url: /login
steps:
  - {name: click, action: left_click, coordinate: [640, 220]}
  - {name: expect, action: left_click, coordinate: [640, 220], expect: {text: Never shown, timeout: 1}}
"""


@pytest.fixture(scope="module")
def failed_run(tmp_path_factory):
    """One scripted run whose second step's check fails (the script has 2 steps and a limit of 50)."""
    root = tmp_path_factory.mktemp("failed")
    (root / "fail.yaml").write_text(FAILING)
    proc = guiagent("run", "--script", root / "fail.yaml", "--demo-site", "--out", root / "run")
    return proc, root / "run"


def test_a_failure_reason_is_printed_once(failed_run) -> None:
    proc, _ = failed_run
    assert proc.returncode == 1, proc.stderr
    assert proc.stdout.count("check text 'Never shown' failed") == 1, proc.stdout
    assert "failure after 2 steps" in proc.stdout and "step 2 (expect) failed (printed above)" in proc.stdout


def test_the_step_counter_shows_the_scripts_own_length(failed_run) -> None:
    proc, _ = failed_run
    assert "step   1/3 " in proc.stdout and "/50" not in proc.stdout, proc.stdout  # 2 steps and the closing terminate


def test_resume_on_a_finished_run_says_it_is_finished(failed_run) -> None:
    _, out = failed_run
    before = (out / "steps.jsonl").read_bytes()
    proc = guiagent("run", "--resume", out)
    assert proc.returncode == 1, proc.stderr  # the recorded outcome's code
    assert f"{out} is already finished: failure after 2 steps" in proc.stdout and "nothing to resume" in proc.stdout
    assert "failure after 2 steps in" not in proc.stdout  # no fresh "result in 0.0s"
    as_json = json.loads(guiagent("run", "--resume", out, "--json").stdout)
    assert as_json["already_finished"] is True and as_json["status"] == "failure"
    assert (out / "steps.jsonl").read_bytes() == before


def test_a_dead_model_server_under_a_describe_target_is_an_error_not_a_failure(tmp_path) -> None:
    from tests.agent.test_cli_conventions import _closed_port

    script = tmp_path / "describe.yaml"
    script.write_text("task: sign in\nstart_url: /login\nsteps:\n"
                      "  - {name: field, action: left_click, target: {describe: the user name field}}\n")
    out = tmp_path / "run"
    proc = guiagent("run", "--script", script, "--demo-site", "--model-url", f"http://127.0.0.1:{_closed_port()}/v1",
                    "--out", out, "--json")
    result = json.loads(proc.stdout)
    assert proc.returncode == 1 and result["status"] == "error", proc.stdout + proc.stderr  # the server, not the task
    assert "cannot reach the model server" in result["reason"]
    meta = json.loads((out / "meta.json").read_text())
    assert meta["fault"]["kind"] == "model-server"
