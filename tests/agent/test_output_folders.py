"""One rule for every command that writes (agent/outputs.py): a new or empty folder, or its own kind to
continue; anything else refused in one sentence, rc 2, nothing written. Every command x every kind of
wrong place (and a link to each), in-process through the real CLI; no Chromium is needed, because every
refusal comes before anything starts."""

from __future__ import annotations

import hashlib
import io
import os
from collections.abc import Callable
from pathlib import Path

import pytest
from PIL import Image
from typer.testing import CliRunner

from guiagent.agent import outputs
from guiagent.agent.batch.engine import LOCK as BATCH_LOCK
from guiagent.agent.batch.results import RESULTS, ResultRow, episode_key, write_final
from guiagent.agent.cli import app
from guiagent.agent.folder import LOCK_FILE
from guiagent.agent.outcome import Outcome
from guiagent.agent.runner import RunSpec, demo_script_path
from guiagent.agent.spec import ScriptPolicySpec
from guiagent.agent.trajectory import META_FILE, StepRecord, TrajectoryMeta, TrajectoryWriter
from guiagent.tools import ActionResult, FrameGeometry


def make_trajectory(root: Path) -> Path:
    """A finished one-step trajectory, written by the real writer (a click on a 64x40 frame)."""
    spec = RunSpec(policy=ScriptPolicySpec(script=str(demo_script_path())), demo_site=True)
    writer = TrajectoryWriter.create(root, TrajectoryMeta(task="click", extra={"spec": spec.model_dump(mode="json")},
                                                          policy={"kind": "script"}, env={"kind": "browser"}))
    png = io.BytesIO()
    Image.new("RGB", (64, 40), (20, 120, 200)).save(png, "PNG")
    frame = writer.write_frame(0, png.getvalue())
    writer.append(StepRecord(index=0, t=1.0, t_start=1.0, t_end=1.2, frame=frame, geometry=FrameGeometry(width=64, height=40),
                             thought="click it", actions=[{"action": "left_click", "coordinate": [10, 20]}],
                             results=[ActionResult.success("")]))
    writer.finish(Outcome.SUCCESS)
    writer.close()
    return root


def invoke(*args: object):
    return CliRunner().invoke(app, [str(a) for a in args])


def tree(path: Path) -> dict[str, str]:
    """Every entry under ``path``'s parent with its content's digest (links as their target)."""
    out = {}
    for p in sorted(path.parent.rglob("*")):
        if p.is_symlink():
            out[str(p)] = "-> " + os.readlink(p)
        elif p.is_file():
            out[str(p)] = hashlib.sha256(p.read_bytes()).hexdigest()
        else:
            out[str(p)] = "dir"
    return out


@pytest.fixture(scope="module")
def sources(tmp_path_factory) -> dict[str, Path]:
    """A trajectory, a batch folder and an export folder, each made by the code that makes them."""
    root = tmp_path_factory.mktemp("sources")
    traj = make_trajectory(root / "traj")
    batch = root / "batch"
    (batch / "episodes").mkdir(parents=True)
    write_final(batch, [], 0, 0.0)
    exported = invoke("export", traj, "-o", root / "export")
    assert exported.exit_code == 0, exported.output
    return {"trajectory": traj, "batch": batch, "export": root / "export"}


# The wrong places: each makes it under ``tmp`` (copying the sources) and returns the path to give.
def _file(tmp: Path, s: dict[str, Path]) -> Path:
    (tmp / "notes.txt").write_text("the user's notes\n")
    return tmp / "notes.txt"


def _under_file(tmp: Path, s: dict[str, Path]) -> Path:
    return _file(tmp, s) / "sub"


def _copy(name: str) -> Callable[[Path, dict[str, Path]], Path]:
    def make(tmp: Path, s: dict[str, Path]) -> Path:
        import shutil

        shutil.copytree(s[name], tmp / name)
        return tmp / name

    return make


def _unrelated(tmp: Path, s: dict[str, Path]) -> Path:
    (tmp / "photos").mkdir()
    (tmp / "photos" / "cat.jpg").write_bytes(b"\xff\xd8 not really")
    return tmp / "photos"


PLACES: dict[str, Callable[[Path, dict[str, Path]], Path]] = {
    "a file": _file, "a path under a file": _under_file, "a trajectory": _copy("trajectory"), "a batch": _copy("batch"),
    "an export": _copy("export"), "an unrelated non-empty folder": _unrelated,
}


def _link(make: Callable[[Path, dict[str, Path]], Path]) -> Callable[[Path, dict[str, Path]], Path]:
    def linked(tmp: Path, s: dict[str, Path]) -> Path:
        target = make(tmp, s)
        (tmp / "link").symlink_to(target)
        return tmp / "link"

    return linked


