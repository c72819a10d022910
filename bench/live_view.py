"""The live view's cost: CPU per model step of the guiagent process with ``--live`` and one browser watching,
against the same run without a view. Target: within 10%.

Both runs are real ``guiagent run --policy vlm`` processes on the demo site against bench/load_server.py (a valid
left_click after a fixed delay); the watcher is a headless Chromium (Playwright) with the view's page open for
the whole run. The figure is the guiagent process's own user+system CPU (from /proc: its server thread, the
page's event stream and frame requests included; not the browsers') between consecutive printed steps, median
per run (median of the runs), runs interleaved so that load on the machine falls on both alike.

    .venv/bin/python bench/live_view.py [--steps 40] [--delay 0.5] [--rounds 2]
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.load_server import LoadServerProcess  # noqa: E402
from bench.step_cpu import cpu_s, run_args  # noqa: E402


def _watch(url: str, stop: threading.Event, shown: set[str]) -> None:
    """Keep the view's page open until ``stop``; ``shown`` gets each live frame the page showed (its URL)."""
    from playwright.sync_api import sync_playwright

    from guiagent.envs.chromium import find_chromium

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=find_chromium(None), headless=True)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(url)
        while not stop.is_set():
            page.wait_for_timeout(200)
            src = page.get_attribute("#screen", "src") or ""
            if src.startswith("/screen?"):
                shown.add(src)
        browser.close()


def one_run(base_url: str, out: Path, steps: int, live: bool, shown: set[str] | None = None) -> float:
    """CPU ms of the guiagent process per step (the mean from the second step's end to the last's: /proc counts
    in ticks of 10 ms, too coarse for one step), with or without a watched live view."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "COLUMNS": "200"}
    extra = ["--live"] if live else []
    proc = subprocess.Popen(run_args(base_url, out, steps, *extra), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE if live else subprocess.DEVNULL, text=True, env=env)
    stop = threading.Event()
    watcher = None
    if live:
        assert proc.stderr is not None
        for line in proc.stderr:
            if m := re.search(r"live view: (http://\S+)", line):
                watcher = threading.Thread(target=_watch, args=(m.group(1), stop, shown if shown is not None else set()),
                                           daemon=True)
                watcher.start()
                break
    marks: list[float] = []
    for line in proc.stdout:  # type: ignore[union-attr]
        if line.startswith("step "):
            marks.append(cpu_s(proc.pid))
    proc.wait()
    stop.set()
    if watcher is not None:
        watcher.join(30)
    return (marks[-1] - marks[1]) * 1000 / (len(marks) - 2)


def main() -> None:
    assert __doc__ is not None
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--delay", type=float, default=0.5, help="the load server's answer delay, s")
    parser.add_argument("--rounds", type=int, default=2, help="runs of each kind, interleaved")
    args = parser.parse_args()
    plain: list[float] = []  # one mean per run
    live: list[float] = []
    shown: list[int] = []  # live frames the watching page showed, per run
    load = os.getloadavg()[0]
    with LoadServerProcess(delay_s=args.delay) as server, tempfile.TemporaryDirectory() as tmp:
        for r in range(args.rounds):
            plain.append(one_run(server.base_url, Path(tmp) / f"plain{r}", args.steps, live=False))
            frames: set[str] = set()
            live.append(one_run(server.base_url, Path(tmp) / f"live{r}", args.steps, live=True, shown=frames))
            shown.append(len(frames))
    p, lv = statistics.median(plain), statistics.median(live)

    def runs(values: list[float]) -> str:
        return f"runs {', '.join(f'{v:.1f}' for v in values)}; spread {max(values) - min(values):.1f} ms"

    print(f"CPU per model step, guiagent process ({args.rounds} x {args.steps}-step runs each, load server delay "
          f"{args.delay:g} s; load average {load:.1f} before, {os.getloadavg()[0]:.1f} after, on {os.cpu_count()} CPUs):")
    print(f"  without a view: median {p:.1f} ms ({runs(plain)})")
    print(f"  --live, one browser watching: median {lv:.1f} ms ({runs(live)}); live frames the page showed: "
          f"{', '.join(map(str, shown))}")
    print(f"  added: {lv - p:+.1f} ms per step ({(lv / p - 1) * 100:+.0f}%; target within 10%)")


if __name__ == "__main__":
    main()
