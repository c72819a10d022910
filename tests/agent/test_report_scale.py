"""The report of a long trajectory costs what its steps cost: linear in them and bounded per step. Work is
counted (function calls while rendering, bytes written, frames read), never timed; bench/report.py
prints the figure (1,000 steps)."""

from __future__ import annotations

import io
import os
import sys
from collections import Counter
from pathlib import Path

import pytest
from PIL import Image

from bench.report import long_trajectory
from guiagent.agent.outcome import Outcome
from guiagent.agent.report import MAX_SHOWN_CHARS, render_html
from guiagent.agent.trajectory import StepRecord, Trajectory, TrajectoryMeta, TrajectoryWriter, load_trajectory
from guiagent.tools import ActionResult, FrameGeometry


def _png(color: tuple[int, int, int]) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (320, 200), color).save(out, "PNG")
    return out.getvalue()


@pytest.fixture(scope="module")
def source(tmp_path_factory) -> Path:
    """Three steps written by the real writer: a click, a drag, a long typed text (with kept frames)."""
    root = tmp_path_factory.mktemp("report") / "source"
    writer = TrajectoryWriter.create(root, TrajectoryMeta(task="a long episode", policy={"kind": "vlm", "model": "m"}))
    g = FrameGeometry(width=320, height=200)
    actions = [[{"action": "left_click", "coordinate": [10, 20]}],
               [{"action": "left_click_drag", "start_coordinate": [5, 5], "coordinate": [300, 150]}],
               [{"action": "type", "text": "x" * 9000}]]
    for i, acts in enumerate(actions):
        frame = writer.write_frame(i, _png((40 * i, 90, 200)))
        ctx = writer.write_frame(100 + i, _png((200, 40 * i, 90)))
        writer.append(StepRecord(index=i, t=10.0 + i, t_start=10.0 + i, t_end=10.5 + i, frame=frame, geometry=g,
                                 thought="t" * 50, raw="r" * 20_000, actions=acts, results=[ActionResult.success("")],
                                 context_frames=[{"frame": ctx, "t": 10.2 + i}]))
    writer.finish(Outcome.FAILURE, "the step limit")
    writer.close()
    return root


def _calls(traj: Trajectory) -> tuple[int, Counter[str], int]:
    """Python and C function calls while rendering, by module, and the page's length."""
    counted: Counter[str] = Counter()

    def profile(frame, event, arg) -> None:  # noqa: ANN001
        if event == "call":
            counted[frame.f_code.co_filename] += 1
        elif event == "c_call":
            counted[getattr(arg, "__module__", None) or "builtins"] += 1

    sys.setprofile(profile)
    try:
        page = render_html(traj)
    finally:
        sys.setprofile(None)
    return sum(counted.values()), counted, len(page)


def test_a_long_report_is_linear_in_its_steps_and_reads_no_frame(source, tmp_path):
    sizes = [60, 120, 240]
    work, lengths = [], []
    for n in sizes:
        traj = load_trajectory(long_trajectory(source, tmp_path / f"long-{n}", n))
        calls, by_module, length = _calls(traj)
        assert not [m for m in by_module if "PIL" in m], "a frame was read"  # frames are linked, not decoded
        work.append(calls)
        lengths.append(length)
    # each step costs the same: the work of 120 more steps is twice that of 60 more
    for measure in (work, lengths):
        first, second = measure[1] - measure[0], measure[2] - measure[1]
        assert abs(second - 2 * first) <= 0.01 * second, measure
    per_step = (work[2] - work[1]) / (sizes[2] - sizes[1])
    assert per_step < 1500, per_step  # and a small, bounded amount per step
    per_step_chars = (lengths[2] - lengths[1]) / (sizes[2] - sizes[1])
    assert per_step_chars < 4 * MAX_SHOWN_CHARS + 4000  # texts cut: 20 KB raw answers, 9 KB typed text


def test_the_report_links_its_frames_from_where_it_is_written(source, tmp_path):
    traj = load_trajectory(source)
    inside = render_html(traj)
    assert "src='frames/000000.png'" in inside and "data:image" not in inside
    elsewhere = render_html(traj, tmp_path / "reports")
    assert f"src='{os.path.relpath(source, tmp_path / 'reports')}/frames/000000.png'" in elsewhere
    assert "more characters in steps.jsonl" in inside  # a 20 KB answer is cut, not shown whole