PLACES.update({f"a link to {name}": _link(make) for name, make in list(PLACES.items())})

# Each command, with the path put where it writes; the kind of place it may continue (PLACES' name).
COMMANDS: dict[str, tuple[Callable[[Path, dict[str, Path]], list[object]], set[str]]] = {
    "run --out": (lambda out, s: ["run", "--script", demo_script_path(), "--demo-site", "--out", out], set()),
    "run --resume": (lambda out, s: ["run", "--resume", out], {"a trajectory"}),
    "demo --out": (lambda out, s: ["demo", "--out", out], set()),
    "replay --out": (lambda out, s: ["replay", s["trajectory"], "--out", out], set()),
    "export -o": (lambda out, s: ["export", s["trajectory"], "-o", out], {"an export"}),
    "batch --out": (lambda out, s: ["batch", "demo", "--tasks", "sign-in", "--out", out], {"a batch"}),
    "view -o": (lambda out, s: ["view", s["trajectory"], "-o", out], set()),
    "view --mp4": (lambda out, s: ["view", s["trajectory"], "--mp4", out], set()),
    "view --gif": (lambda out, s: ["view", s["trajectory"], "--gif", out], set()),
    "script -o": (lambda out, s: ["script", s["trajectory"], "-o", out], set()),
}


@pytest.mark.parametrize("place", list(PLACES))
@pytest.mark.parametrize("command", list(COMMANDS))
def test_a_wrong_place_is_refused_in_one_sentence_and_nothing_is_written(command, place, sources, tmp_path):
    args, own = COMMANDS[command]
    if place.removeprefix("a link to ") in own:
        pytest.skip("its own kind: continued (test_its_own_kind_is_continued)")
    out = PLACES[place](tmp_path, sources)
    before = tree(out)
    result = invoke(*args(out, sources))
    said = result.stderr.strip()
    assert result.exit_code == 2, (result.output, result.exception)
    assert said.startswith("error: ") and "\n" not in said and "Traceback" not in said, said
    assert str(out) in said or str(out.parent) in said, said  # names the place
    assert tree(out) == before  # nothing written, nothing removed
    assert not (sources["trajectory"] / "report.html").exists()


def test_its_own_kind_is_continued(sources, tmp_path):
    """The places a command may write into again: its batch, its export, its report and script."""
    batch = tmp_path / "batch"
    batch.mkdir()
    row = ResultRow(key=episode_key("sign-in", 0), task="sign-in", seed=0, outcome=Outcome.SUCCESS,
                    trajectory="episodes/sign-in/seed-0")
    write_final(batch, [row], 1, 1.0)
    continued = invoke("batch", "demo", "--tasks", "sign-in", "--out", batch)
    assert continued.exit_code == 0 and "1 of 1 episodes succeeded" in continued.output, continued.output

    export = tmp_path / "export"
    for _ in range(2):
        result = invoke("export", sources["trajectory"], "-o", export)
        assert result.exit_code == 0, result.output
    for command in (["view", sources["trajectory"], "-o", tmp_path / "r.html"], ["script", sources["trajectory"], "-o", tmp_path / "s.yaml"]):
        for _ in range(2):
            result = invoke(*command)
            assert result.exit_code == 0, result.output
    resumed = invoke("run", "--resume", sources["trajectory"])  # finished: returned as recorded
    assert resumed.exit_code == 0, resumed.output

    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / LOCK_FILE).write_text("")  # a lock nobody holds: empty
    assert outputs.kind_of(empty) == outputs.Kind.EMPTY
    result = invoke("export", sources["trajectory"], "-o", empty)
    assert result.exit_code == 0, result.output


def test_the_marks_are_the_writers_own_names():
    assert (outputs.META_FILE, outputs.RESULTS_FILE, outputs.BATCH_LOCK, outputs.RUN_LOCK) == (META_FILE, RESULTS, BATCH_LOCK, LOCK_FILE)


def test_a_link_loop_and_a_dangling_link(tmp_path):
    (tmp_path / "a").symlink_to(tmp_path / "b")
    (tmp_path / "b").symlink_to(tmp_path / "a")
    (tmp_path / "nowhere").symlink_to(tmp_path / "missing" / "x")
    for name in ("a", "nowhere"):
        assert outputs.kind_of(tmp_path / name) == outputs.Kind.BROKEN_LINK
        with pytest.raises(outputs.OutputError, match="leads to nothing"):
            outputs.check_folder(tmp_path / name, "--out", "run")
