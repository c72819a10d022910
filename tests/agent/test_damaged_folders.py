"""Damaged and reused folders through the CLI: each case ends with a clear sentence and an exit code,
no traceback, and the folder either unchanged (hashed before and after) or resumed to success."""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from guiagent.agent.folder import LOCK_FILE
from guiagent.agent.runner import RunSpec, demo_script_path, resume_episode, start_episode
from guiagent.agent.spec import ScriptPolicySpec
from guiagent.agent.trajectory import load_trajectory
from guiagent.policies.script import load_script

ROOT = Path(__file__).resolve().parents[2]
STOP_AT = 12  # steps 14 and 15 (save, open terms) keep their state on the server: a fresh browser goes on from them


class _Stop(BaseException):
    """Ends the process's part in the episode where it stands, as a kill would (no outcome written)."""


@pytest.fixture(scope="module")
def stopped(tmp_path_factory) -> Path:
    """A demo episode stopped right after recording step STOP_AT + 1 (its checkpoints hold steps up to
    STOP_AT; the last, for step STOP_AT + 1, is the one before its record node)."""
    out = tmp_path_factory.mktemp("stopped") / "run"

    def stop(record, max_steps):
        if record.index == STOP_AT + 1:
            raise _Stop

    with pytest.raises(_Stop):
        start_episode(RunSpec(policy=ScriptPolicySpec(script=str(demo_script_path())), demo_site=True), out,
                              on_step=stop)
    assert load_trajectory(out).meta.outcome == "running"
    return out


