"""Rebuild time per replayed step: what resuming the demo costs when its world is rebuilt by replay.

The bundled demo task runs until ``--after`` steps are recorded, then is interrupted (as Ctrl-C does) and
resumed: the resume replays the recorded steps on a fresh Chromium from the start, verifying each against
its recorded frame (agent/rebuild.py), and goes on to success. Printed per run and as medians: the rebuild's
seconds per replayed step, and the same step's time when it was first recorded (step start to end), with
their ratio. Waits in the recording are not repeated (the page settles instead).

    .venv/bin/python bench/rebuild.py [--runs 3] [--after 24]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from guiagent.agent.interrupts import EpisodeInterrupted  # noqa: E402
from guiagent.agent.runner import RunSpec, demo_script_path, resume_episode, start_episode  # noqa: E402
from guiagent.agent.spec import ScriptPolicySpec
from guiagent.agent.trajectory import load_trajectory  # noqa: E402


def one_run(folder: Path, after: int) -> tuple[float, float]:
    """(rebuild seconds per replayed step, recorded seconds per step) for one interrupted-then-resumed demo."""

    def stop(record, max_steps) -> None:
        if record.index + 1 >= after:
            raise KeyboardInterrupt("bench")

    try:
        start_episode(RunSpec(policy=ScriptPolicySpec(script=str(demo_script_path())), demo_site=True), folder,
                              on_step=stop)
    except EpisodeInterrupted:
        pass
    recorded = load_trajectory(folder).steps
    result = resume_episode(folder)
    assert result.status == "success", result.reason
    rebuilt = load_trajectory(folder).meta.segments[-1].rebuilt
    assert rebuilt is not None and rebuilt.verified and rebuilt.replayed == len(recorded), rebuilt
    per_step = rebuilt.seconds / rebuilt.replayed
    original = sum(s.t_end - s.t_start for s in recorded) / len(recorded)
    return per_step, original


def main() -> None:
    parser = argparse.ArgumentParser(description="Rebuild time per replayed step on the demo.")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--after", type=int, default=24, help="Recorded steps before the interrupt (1-24).")
    args = parser.parse_args()
    rebuild, original = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for n in range(args.runs):
            per_step, first = one_run(Path(tmp) / f"run-{n}", args.after)
            rebuild.append(per_step)
            original.append(first)
            print(f"run {n + 1}: {args.after} steps replayed, {per_step * 1000:.0f} ms per step "
                  f"(recorded: {first * 1000:.0f} ms per step)", flush=True)
    r, o = statistics.median(rebuild), statistics.median(original)
    print(f"rebuild: {r * 1000:.0f} ms per replayed step (median of {args.runs}); recorded {o * 1000:.0f} ms per step; "
          f"ratio {r / o:.2f}")


if __name__ == "__main__":
    main()
