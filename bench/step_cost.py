"""The whole machine's CPU per model step: guiagent against a raw script doing the same work, side by side.

    .venv/bin/python bench/step_cost.py [--quick] [--episodes 2,4] [--steps 12] [--delay 1.0] [--only browser,desktop]

guiagent's side is the real ``guiagent batch`` CLI, one worker, VLM policy against bench/load_server.py
(a separate process, not counted: valid left_clicks at seeded random points after ``--delay``), the
``delete-item`` demo task with one seed an episode (so every episode starts on the same page), 12-step
episodes, video on (the 30 s clip at 1 fps, the screencast at 1 fps) or off (``--history-seconds 0``).

The raw side does the same work with plain Playwright in one Python process: the demo site served in
that process, Chromium (the same binary, Playwright's default flags), a fresh context per episode
(1280x800, DPR 1) on the same start page, then per step one PNG screenshot, the same wait as the model's
(``page.wait_for_timeout``, so events are served) and one click at the point the load server answers at
that step (the same seeded sequence, mapped to the screen as guiagent maps it: both sides see the same pages); with video on, a
CDP screencast (JPEG q80, frames acked, one kept per 1/fps tick) like guiagent's.

The desktop: guiagent's desktop suite (``fill-form``, each episode a private Xvfb, window manager, D-Bus and
the Tk demo app) against a raw script that starts Xvfb and the same app per episode, then per step grabs the
screen with mss, encodes a PNG (compress level 1, as the desktop env does), waits (grabbing once in the wait,
JPEG-encoded when the screen changed: the desktop env's 1 fps sampler), and clicks with xdotool.

CPU is exact and whole-tree: each side runs under a subreaper (bench/proctree.py: prctl
PR_SET_CHILD_SUBREAPER, every descendant reaped there, forkserver children included), whose
RUSAGE_CHILDREN is the total; the split by process class reads /proc of the tree every 50 ms and
counts what exited between readings to its class through its parent's cutime/cstime.

Figures: CPU ms per model step per class and in all, at the margin (episodes b against a: start-up
cancels) and over the whole run of b episodes; and guiagent / raw. Wall times are not used.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.load_server import LoadServerProcess  # noqa: E402
from bench.proctree import CLASSES, run_tree  # noqa: E402

GUIAGENT = [sys.executable, "-m", "guiagent.agent.cli"]
BROWSER_TASK, BROWSER_PAGE = "delete-item", "/list"
DESKTOP_TASK = "fill-form"
WIDTH, HEIGHT = 1280, 800
MODEL_H, MODEL_W = 812, 1288  # smart_resize(800, 1280): the screenshot's size as the load server sees it


def click_points(seed: int = 0):
    """The load server's click points, in order (its seeded random points of the model-size image), mapped to the
    screen as guiagent maps them: both sides click the same places in the same order, so they see the same pages."""
    rng = random.Random(seed)
    while True:
        x, y = rng.randrange(MODEL_W), rng.randrange(MODEL_H)
        yield x * WIDTH / MODEL_W, y * HEIGHT / MODEL_H


# -- the raw sides (run as this file's subcommands, inside the subreaper) ----------------------------------


def raw_browser(episodes: int, steps: int, delay: float, fps: float) -> int:
    import math

    from playwright.sync_api import sync_playwright

    from guiagent.agent.demo.server import DemoServer
    from guiagent.envs.chromium import find_chromium

    points = click_points()
    done = 0
    with DemoServer() as site, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=find_chromium())
        for _ in range(episodes):
            context = browser.new_context(viewport={"width": WIDTH, "height": HEIGHT}, device_scale_factor=1)
            page = context.new_page()
            page.goto(site.url + BROWSER_PAGE)
            frames: list[tuple[float, bytes]] = []
            if fps > 0:
                cdp = context.new_cdp_session(page)

                def on_frame(params: dict, cdp=cdp, frames=frames) -> None:
                    cdp.send("Page.screencastFrameAck", {"sessionId": params["sessionId"]})
                    t = params["metadata"].get("timestamp", 0.0)
                    if frames and math.floor(frames[-1][0] * fps) == math.floor(t * fps):
                        frames[-1] = (t, params["data"])
                    else:
                        frames.append((t, params["data"]))

                cdp.on("Page.screencastFrame", on_frame)
                cdp.send("Page.startScreencast", {"format": "jpeg", "quality": 80, "everyNthFrame": 1,
                                                  "maxWidth": WIDTH, "maxHeight": HEIGHT})
            for _ in range(steps):
                page.screenshot(type="png")
                page.wait_for_timeout(delay * 1000)
                page.mouse.click(*next(points))
                done += 1
            context.close()
        browser.close()
    return done


def raw_desktop(episodes: int, steps: int, delay: float) -> int:
    import io

    import mss
    from PIL import Image

    from guiagent.envs.xvfb import Xvfb

    points = click_points()
    done = 0
    for _ in range(episodes):
        with Xvfb(f"{WIDTH}x{HEIGHT}x24") as x, tempfile.TemporaryDirectory() as tmp:
            env = {**os.environ, "DISPLAY": x.display}
            app = subprocess.Popen([sys.executable, "-m", "guiagent.agent.demo.desktop_app", f"{tmp}/state.json"], env=env)
            subprocess.run(["xdotool", "search", "--sync", "--name", "^Desktop demo"], env=env, check=True,
                           stdout=subprocess.DEVNULL)
            last = b""
            with mss.MSS(display=x.display) as sct:
                for _ in range(steps):
                    shot = sct.grab(sct.monitors[0])
                    buf = io.BytesIO()
                    Image.frombytes("RGB", shot.size, shot.bgra, "raw", "BGRX").save(buf, "PNG", compress_level=1)
                    time.sleep(delay / 2)  # video on: one grab a second between steps, kept as JPEG when it changed
                    grab = sct.grab(sct.monitors[0]).raw
                    if grab != last:
                        last = bytes(grab)
                        Image.frombytes("RGB", shot.size, bytes(grab), "raw", "BGRX").save(io.BytesIO(), "JPEG", quality=80)
                    time.sleep(delay / 2)
                    x, y = next(points)
                    subprocess.run(["xdotool", "mousemove", str(round(x)), str(round(y)), "click", "1"], env=env, check=True)
                    done += 1
            app.terminate()
            app.wait()
    return done


# -- running and printing ----------------------------------------------------------------------------------


def guiagent_side(kind: str, delay: float, episodes: int, steps: int, video: bool, tmp: Path) -> tuple[float, dict, int]:
    """guiagent's batch, against a load server of its own (so its seeded click points start again, as the raw side's do)."""
    with LoadServerProcess(delay_s=delay) as server:
        return _guiagent_side(kind, server.base_url, episodes, steps, video, tmp)


def _guiagent_side(kind: str, url: str, episodes: int, steps: int, video: bool, tmp: Path) -> tuple[float, dict, int]:
    out = tmp / f"{kind}-{episodes}-{int(video)}"
    cmd = [*GUIAGENT, "batch", "desktop" if kind == "desktop" else "demo", "--policy", "vlm", "--model-url", url,
           "--workers", "1", "--retries", "0", "--tasks", DESKTOP_TASK if kind == "desktop" else BROWSER_TASK,
           "--seeds", ",".join(str(i) for i in range(episodes)), "--max-steps", str(steps), "--out", str(out),
           "--history-seconds", "30" if video else "0"]
    total, per_class, rc = run_tree(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    rows = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()] if (out / "results.jsonl").exists() else []
    if rc not in (0, 1) or len(rows) != episodes:
        sys.exit(f"guiagent batch ({kind}) failed: exit {rc}, {len(rows)} of {episodes} episodes recorded in {out}")
    return total, per_class, sum(r["steps"] for r in rows)


def raw_side(kind: str, episodes: int, steps: int, delay: float, video: bool, tmp: Path) -> tuple[float, dict, int]:
    count = tmp / f"raw-{kind}-{episodes}-{int(video)}.txt"
    cmd = [sys.executable, __file__, f"raw-{kind}", str(episodes), str(steps), str(delay), "1" if video else "0", str(count)]
    total, per_class, rc = run_tree(cmd)
    if rc != 0:
        sys.exit(f"the raw {kind} script failed: exit {rc}")
    return total, per_class, int(count.read_text())


def show(title: str, ours: list[tuple[float, dict, int]], raw: list[tuple[float, dict, int]], counts: list[int]) -> dict[str, float]:
    """Print per-class CPU ms per step at the margin and whole, and the ratios; returns the ratios."""
    (ga, gb), (ra, rb) = ours, raw
    classes = [c for c in CLASSES if any(abs(s[1][c]) > 0.0005 for s in (*ours, *raw))]

    def margin(a, b, cls=None):
        cpu = (b[0] - a[0]) if cls is None else (b[1][cls] - a[1][cls])
        return 1000 * cpu / max(1, b[2] - a[2])

    def whole(b, cls=None):
        return 1000 * (b[0] if cls is None else b[1][cls]) / max(1, b[2])

    print(f"\n{title}  (load average {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f})")
    print(f"  CPU ms per model step: margin = {counts[1]} episodes against {counts[0]} "
          f"(guiagent {gb[2] - ga[2]} steps, raw {rb[2] - ra[2]}); whole = the {counts[1]}-episode run, start-up included")
    print(f"  {'class':<14}{'guiagent margin':>16}{'raw margin':>12}{'guiagent whole':>16}{'raw whole':>11}")
    for cls in classes:
        print(f"  {cls:<14}{margin(ga, gb, cls):>16.1f}{margin(ra, rb, cls):>12.1f}{whole(gb, cls):>16.1f}{whole(rb, cls):>11.1f}")
    m, w = margin(ga, gb) / margin(ra, rb), whole(gb) / whole(rb)
    print(f"  {'all':<14}{margin(ga, gb):>16.1f}{margin(ra, rb):>12.1f}{whole(gb):>16.1f}{whole(rb):>11.1f}")
    print(f"  guiagent / raw: {m:.2f} at the margin, {w:.2f} whole", flush=True)
    return {"margin": m, "whole": w}


def main() -> None:
    assert __doc__ is not None
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--episodes", default="2,4", help="the two episode counts of the margin")
    parser.add_argument("--steps", type=int, default=12, help="model steps an episode")
    parser.add_argument("--delay", type=float, default=1.0, help="the load server's answer delay (the raw wait), s")
    parser.add_argument("--only", default="browser,desktop", help="comma-separated: browser, desktop")
    parser.add_argument("--video", default="off,on", help="comma-separated: off, on (browser; the desktop runs video on)")
    parser.add_argument("--quick", action="store_true", help="1 against 2 episodes of 6 steps")
    args = parser.parse_args()
    if args.quick:
        args.episodes, args.steps = "1,2", 6
    counts = [int(x) for x in args.episodes.split(",")]
    parts = set(args.only.split(","))
    print(f"step cost: {args.steps}-step episodes, answers after {args.delay:g} s, {os.cpu_count()} CPUs", flush=True)
    with tempfile.TemporaryDirectory(prefix="step-cost-") as root:
        tmp = Path(root)
        runs = [("browser", v == "on") for v in args.video.split(",") if "browser" in parts]
        if "desktop" in parts:
            runs.append(("desktop", True))
        for kind, video in runs:
            ours, raw = [], []
            for n in counts:
                ours.append(guiagent_side(kind, args.delay, n, args.steps, video, tmp))
                raw.append(raw_side(kind, n, args.steps, args.delay, video and kind == "browser", tmp))
            show(f"{kind}, video {'on' if video else 'off'}", ours, raw, counts)


if __name__ == "__main__":
    if len(sys.argv) == 7 and sys.argv[1] in ("raw-browser", "raw-desktop"):
        n, s, d, v = int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4]), sys.argv[5] == "1"
        steps = raw_browser(n, s, d, 1.0 if v else 0.0) if sys.argv[1] == "raw-browser" else raw_desktop(n, s, d)
        Path(sys.argv[6]).write_text(str(steps))
    else:
        main()
