"""The report of a long trajectory: ``render_html`` of 1,000 steps (and 250, 500, to see it linear).

The long trajectory is the demo task's recorded steps (25, on Chromium, with a sampler keeping frames
between steps) repeated to the length asked, each step its own frame file (hard links), so it is what a
1,000-step run leaves on disk. Prints the render's wall time (best of 3) per length, per step, and the
page's size.

    .venv/bin/python bench/report.py [--steps 1000]
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from guiagent.agent.report import render_html  # noqa: E402
from guiagent.agent.trajectory import (  # noqa: E402
    STEPS_FILE,
    TrajectoryWriter,
    frame_name,
    load_trajectory,
)


def long_trajectory(source: Path, out: Path, steps: int) -> Path:
    """A trajectory of ``steps`` steps at ``out``: ``source``'s steps over and over, re-indexed, each with
    its own frame files (hard-linked to the source's)."""
    traj = load_trajectory(source)
    writer = TrajectoryWriter.create(out, traj.meta.model_copy(update={"outcome": "running", "steps": 0}))
    writer.close()
    t0 = traj.steps[0].t_start
    span = traj.steps[-1].t_end - t0 + 1.0
    lines = []
    for i in range(steps):
        step = traj.steps[i % len(traj.steps)]
        shift = (i // len(traj.steps)) * span
        frame = frame_name(i, Path(step.frame).suffix[1:])
        _link(source / step.frame, out / frame)
        context = []
        for k, ctx in enumerate(step.context_frames):
            name = f"frames/ctx-{i:06d}-{k:03d}{Path(ctx['frame']).suffix}"
            _link(source / ctx["frame"], out / name)
            context.append({**ctx, "frame": name, "t": ctx["t"] + shift})
        lines.append(step.model_copy(update={
            "index": i, "frame": frame, "t": step.t + shift, "t_start": step.t_start + shift, "t_end": step.t_end + shift,
            "context_frames": context, "frame_after": None,
        }).model_dump_json())
    (out / STEPS_FILE).write_text("\n".join(lines) + "\n")
    return out


def _link(src: Path, dst: Path) -> None:
    if not src.exists():
        return
    dst.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(src, dst)
    except OSError:
        shutil.copyfile(src, dst)


def record_demo(root: Path) -> Path:
    from guiagent.agent.runner import RunSpec, demo_script_path, start_episode
    from guiagent.agent.spec import BrowserEnvSpec, ScriptPolicySpec

    spec = RunSpec(env=BrowserEnvSpec(sample_fps=2), policy=ScriptPolicySpec(script=str(demo_script_path())),
                   demo_site=True)
    if start_episode(spec, root / "demo").status != "success":
        sys.exit("could not record the demo trajectory")
    return root / "demo"


def main() -> None:
    assert __doc__ is not None
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=1000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        source = record_demo(Path(tmp))
        print(f"source: the demo task, {len(load_trajectory(source).steps)} steps at 1280x800, frames kept at 2 fps between steps")
        print(f"{'steps':>6}{'render s':>10}{'ms/step':>9}{'page KB':>9}{'KB/step':>9}")
        for n in sorted({max(1, args.steps // 4), max(1, args.steps // 2), args.steps}):
            traj = load_trajectory(long_trajectory(source, Path(tmp) / f"long-{n}", n))
            best, page = float("inf"), ""
            for _ in range(3):
                t0 = time.perf_counter()
                page = render_html(traj)
                best = min(best, time.perf_counter() - t0)
            kb = len(page.encode()) / 1024
            print(f"{n:>6}{best:>10.2f}{best * 1000 / n:>9.2f}{kb:>9.0f}{kb / n:>9.1f}", flush=True)


if __name__ == "__main__":
    main()
