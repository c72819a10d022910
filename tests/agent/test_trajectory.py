import json

import pytest

from guiagent.agent.outcome import Outcome
from guiagent.agent.trajectory import (
    FORMAT_VERSION,
    StepRecord,
    TrajectoryError,
    TrajectoryMeta,
    TrajectoryWriter,
    load_trajectory,
)
from guiagent.tools import ActionResult, FrameGeometry

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32


def record(i: int) -> StepRecord:
    return StepRecord(
        index=i, t=100.0 + i, t_start=100.0 + i, t_end=100.5 + i, frame=f"frames/{i:06d}.png",
        geometry=FrameGeometry(width=1280, height=800), actions=[{"action": "left_click", "coordinate": [1, 2]}],
        results=[ActionResult.success()], timings_ms={"capture": 10.0},
    )


def make(tmp_path, steps: int = 3) -> TrajectoryWriter:
    writer = TrajectoryWriter.create(tmp_path / "t", TrajectoryMeta(task="do it"))
    for i in range(steps):
        writer.write_frame(i, PNG)
        assert writer.append(record(i))
    return writer


def test_steps_are_written_as_they_happen_and_read_back(tmp_path):
    writer = make(tmp_path)
    # flushed per step: readable before the writer is closed
    traj = load_trajectory(tmp_path / "t")
    assert [s.index for s in traj.steps] == [0, 1, 2] and traj.problems == []
    writer.finish(Outcome.SUCCESS)
    traj = load_trajectory(tmp_path / "t")
    assert traj.meta.outcome == "success" and traj.meta.steps == 3 and traj.meta.format_version == FORMAT_VERSION
    assert traj.frame_path(traj.steps[1]).read_bytes() == PNG


def test_appending_a_recorded_step_again_is_a_no_op_and_gaps_are_refused(tmp_path):
    writer = make(tmp_path)
    assert writer.append(record(1)) is False
    with pytest.raises(TrajectoryError, match="gap"):
        writer.append(record(5))
    assert len(load_trajectory(tmp_path / "t").steps) == 3


def test_a_line_cut_short_is_reported_and_moved_aside_on_reopen(tmp_path):
    make(tmp_path).close()
    steps = tmp_path / "t" / "steps.jsonl"
    with open(steps, "a") as f:
        f.write(record(3).model_dump_json()[:40])  # the writer died mid-line
    traj = load_trajectory(tmp_path / "t")
    assert len(traj.steps) == 3
    assert traj.problems == ["steps.jsonl: last line is incomplete (cut off while being written); ignored"]
    writer = TrajectoryWriter.open(tmp_path / "t")
    assert writer.count == 3
    writer.write_frame(3, PNG)
    writer.append(record(3))
    writer.close()
    traj = load_trajectory(tmp_path / "t")
    assert [s.index for s in traj.steps] == [0, 1, 2, 3] and traj.problems == []
    assert (tmp_path / "t" / "steps.jsonl.torn").read_text().startswith('{"index":3')


def test_a_missing_frame_is_reported_not_fatal(tmp_path):
    make(tmp_path).close()
    (tmp_path / "t" / "frames" / "000001.png").unlink()
    traj = load_trajectory(tmp_path / "t")
    assert len(traj.steps) == 3
    assert traj.problems == ["step 2: frame frames/000001.png is missing"]


def test_unreadable_trajectories_say_why(tmp_path):
    with pytest.raises(TrajectoryError, match="no such trajectory folder"):
        load_trajectory(tmp_path / "absent")
    (tmp_path / "empty").mkdir()
    with pytest.raises(TrajectoryError, match=r"not a trajectory \(an empty folder\)"):
        load_trajectory(tmp_path / "empty")
    make(tmp_path).close()
    meta = tmp_path / "t" / "meta.json"
    meta.write_text(json.dumps({**json.loads(meta.read_text()), "format_version": 99}))
    with pytest.raises(TrajectoryError, match="unknown format version 99"):
        load_trajectory(tmp_path / "t")
    meta.write_text("{not json")
    with pytest.raises(TrajectoryError, match="meta.json: unreadable"):
        load_trajectory(tmp_path / "t")


def test_a_corrupt_line_in_the_middle_is_skipped_and_named(tmp_path):
    make(tmp_path).close()
    steps = tmp_path / "t" / "steps.jsonl"
    lines = steps.read_text().splitlines()
    lines[1] = '{"index": "garbage"}'
    steps.write_text("\n".join(lines) + "\n")
    traj = load_trajectory(tmp_path / "t")
    assert "steps.jsonl: line 2 is not a valid step record; ignored" in traj.problems
    assert [s.index for s in traj.steps] == [0]  # line 3 (index 2) would leave a gap after 0
    assert "steps.jsonl: line 3 has step index 2, expected 1; ignored" in traj.problems


def test_create_refuses_to_overwrite(tmp_path):
    make(tmp_path).close()
    with pytest.raises(TrajectoryError, match="already holds a trajectory"):
        TrajectoryWriter.create(tmp_path / "t", TrajectoryMeta(task="again"))
