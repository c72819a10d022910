"""Capture cost: mss (desktop) and Playwright (browser) at 1280x800 and 1920x1080, raw vs PNG vs JPEG,
median and p95; then the desktop step overhead as in step_overhead.py, on the bundled Tk demo app.

    .venv/bin/python bench/capture.py [-n 40] [--steps 60] [--sample-fps 0]
"""

from __future__ import annotations

import argparse
import io
import statistics
import sys
import tempfile
from pathlib import Path

import yaml
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import percentile, print_step_overhead, timed  # noqa: E402
from guiagent.agent.demo.server import DemoServer  # noqa: E402
from guiagent.agent.loop import LoopConfig  # noqa: E402
from guiagent.agent.runner import desktop_demo_spec, start_episode  # noqa: E402
from guiagent.agent.spec import ScriptPolicySpec  # noqa: E402
from guiagent.agent.trajectory import load_trajectory  # noqa: E402
from guiagent.envs.browser import BrowserConfig, BrowserEnv  # noqa: E402
from guiagent.envs.xvfb import Xvfb  # noqa: E402

SIZES = [(1280, 800), (1920, 1080)]


def encode(shot, fmt: str) -> bytes:
    image = Image.frombuffer("RGB", shot.size, shot.rgb, "raw", "RGB", 0, 1)
    buf = io.BytesIO()
    image.save(buf, fmt, **({"compress_level": 1} if fmt == "PNG" else {"quality": 90}))
    return buf.getvalue()


def row(kind: str, size: tuple[int, int], fmt: str, times: list[float]) -> None:
    print(f"{kind:<10}{size[0]}x{size[1]:<7}{fmt:<6}{statistics.median(times):>9.2f}{percentile(times, 0.95):>9.2f}")


def bench_mss(n: int) -> tuple[dict[tuple[int, int], float], dict[tuple[int, int], float]]:
    import mss

    raw: dict[tuple[int, int], float] = {}
    png: dict[tuple[int, int], float] = {}
    for size in SIZES:
        with Xvfb(f"{size[0]}x{size[1]}x24") as x, mss.MSS(display=x.display) as sct:
            monitor = sct.monitors[1]
            times = timed(lambda monitor=monitor: sct.grab(monitor), n)
            raw[size] = statistics.median(times)
            row("mss", size, "raw", times)
            shot = sct.grab(monitor)
            png_times = timed(lambda monitor=monitor: encode(sct.grab(monitor), "PNG"), n)
            png[size] = statistics.median(png_times)
            row("mss", size, "PNG", png_times)
            row("mss", size, "JPEG", timed(lambda monitor=monitor: encode(sct.grab(monitor), "JPEG"), n))
            del shot
    return raw, png


def bench_playwright(n: int) -> None:
    with DemoServer() as site:
        for size in SIZES:
            env = BrowserEnv(BrowserConfig(viewport_width=size[0], viewport_height=size[1]))
            env.reset(site.url + "/login")
            page = env.page
            assert page is not None
            row("browser", size, "PNG", timed(lambda page=page: page.screenshot(type="png"), n))
            row("browser", size, "JPEG", timed(lambda page=page: page.screenshot(type="jpeg", quality=90), n))
            env.close()


def desktop_steps(steps: int, tmp: Path, sample_fps: float = 0.0) -> list:
    body = []
    k = 0
    while len(body) < steps - 1:  # click the field, type, tick and untick, move: a realistic mix
        k += 1
        body += [{"action": "left_click", "coordinate": [300, 116]}, {"action": "type", "text": f"x{k}"},
                 {"action": "left_click", "coordinate": [200, 180]}, {"action": "mouse_move", "coordinate": [700, 300 + k]}]
    body = body[: steps - 1] + [{"action": "terminate", "status": "success"}]
    script = tmp / "desktop-bench.yaml"
    script.write_text(yaml.safe_dump({"task": "benchmark", "steps": body}, allow_unicode=True))
    out = tmp / "traj"
    spec = desktop_demo_spec(out)
    env = spec.env.model_copy(update={"settle_s": 0.02, "sample_fps": sample_fps})
    spec = spec.model_copy(update={"policy": ScriptPolicySpec(script=str(script)), "env": env,
                                   "loop": LoopConfig(max_steps=steps + 5)})
    result = start_episode(spec, out)
    if result.status != "success":
        sys.exit(f"desktop benchmark episode failed: {result.reason}")
    return load_trajectory(out).steps


def main() -> None:
    assert __doc__ is not None
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=40)
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--sample-fps", type=float, default=0.0, help="run the desktop sampler too")
    args = parser.parse_args()
    print(f"{'source':<10}{'size':<12}{'fmt':<6}{'median':>9}{'p95':>9}   (ms)")
    raw, png = bench_mss(args.n)
    bench_playwright(args.n)
    print()
    with tempfile.TemporaryDirectory() as tmp:
        steps = desktop_steps(args.steps, Path(tmp), args.sample_fps)
    ratio = print_step_overhead(steps, raw[(1280, 800)], f"scripted desktop episode (Tk demo, Xvfb 1280x800), sampler at {args.sample_fps:g} fps")
    # An mss grab is raw memory; a screenshot as the browser's raw figure counts it is an encoded image.
    print(f"overhead / (mss grab + PNG encode, {png[(1280, 800)]:.2f} ms): {ratio * raw[(1280, 800)] / png[(1280, 800)]:.2f}x")


if __name__ == "__main__":
    main()
