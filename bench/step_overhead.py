"""Per-step cost of the runtime on a scripted browser episode of the demo site.

Runs a >= 50-step script through the real loop (LangGraph + SQLite checkpoints + recorder) on headless
Chromium at 1280x800, then prints the median ms of each phase and the runtime's own overhead per
step (encode + loop/checkpoint + record) as a ratio to the raw screenshot time. Target: <= 1.5x.

    .venv/bin/python bench/step_overhead.py [--steps 60] [--scale 1] [--sample-fps 0]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import print_step_overhead, timed  # noqa: E402
from guiagent.agent.demo.server import DemoServer  # noqa: E402
from guiagent.agent.loop import LoopConfig  # noqa: E402
from guiagent.agent.runner import RunSpec, start_episode  # noqa: E402
from guiagent.agent.spec import BrowserEnvSpec, ScriptPolicySpec
from guiagent.agent.trajectory import load_trajectory  # noqa: E402
from guiagent.envs.browser import BrowserConfig, BrowserEnv  # noqa: E402


def bench_script(steps: int) -> dict:
    body = [
        {"action": "left_click", "coordinate": [640, 220]}, {"action": "type", "text": "demo"},
        {"action": "left_click", "coordinate": [640, 290]}, {"action": "type", "text": "demo"},
        {"action": "left_click", "coordinate": [640, 362], "expect": {"url": "/list$"}},
    ]
    k = 0
    while len(body) < steps - 1:  # add and type list items, scroll, move: a realistic mix
        k += 1
        body += [
            {"action": "left_click", "coordinate": [580, 540]},
            {"action": "type", "text": f"item {k}"},
            {"action": "key", "keys": ["ctrl", "a"]},
            {"action": "mouse_move", "coordinate": [700, 300 + k % 50]},
        ]
    body = body[: steps - 1] + [{"action": "terminate", "status": "success"}]
    return {"task": "benchmark", "start_url": "/login", "steps": body}


def raw_capture_ms(scale: float, n: int = 40) -> list[float]:
    """page.screenshot alone, on the same page and viewport: the yardstick."""
    with DemoServer() as site:
        env = BrowserEnv(BrowserConfig(device_scale_factor=scale))
        env.reset(site.url + "/login")
        page = env.page
        assert page is not None
        times = timed(lambda: page.screenshot(type="png"), n)
        env.close()
    return times


def main() -> None:
    assert __doc__ is not None
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--sample-fps", type=float, default=0.0, help="run the screencast sampler too")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        script = Path(tmp) / "bench.yaml"
        script.write_text(yaml.safe_dump(bench_script(args.steps)))
        spec = RunSpec(env=BrowserEnvSpec(device_scale_factor=args.scale, sample_fps=args.sample_fps),
                       policy=ScriptPolicySpec(script=str(script)), demo_site=True,
                       loop=LoopConfig(max_steps=args.steps + 5))
        result = start_episode(spec, Path(tmp) / "traj")
        if result.status != "success":
            sys.exit(f"benchmark episode failed: {result.reason}")
        steps = load_trajectory(Path(tmp) / "traj").steps

    print_step_overhead(steps, statistics.median(raw_capture_ms(args.scale)), f"scripted browser episode, 1280x800 at scale {args.scale:g}, sampler at {args.sample_fps:g} fps")


if __name__ == "__main__":
    main()