@pytest.fixture(scope="module")
def finished(stopped, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("finished") / "run"
    shutil.copytree(stopped, out)
    assert resume_episode(out).status == "success"
    return out


def digest(folder: Path) -> dict[str, str]:
    if folder.is_file():
        return {"": hashlib.sha256(folder.read_bytes()).hexdigest()}
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def cut_last_lines(folder: Path, drop_whole: int) -> bytes:
    """Drop the last ``drop_whole`` lines, then cut the new last line in half; returns that line."""
    steps = folder / "steps.jsonl"
    lines = steps.read_bytes().splitlines(keepends=True)
    lines = lines[: len(lines) - drop_whole]
    whole = lines[-1]
    steps.write_bytes(b"".join(lines[:-1]) + whole[: len(whole) // 2])
    return whole


def torn_with_checkpoint(tmp, stopped, finished):
    out = tmp / "run"
    shutil.copytree(stopped, out)
    # the disk lost the tail of steps.jsonl (as after a power cut): step STOP_AT + 2 entirely, step
    # STOP_AT + 1 halfway through; the checkpoint recorded step STOP_AT + 1 whole
    whole = cut_last_lines(out, drop_whole=1)
    return ["run", "--resume", out], out, whole


def garbage_checkpoint(tmp, stopped, finished):
    out = tmp / "run"
    shutil.copytree(stopped, out)
    for extra in ("checkpoints.sqlite-wal", "checkpoints.sqlite-shm"):
        (out / extra).unlink(missing_ok=True)
    (out / "checkpoints.sqlite").write_bytes(b"this is not a database at all\n" * 40)
    return ["run", "--resume", out], out, None


def out_is_a_file(tmp, stopped, finished):
    out = tmp / "a-file"
    out.write_text("the user's notes\n")
    return ["run", "--script", demo_script_path(), "--demo-site", "--out", out], out, None


def out_on_interrupted_folder_without_meta(tmp, stopped, finished):
    out = tmp / "run"
    shutil.copytree(stopped, out)
    (out / "meta.json").unlink()
    return ["run", "--script", demo_script_path(), "--demo-site", "--out", out], out, None


def out_on_frames_and_checkpoint_only(tmp, stopped, finished):
    out = tmp / "run"
    shutil.copytree(stopped, out)
    for name in ("meta.json", "steps.jsonl", "script.yaml", "demo-state.json", LOCK_FILE):
        (out / name).unlink(missing_ok=True)
    return ["run", "--script", demo_script_path(), "--demo-site", "--out", out], out, None


def resume_finished_with_cut_line(tmp, stopped, finished):
    out = tmp / "run"
    shutil.copytree(finished, out)
    cut_last_lines(out, drop_whole=0)
    return ["run", "--resume", out], out, None


def out_on_finished_trajectory(tmp, stopped, finished):
    out = tmp / "run"
    shutil.copytree(finished, out)
    return ["run", "--script", demo_script_path(), "--demo-site", "--out", out], out, None


CASES = {
    # name: (make the folder, expected exit code, words of the one sentence; None: resumed to success)
    "resume, last line cut, the checkpoint proves it": (torn_with_checkpoint, 0, None),
    "resume, garbage checkpoint: from steps.jsonl": (garbage_checkpoint, 0, "checkpoints.sqlite is damaged"),
    "--out names a file": (out_is_a_file, 2, "is a file, not a folder"),
    "--out on an interrupted folder without meta.json": (
        out_on_interrupted_folder_without_meta, 2, "is not empty and holds no trajectory of this run"),
    "--out on frames and a checkpoint, no meta or steps": (
        out_on_frames_and_checkpoint_only, 2, "is not empty and holds no trajectory of this run (checkpoints.sqlite"),
    "resume a finished trajectory whose last line is cut": (
        resume_finished_with_cut_line, 2, "is finished (success) but the last line of its steps.jsonl is cut off"),
    "--out on a finished trajectory": (out_on_finished_trajectory, 2, "already holds a trajectory"),
}


@pytest.mark.parametrize("name", list(CASES))
def test_damaged_or_reused_folder(name, tmp_path, stopped, finished):
    make, code, sentence = CASES[name]
    args, out, whole_line = make(tmp_path, stopped, finished)
    before = digest(out)
    proc = subprocess.run([sys.executable, "-m", "guiagent.agent.cli", *map(str, args)], capture_output=True,
                          text=True, timeout=300, cwd=ROOT)
    said = " ".join((proc.stdout + proc.stderr).split())
    assert proc.returncode == code, said
    assert "Traceback" not in said
    if sentence is not None:
        assert sentence in said
    if code != 0:
        assert proc.stderr.startswith("error: ") and proc.stderr.count("\n") == 1  # one sentence
        assert digest(out) == before  # nothing the user had is changed or lost
        return
    traj = load_trajectory(out)
    assert traj.meta.outcome == "success" and traj.problems == []
    assert [s.label for s in traj.steps] == [s.name for s in load_script(demo_script_path()).steps]
    recorded = load_trajectory(stopped).steps
    assert traj.steps[:STOP_AT + 1] == recorded[:STOP_AT + 1]  # what was recorded stays as it was
    if whole_line is not None:  # completed from the checkpoint, byte for byte
        assert (out / "steps.jsonl").read_bytes().splitlines(keepends=True)[STOP_AT] == whole_line
    first, resumed = traj.meta.segments  # the resumed run is marked, with where it took over
    assert (first.first_step, resumed.after) == (0, "running") and resumed.started_at > first.started_at
    assert resumed.first_step == (STOP_AT + 1 if whole_line is not None else STOP_AT + 2)


def test_a_folder_in_use_by_another_run_is_refused_untouched(tmp_path, stopped):
    out = tmp_path / "run"
    shutil.copytree(stopped, out)
    before = digest(out)
    fd = os.open(out / LOCK_FILE, os.O_RDWR)
    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # this test process is "the other run"
    try:
        proc = subprocess.run([sys.executable, "-m", "guiagent.agent.cli", "run", "--resume", str(out)],
                              capture_output=True, text=True, timeout=120, cwd=ROOT)
    finally:
        os.close(fd)
    assert proc.returncode == 2 and "is in use by another guiagent run" in proc.stderr, proc.stderr
    assert digest(out) == before
