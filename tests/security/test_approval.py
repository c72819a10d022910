"""A person's approval: guarded actions stop the episode (unattended) until ``guiagent approve`` answers."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

from guiagent.agent.loop import LoopConfig, summary_of
from guiagent.agent.runner import RunSpec, resume_episode, start_episode
from guiagent.agent.spec import BrowserEnvSpec, ScriptPolicySpec, VLMPolicySpec
from guiagent.agent.trajectory import StepRecord, load_trajectory
from guiagent.policies.media import VideoConfig
from guiagent.policies.vlm import VLMConfig
from guiagent.tools import Key, Navigate, Type
from guiagent.tools.approval import ApprovalRule
from guiagent.tools.urlpolicy import UrlPolicy
from tests.model.server import MODEL_NAME, ROOT

CLI = [sys.executable, "-m", "guiagent.agent.cli"]
SCRIPT = """
task: Open the list, then the settings.
start_url: "http://127.0.0.1:%d/login"
success: {url: "again=1$"}
steps:
  - {action: navigate, url: "http://127.0.0.1:%d/list"}
  - {action: wait, time: 0.1}
  - {action: navigate, url: "http://127.0.0.1:%d/login?again=1"}
"""


def approval(step: StepRecord) -> dict[str, Any]:
    """The person's answer recorded on a step (which must have one)."""
    assert step.approval is not None
    return step.approval


def test_rules_match_what_they_name() -> None:
    def rule(text: str) -> ApprovalRule:
        return ApprovalRule(rule=text)

    assert rule("navigate").matches(Navigate(url="https://a.com/"))
    assert not rule("navigate").matches(Type(text="x"))
    assert rule("key:ctrl+*").matches(Key(keys=["ctrl", "w"])) and not rule("key:ctrl+*").matches(Key(keys=["a"]))
    assert rule("url:*checkout*").matches(Navigate(url="https://shop.com/checkout/1"))
    assert rule("url:*checkout*").matches(Type(text="4111"), page_url="https://shop.com/Checkout")
    assert rule("text:*@*").matches(Type(text="me@mail.com"))
    for bad in ("navgate", "url:", "foo:bar"):
        try:
            rule(bad)
        except ValueError as exc:
            assert "approval rule" in str(exc)
        else:
            raise AssertionError(f"{bad!r} was accepted")


