"""Time per step of a script whose points come from the action cache vs the same script in plain pixels.

The bundled demo task runs as written (coordinates) and as a ``describe`` script replayed from its action
cache (no model call: each described point is checked against its signature, i.e. the element under it,
its DOM path and text, and perceptual hashes of the region and the element, then clicked). The cache is
filled by a first run whose grounder is a stand-in for the model (it answers the demo's own points), so
no model server is needed. Runs alternate; a run's figure is its mean step time (wall clock,
step start to step start), and the median over runs is printed. Target: cached <= 1.2x pixels.

    .venv/bin/python bench/script_cache.py [--runs 3]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path
from types import SimpleNamespace

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from guiagent.agent.loop import LoopConfig  # noqa: E402
from guiagent.agent.runner import RunSpec, demo_script_path, start_episode  # noqa: E402
from guiagent.agent.spec import ScriptPolicySpec
from guiagent.agent.trajectory import load_trajectory  # noqa: E402
from guiagent.policies.action_cache import ActionCache  # noqa: E402
from guiagent.policies.grounding import Grounding  # noqa: E402
from guiagent.policies.script import ScriptPolicy, load_script  # noqa: E402
from guiagent.tools.targets import TARGET_KEYS  # noqa: E402


class DemoPoints:
    """Stands in for the model while the cache is filled: answers each description with the demo's point."""

    config = SimpleNamespace(model="demo-points")

    def __init__(self, points: dict[str, tuple[float, float]]) -> None:
        self.points = points

    def ground(self, describe: str, observation) -> Grounding:
        mapping = observation.geometry.for_model()
        point = self.points[describe]
        return Grounding(point=point, model_point=mapping.input_to_model(point), mapping=mapping, raw="", usage={},
                         latency_s=0.0)


def describe_script(folder: Path) -> tuple[Path, dict[str, tuple[float, float]]]:
    """The demo script with a describe target on every point (the step's point kept as its fallback)."""
    data = yaml.safe_load(demo_script_path().read_text())
    points = {}
    for step in data["steps"]:
        for field, key in TARGET_KEYS.items():
            if field in step:
                describe = f"{step['name']} ({field})"
                step[key] = {"describe": describe}
                points[describe] = tuple(step[field])
    path = folder / "describe.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True))
    return path, points


def run(folder: Path, name: str, script: Path, grounder=None) -> list[float]:
    """One episode; the wall time of each step in ms (observe, decide, act, record)."""
    spec = RunSpec(policy=ScriptPolicySpec(script=str(script)), demo_site=True, loop=LoopConfig(max_steps=40))
    built = None
    if grounder is not None or script.name == "describe.yaml":
        policy = ScriptPolicy(load_script(script), source=str(script), grounder=grounder,
                              cache=ActionCache(folder / "describe.cache.json"))
        built = (policy, {"task": policy.script.task, "start_url": policy.script.start_url, "success": policy.script.success})
    result = start_episode(spec, folder / name, built=built)
    if result.status != "success":
        sys.exit(f"{name}: the episode failed: {result.reason}")
    steps = load_trajectory(folder / name).steps
    if grounder is None and script.name == "describe.yaml":
        sources = {t.source for s in steps for t in s.targets}
        assert sources == {"cache"}, f"the cached run should use the cache only, used {sources}"
    pointer = [s.timings_ms["execute"] for s in steps if any(k in s.actions[0] for k in TARGET_KEYS)]
    EXECUTE.setdefault(script.name, []).append(statistics.median(pointer))
    return [(b.t_start - a.t_start) * 1000 for a, b in zip(steps, steps[1:], strict=False)]


EXECUTE: dict[str, list[float]] = {}  # per script, per run: the median act phase (resolve + execute + checks) of pointer steps


def main() -> None:
    assert __doc__ is not None
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        described, points = describe_script(folder)
        run(folder, "fill-cache", described, grounder=lambda: DemoPoints(points))
        pixel_runs, cached_runs = [], []
        for k in range(args.runs):
            pixel_runs.append(statistics.mean(run(folder, f"pixels-{k}", demo_script_path())))
            cached_runs.append(statistics.mean(run(folder, f"cached-{k}", described)))
    pixels, cached = statistics.median(pixel_runs), statistics.median(cached_runs)
    print(f"demo task, {len(points)} described points, {args.runs} runs each (median over runs of the mean step time)")
    print(f"{'pixel script':<24}{pixels:>8.1f} ms/step   runs: {', '.join(f'{v:.1f}' for v in pixel_runs)}")
    print(f"{'cached describe script':<24}{cached:>8.1f} ms/step   runs: {', '.join(f'{v:.1f}' for v in cached_runs)}")
    print(f"cached / pixels: {cached / pixels:.2f}x (target <= 1.2x)")
    act_pixels, act_cached = statistics.median(EXECUTE[demo_script_path().name]), statistics.median(EXECUTE["describe.yaml"][1:])
    print(f"act phase of pointer steps (resolve + execute + checks): pixels {act_pixels:.1f} ms, cached {act_cached:.1f} ms")


if __name__ == "__main__":
    main()
