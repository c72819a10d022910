"""Trajectory tools on a 200-step trajectory of the demo site: replay steps per second (the recorded
waits excluded) and export samples per second for each trainer format.

    .venv/bin/python bench/trajectories.py [--steps 200]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.step_overhead import bench_script  # noqa: E402
from guiagent.agent.export import ExportOptions, build_samples, write_dataset  # noqa: E402
from guiagent.agent.loop import LoopConfig  # noqa: E402
from guiagent.agent.replay import replay_trajectory  # noqa: E402
from guiagent.agent.runner import RunSpec, start_episode  # noqa: E402
from guiagent.agent.spec import ScriptPolicySpec
from guiagent.agent.trajectory import load_trajectory  # noqa: E402


def main() -> None:
    assert __doc__ is not None
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=200)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        script = tmp / "bench.yaml"
        script.write_text(yaml.safe_dump(bench_script(args.steps)))
        source = tmp / "source"
        spec = RunSpec(policy=ScriptPolicySpec(script=str(script)), demo_site=True,
                       loop=LoopConfig(max_steps=args.steps + 5))
        if start_episode(spec, source).status != "success":
            sys.exit("could not record the benchmark trajectory")
        steps = load_trajectory(source).steps
        waits = sum(a.get("time", 0) for s in steps for a in s.actions if a["action"] == "wait")
        t0 = time.perf_counter()
        result, report = replay_trajectory(source, tmp / "replay")
        replay_s = time.perf_counter() - t0
        assert result.status == "success" and not report.divergences, report
        print(f"trajectory: {len(steps)} steps of the demo site, 1280x800")
        print(f"replay (verify + act + record): {len(steps) / (replay_s - waits):.1f} steps/s "
              f"({replay_s:.1f} s, {waits:.1f} s of recorded waits excluded)")
        for fmt in ("llamafactory", "swift", "qwenvl", "trl"):
            t0 = time.perf_counter()
            samples, _ = build_samples([source], ExportOptions())
            write_dataset(samples, tmp / f"export-{fmt}", fmt, ExportOptions())
            seconds = time.perf_counter() - t0
            print(f"export {fmt:<13} {len(samples) / seconds:8.0f} samples/s ({len(samples)} samples, {seconds:.2f} s)")


if __name__ == "__main__":
    main()