def test_a_scripted_navigate_waits_then_a_denial_goes_back_and_the_run_goes_on(tmp_path: Path, demo_site) -> None:
    port = demo_site.server_address[1]
    script = tmp_path / "nav.yaml"
    script.write_text(SCRIPT % (port, port, port))
    out = tmp_path / "run"
    spec = RunSpec(policy=ScriptPolicySpec(script=str(script)), approve=[ApprovalRule(rule="navigate")],
                   loop=LoopConfig(max_steps=5))
    first = start_episode(spec, out)
    assert first.status == "awaiting-approval" and first.reason is not None and "step 1: navigate" in first.reason
    traj = load_trajectory(out)
    assert traj.meta.outcome == "awaiting-approval" and traj.steps == []
    denied = resume_episode(out, approval={"approved": False, "note": "not the list"})
    assert denied.status == "awaiting-approval" and denied.reason is not None
    assert "step 3: navigate" in denied.reason  # the wait needed no one
    approved = subprocess.run([*CLI, "approve", str(out)], capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert approved.returncode == 0, approved.stdout + approved.stderr
    steps = load_trajectory(out).steps
    assert approval(steps[0])["approved"] is False and approval(steps[0])["note"] == "not the list"
    assert steps[0].results[0].message == "denied by a person (approval rule navigate): not the list"
    assert steps[0].url_after is None  # nothing ran
    assert approval(steps[2])["approved"] is True and steps[2].url_after is not None
    assert steps[2].url_after.endswith("again=1")
    again = subprocess.run([*CLI, "approve", str(out)], capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert again.returncode == 2 and "is not awaiting approval" in again.stderr


def test_a_model_driven_run_stops_for_approval_and_hears_the_refusal(vllm_server, tmp_path: Path) -> None:
    out = tmp_path / "run"
    vlm = VLMConfig(base_url=vllm_server.base_url, model=MODEL_NAME, constrained=True, constrained_actions=["navigate"],
                    max_tokens=192, temperature=1.0, max_pixels=256 * 28 * 28,
                    video=VideoConfig(fps=1.0, history_seconds=0, token_budget=512))
    spec = RunSpec(env=BrowserEnvSpec(url_policy=UrlPolicy(allow=["127.0.0.1"], private_network=True), start_url="/login"),
                   policy=VLMPolicySpec(vlm=vlm), task="Open the shop.", demo_site=True,
                   loop=LoopConfig(max_steps=2), approve=[ApprovalRule(rule="navigate")],
                   approval_timeout_s=0)  # `approve` (no terminal) stops at the next request at once instead of waiting
    first = start_episode(spec, out)
    assert first.status == "awaiting-approval" and first.reason is not None, first.reason
    assert "step 1: navigate" in first.reason, first.reason
    denied = subprocess.run([*CLI, "approve", str(out), "--deny", "--note", "stay on the site"],
                            capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert denied.returncode == 1, denied.stdout + denied.stderr  # the run went on and stops again, awaiting
    assert "awaiting approval of step 2" in denied.stdout
    approved = subprocess.run([*CLI, "approve", str(out)], capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert "reached the step limit (2)" in approved.stdout, approved.stdout + approved.stderr
    steps = load_trajectory(out).steps
    assert [approval(s)["approved"] for s in steps] == [False, True]
    assert steps[0].results[0].message == "denied by a person (approval rule navigate): stay on the site"
    # approved, the model's navigate still meets the URL policy (the constraint writes no local host)
    assert steps[1].results[0].message.startswith("blocked by policy: http")
    # the model heard the refusal: the past its second decision was given (rebuilt from the record on a
    # resume, as here) holds it as the call's result
    assert summary_of(steps[0]).results == ["denied by a person (approval rule navigate): stay on the site"]


def _read_until(fd: int, marker: bytes, seen: bytearray, times: int = 1, timeout: float = 120) -> None:
    """Read the terminal until ``marker`` has appeared ``times`` times (or fail, showing what came)."""
    import os
    import select
    import time

    deadline = time.monotonic() + timeout
    while seen.count(marker) < times:
        ready, _, _ = select.select([fd], [], [], max(0.0, deadline - time.monotonic()))
        chunk = b""
        if ready:
            try:
                chunk = os.read(fd, 4096)
            except OSError:  # the child closed the terminal
                pass
        if not chunk:
            raise AssertionError(f"no {marker!r} in the output: {seen.decode(errors='replace')}")
        seen += chunk


def test_in_a_terminal_the_person_is_asked_with_the_frame_and_the_action(tmp_path: Path, demo_site) -> None:
    import os

    port = demo_site.server_address[1]
    script = tmp_path / "nav.yaml"
    script.write_text(SCRIPT % (port, port, port))
    out = tmp_path / "run"
    master, slave = os.openpty()
    proc = subprocess.Popen([*CLI, "run", "--script", str(script), "--approve", "navigate", "--out", str(out)],
                            stdin=slave, stdout=slave, stderr=slave, cwd=ROOT, env={**os.environ, "CI": ""})
    os.close(slave)
    seen = bytearray()
    try:
        _read_until(master, b"approve? [y/N]", seen)
        assert f"frame: {out}/frames/000000.png".encode() in seen and b"step 1: navigate url=" in seen
        os.write(master, b"n\n")
        _read_until(master, b"note for the model", seen)
        os.write(master, b"wrong page\n")
        _read_until(master, b"approve? [y/N]", seen, times=2)
        os.write(master, b"y\n")
        assert proc.wait(timeout=120) == 0, seen.decode(errors="replace")
    finally:
        if proc.poll() is None:
            proc.kill()
        os.close(master)
    steps = load_trajectory(out).steps
    assert approval(steps[0])["note"] == "wrong page" and approval(steps[2])["approved"] is True


def _readme_example(cwd: Path) -> list[str]:
    """The README's unattended approval example: its script written into ``cwd``, and its run command."""
    import re
    import shlex

    readme = (ROOT / "README.md").read_text()
    script = re.search(r"<!-- file: sign-in.yaml -->\n```yaml\n(.*?)```", readme, re.DOTALL)
    command = re.search(r"^(\.venv/bin/guiagent run --script sign-in.yaml .*--approve .*--approval-timeout.*?)\s+#", readme,
                        re.MULTILINE)
    assert script and command, "the README's approval example moved"
    (cwd / "sign-in.yaml").write_text(script.group(1))
    argv = shlex.split(command.group(1))
    return [str(ROOT / argv[0]), *argv[1:]]


def _wait_for(path: Path, proc: subprocess.Popen) -> None:
    import time

    deadline = time.monotonic() + 180
    while not path.exists():
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, f"{path} never appeared"
        time.sleep(0.02)


def test_the_readme_example_waits_and_approve_from_another_process_goes_on_on_the_same_page(tmp_path: Path) -> None:
    from guiagent.agent.approval_wait import REQUEST_FILE

    # no terminal: unattended; a longer wait than the README's 30 s, so that a loaded machine cannot make it time out
    run = subprocess.Popen([*_readme_example(tmp_path), "--approval-timeout", "600"], cwd=tmp_path,
                           stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    out = tmp_path / "runs" / "x"
    _wait_for(out / REQUEST_FILE, run)
    waiting = load_trajectory(out)
    assert waiting.meta.outcome == "awaiting-approval" and "waiting up to 600s" in (waiting.meta.reason or "")
    assert (out / REQUEST_FILE).stat().st_mode & 0o077 == 0  # owner only
    approved = subprocess.run([*CLI, "approve", str(out)], capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert approved.returncode == 0, approved.stdout + approved.stderr
    assert "took the answer and goes on" in approved.stdout, approved.stdout
    stdout, stderr = run.communicate(timeout=120)
    assert run.returncode == 0, stdout + stderr
    traj = load_trajectory(out)
    # Return signed in: the user name and password typed before the pause were still in their fields
    assert traj.meta.outcome == "success" and traj.steps[-1].url_after and traj.steps[-1].url_after.endswith("/list")
    assert approval(traj.steps[4])["approved"] is True
    assert len(traj.meta.segments) == 1  # one process, one env: nothing was rebuilt


def test_past_the_timeout_the_run_stops_and_approve_rebuilds_the_page_by_replay(tmp_path: Path) -> None:
    run = subprocess.run([*_readme_example(tmp_path), "--approval-timeout", "0.5"], cwd=tmp_path, stdin=subprocess.DEVNULL,
                         capture_output=True, text=True, timeout=180)
    assert run.returncode == 1, run.stdout + run.stderr
    out = tmp_path / "runs" / "x"
    assert load_trajectory(out).meta.outcome == "awaiting-approval"
    approved = subprocess.run([*CLI, "approve", str(out)], capture_output=True, text=True, timeout=180, cwd=ROOT)
    assert approved.returncode == 0, approved.stdout + approved.stderr
    traj = load_trajectory(out)
    assert traj.meta.outcome == "success" and [s.index for s in traj.steps] == list(range(6))  # 5 steps, then the end
    rebuilt = traj.meta.segments[-1].rebuilt
    assert rebuilt is not None and rebuilt.verified and rebuilt.replayed == 4, rebuilt
