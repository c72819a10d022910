"""The guiagent process's own cost: CPU per model step, checkpoint bytes per step, memory, start-up.

Each figure comes from a real ``guiagent run`` process (the CLI, headless Chromium on the demo site)
against bench/load_server.py in a separate process, which answers every request after a fixed delay
with a valid left_click:

- CPU ms per model step: the guiagent process's user+system time (from /proc, not its browser's)
  between consecutive steps in steady state (video on, 30 s of history at 1 fps: steps whose clip is
  already full), median and p90. Target <= 60 ms.
- Checkpoint bytes per step at steps 10/100/300: what checkpoints.sqlite holds per episode step
  (checkpoint and metadata blobs plus pending writes of its four supersteps). Target: constant.
- PSS in MB of the guiagent process and of its whole tree (driver + Chromium), at the end.
- Start-up: wall time of a 1-step ``guiagent run``, when its first step was printed and the guiagent
  process's CPU by then, against plain Playwright launching Chromium, opening the page and writing one
  screenshot. Wall times need an idle machine; CPU seconds hold up under load.

    .venv/bin/python bench/step_cpu.py [--steps 60] [--delay 1.0] [--checkpoint-steps 300] [--skip cpu,checkpoint,startup]
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import percentile  # noqa: E402
from bench.load_server import LoadServerProcess  # noqa: E402

CLK_TCK = os.sysconf("SC_CLK_TCK")
GUIAGENT = [sys.executable, "-m", "guiagent.agent.cli"]


def cpu_s(pid: int) -> float:
    """User + system CPU seconds of one process (all its threads), from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def tree(pid: int) -> list[int]:
    """``pid`` and its descendants."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError):
                continue
            children.setdefault(ppid, []).append(int(entry.name))
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo += children.get(p, [])
    return out


def pss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def run_args(url: str, out: Path, steps: int, *extra: str) -> list[str]:
    return [*GUIAGENT, "run", "--policy", "vlm", "--model-url", url, "--demo-site", "--start-url", "/login",
            "--task", "Sign in as demo / demo.", "--max-steps", str(steps), "--out", str(out), *extra]


def bench_cpu(steps: int, delay: float, history_s: float = 30.0) -> None:
    with LoadServerProcess(delay_s=delay) as server, tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "PYTHONUNBUFFERED": "1", "COLUMNS": "200"}
        proc = subprocess.Popen(run_args(server.base_url, Path(tmp) / "run", steps), stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True, env=env)
        marks: list[tuple[float, float]] = []  # (wall, cpu) as each step is printed
        pss: tuple[float, float] = (0.0, 0.0)
        for line in proc.stdout:  # type: ignore[union-attr]
            if line.startswith("step "):
                marks.append((time.monotonic(), cpu_s(proc.pid)))
                if len(marks) == steps - 1:
                    pss = (pss_mb(proc.pid), sum(pss_mb(p) for p in tree(proc.pid)))
        proc.wait()
    # steady state: the clip holds history_s of frames once the episode is that old
    t_full = marks[0][0] + history_s + 2
    steady = [(b[1] - a[1]) * 1000 for a, b in zip(marks, marks[1:], strict=False) if a[0] >= t_full]
    allsteps = [(b[1] - a[1]) * 1000 for a, b in zip(marks, marks[1:], strict=False)]
    print(f"CPU per model step, guiagent process (video on, {history_s:g} s at 1 fps, load server delay {delay:g} s):")
    if steady:
        print(f"  steady state ({len(steady)} steps): median {statistics.median(steady):.1f} ms, p90 {percentile(steady, 0.9):.1f} ms"
              "  (target <= 60 ms)")
    print(f"  all {len(allsteps)} steps: median {statistics.median(allsteps):.1f} ms; first 10: "
          + " ".join(f"{v:.0f}" for v in allsteps[:10]))
    print(f"  PSS: guiagent {pss[0]:.0f} MB, with driver + Chromium {pss[1]:.0f} MB")


def checkpoint_bytes_per_step(db: Path) -> list[int]:
    """Bytes checkpoints.sqlite holds per episode step (checkpoint and metadata blobs plus pending writes
    of the checkpoints taken at that step), in step order."""
    from langgraph.checkpoint.sqlite import SqliteSaver

    conn = sqlite3.connect(db)
    size = dict(conn.execute(
        "SELECT c.checkpoint_id, length(c.checkpoint) + length(c.metadata) + coalesce("
        "(SELECT sum(length(w.value)) FROM writes w WHERE w.checkpoint_id = c.checkpoint_id), 0) FROM checkpoints c"
    ).fetchall())
    per_step: dict[int, int] = {}
    for saved in SqliteSaver(conn).list(None):
        step = saved.checkpoint["channel_values"].get("step")
        if step is not None:
            assert "configurable" in saved.config
            per_step[step] = per_step.get(step, 0) + size[saved.config["configurable"]["checkpoint_id"]]
    conn.close()
    return [per_step[k] for k in sorted(per_step)]


def bench_checkpoint(steps: int) -> None:
    with LoadServerProcess(delay_s=0.0) as server, tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "run"
        subprocess.run(run_args(server.base_url, out, steps, "--history-seconds", "0", "--sample-fps", "0"),
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
        per_step = checkpoint_bytes_per_step(out / "checkpoints.sqlite")
        size = sum(p.stat().st_size for p in out.glob("checkpoints.sqlite*"))
    marks = [k for k in (10, 100, 300, 1000) if k <= len(per_step)]
    print(f"checkpoint bytes per step ({len(per_step)}-step episode): "
          + ", ".join(f"step {k}: {per_step[k - 1]:,}" for k in marks) + f"; checkpoints.sqlite {size / 1e6:.1f} MB")


def bench_startup(rounds: int = 3) -> None:
    with LoadServerProcess(delay_s=0.0) as server, tempfile.TemporaryDirectory() as tmp:
        walls, firsts, cpus = [], [], []
        for r in range(rounds):
            env = {**os.environ, "PYTHONUNBUFFERED": "1"}
            t0 = time.monotonic()
            proc = subprocess.Popen(run_args(server.base_url, Path(tmp) / f"run{r}", 1), stdout=subprocess.PIPE,
                                    stderr=subprocess.STDOUT, text=True, env=env)
            for line in proc.stdout:  # type: ignore[union-attr]
                if line.startswith("step "):
                    firsts.append(time.monotonic() - t0)
                    cpus.append(cpu_s(proc.pid))
            proc.wait()
            walls.append(time.monotonic() - t0)
        raw = [raw_playwright_s(Path(tmp) / f"raw{r}.png") for r in range(rounds)]
    print(f"start-up: 1-step guiagent run {statistics.median(walls):.2f} s wall (first step printed at "
          f"{statistics.median(firsts):.2f} s, the guiagent process's CPU by then {statistics.median(cpus):.2f} s); "
          f"plain Playwright launch + page + screenshot {statistics.median(raw):.2f} s")


RAW = """
import sys
from playwright.sync_api import sync_playwright
from guiagent.agent.demo.server import DemoServer
from guiagent.envs.chromium import find_chromium
with DemoServer() as site, sync_playwright() as p:
    browser = p.chromium.launch(executable_path=find_chromium())
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    page.goto(site.url + "/login")
    page.screenshot(path=sys.argv[1])
    browser.close()
"""


def raw_playwright_s(png: Path) -> float:
    t0 = time.monotonic()
    subprocess.run([sys.executable, "-c", RAW, str(png)], check=True)
    return time.monotonic() - t0


def main() -> None:
    assert __doc__ is not None
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=60, help="model steps for the CPU figure")
    parser.add_argument("--delay", type=float, default=1.0, help="the load server's answer delay, s")
    parser.add_argument("--checkpoint-steps", type=int, default=300)
    parser.add_argument("--skip", default="", help="comma-separated: cpu, checkpoint, startup")
    args = parser.parse_args()
    skip = set(filter(None, args.skip.split(",")))
    if "startup" not in skip:
        bench_startup()
    if "cpu" not in skip:
        bench_cpu(args.steps, args.delay)
    if "checkpoint" not in skip:
        bench_checkpoint(args.checkpoint_steps)


if __name__ == "__main__":
    main()
