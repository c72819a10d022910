"""CLI conventions: failed steps shown as failed, --json results, -v logging, no empty folders, doctor."""

from __future__ import annotations

import io
import json
import socket
import subprocess
import sys

import pytest
from rich.console import Console

from guiagent.agent.cli_output import Output
from guiagent.agent.trajectory import CheckRecord, StepRecord, load_trajectory
from guiagent.tools import ActionResult, FrameGeometry
from tests.model.server import ROOT

GUIAGENT = [sys.executable, "-m", "guiagent.agent.cli"]


def guiagent(*args, timeout=180):
    return subprocess.run([*GUIAGENT, *map(str, args)], capture_output=True, text=True, timeout=timeout, cwd=ROOT)


def _closed_port() -> int:
    with socket.socket() as s:  # bound and closed again: nothing listens there
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _printed(record: StepRecord) -> str:
    output = Output()
    printed = io.StringIO()
    output.out = Console(file=printed, width=200, color_system=None)
    output.step(record, 50)
    return printed.getvalue()


def _record(**fields) -> StepRecord:
    return StepRecord(index=0, t=1.0, t_start=1.0, t_end=2.0, frame="frames/000000.png",
                      geometry=FrameGeometry(width=10, height=10), **fields)


def test_a_step_reads_failed_when_anything_in_it_failed() -> None:
    ok = _printed(_record(actions=[{"action": "left_click", "coordinate": [1, 2]}], results=[ActionResult.success()]))
    assert "left_click [1, 2]  ok" in ok
    unparsed = _printed(_record(raw="hm", format_error="no <tool_call> found"))
    assert "unparseable answer  failed" in unparsed and "[red]" not in unparsed and " ok" not in unparsed
    assert "no <tool_call> found" in unparsed
    dead = _printed(_record(error="policy: cannot reach the model server"))
    assert "no action  failed" in dead and "cannot reach the model server" in dead
    check = CheckRecord(check={"text": "Done"}, result=ActionResult.failure("check text 'Done' failed within 1s: no visible element"))
    failed_check = _printed(_record(actions=[{"action": "wait", "time": 0}], results=[ActionResult.success()], checks=[check]))
    assert "wait time=0  failed" in failed_check and "check text 'Done' failed" in failed_check


@pytest.fixture(scope="module")
def dead_server_run(tmp_path_factory):
    """An episode against a model server that is not there: one recorded step, failed."""
    out = tmp_path_factory.mktemp("dead") / "run"
    proc = guiagent("-v", "run", "--policy", "vlm", "--model-url", f"http://127.0.0.1:{_closed_port()}/v1",
                    "--task", "Sign in", "--start-url", "/login", "--demo-site", "--out", out, "--json")
    return proc, out


def test_a_dead_server_shows_the_step_failed_and_json_is_the_only_stdout(dead_server_run) -> None:
    proc, out = dead_server_run
    assert proc.returncode == 1, proc.stderr
    result = json.loads(proc.stdout)  # the whole of stdout is one JSON object
    assert result["status"] == "error" and "cannot reach the model server" in result["reason"]  # not the task: resumable
    assert result["trajectory"] == str(out) and result["steps"] == 1
    assert "step   1/50" in proc.stderr and "failed" in proc.stderr and "  ok" not in proc.stderr
    assert "INFO guiagent" in proc.stderr  # -v logs through logging
    step = load_trajectory(out).steps[0]
    assert step.error is not None and "cannot reach" in step.error and step.frame_after and (out / step.frame_after).exists()


def test_the_run_ends_pointing_to_view(tmp_path) -> None:
    script = tmp_path / "one.yaml"
    script.write_text("task: wait\nstart_url: /login\nsuccess: {url: /login}\nsteps:\n  - {action: terminate, status: success}\n")
    proc = guiagent("run", "--script", script, "--demo-site", "--out", tmp_path / "t")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().splitlines()[-1] == f"report: guiagent view {tmp_path / 't'}"
    quiet = guiagent("--quiet", "run", "--script", script, "--demo-site", "--out", tmp_path / "q")
    assert quiet.returncode == 0 and "step " not in quiet.stdout and "success after 1 steps" in quiet.stdout


def test_view_creates_the_folders_of_its_outputs(dead_server_run, tmp_path) -> None:
    _, out = dead_server_run
    proc = guiagent("view", out, "-o", tmp_path / "a" / "r.html", "--mp4", tmp_path / "sub" / "dir" / "x.mp4")
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "sub" / "dir" / "x.mp4").stat().st_size > 0 and (tmp_path / "a" / "r.html").exists()


def test_a_config_error_leaves_no_folder_and_json_says_why(tmp_path) -> None:
    out = tmp_path / "never"
    proc = guiagent("run", "--task", "x", "--out", out, "--json")
    assert proc.returncode == 2 and not out.exists()
    assert json.loads(proc.stdout) == {"status": "usage-error", "error": "--policy script needs --script FILE"}
    assert "--policy script needs --script FILE" in proc.stderr


def test_doctor_fails_fast_on_a_refused_connection_and_still_shows_how_to_serve() -> None:
    url = f"http://127.0.0.1:{_closed_port()}/v1"
    proc = guiagent("doctor", "--model-url", url)
    assert proc.returncode == 1
    assert f"✗ reachable: cannot reach the model server at {url}" in proc.stdout
    assert "vllm serve Qwen/Qwen2.5-VL-7B-Instruct" in proc.stdout
    report = json.loads(guiagent("doctor", "--model-url", url, "--json").stdout)
    assert report["ok"] is False and report["checks"][0]["name"] == "reachable" and report["serve_lines"]


def test_a_profile_keeps_the_browser_storage_across_runs(pages_url, tmp_path) -> None:
    script = tmp_path / "visit.yaml"
    profile = tmp_path / "profile"
    for n in (1, 2):
        script.write_text(f"task: visit\nstart_url: {pages_url}/visits.html\nsuccess: {{text: 'visit {n}', timeout: 3}}\n"
                          "steps:\n  - {action: terminate, status: success}\n")
        proc = guiagent("run", "--script", script, "--profile", profile, "--out", tmp_path / f"run{n}")
        assert proc.returncode == 0, proc.stdout + proc.stderr
