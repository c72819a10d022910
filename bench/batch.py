"""Batch throughput: the figures of issue 8's Performance section, printed as ratios.

    .venv/bin/python bench/batch.py [--only model,desktop,fixed,miniwob,scripted,ray] [--delay 1.0] [--steps 15]

- model: the model-bound curve. N workers (N = 1, 2, 4, 8, 16) run ``--rounds`` x N VLM episodes of
  ``--steps`` steps each against the load generator (bench/load_server.py, a separate process answering
  after ``--delay`` with a valid call); throughput in model steps/s, and its ratio to N x the single
  worker's (target >= 0.8 at N = 8 on a 2-core machine): over the whole batch (the N workers' start-up,
  Chromium launches included) and in steady state (while every worker has work; see ``steady_rate``).
- desktop: the same model-bound curve on the desktop suite (each episode its own Xvfb and Tk app, a VLM policy
  against the load generator) at N = 1 and 4 (``--desktop-sizes``); target >= 0.8 of linear at N = 4.
- fixed: the fixed cost of an episode in a warm worker: a fresh context in the worker's Chromium, the
  start page, the first observation (target <= 300 ms); and a whole 1-step episode through start_episode.
- miniwob: episodes/s on the MiniWoB suite with the DOM oracle at 1, 2, 4 workers, and each worker's
  PSS (its process tree: Python, Playwright's driver, Chromium; target < 400 MB).
- scripted: the CPU-bound curve, the demo suite's scripted episodes at 1, 2, 4 workers.
- ray: the MiniWoB oracle batch on a local Ray against the local pool, same machine, same workers
  (overhead target <= 10%).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import threading
import time
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import TreeCpu  # noqa: E402
from bench.load_server import LoadServerProcess  # noqa: E402
from guiagent.agent.batch import load_suites  # noqa: E402
from guiagent.agent.batch.engine import run_batch  # noqa: E402
from guiagent.agent.batch.local import LocalPool  # noqa: E402
from guiagent.agent.batch.plan import BatchSettings  # noqa: E402
from guiagent.agent.loop import LoopConfig  # noqa: E402
from guiagent.agent.runner import RunSpec, start_episode  # noqa: E402
from guiagent.agent.spec import BrowserEnvSpec, OraclePolicySpec, ScriptPolicySpec, VLMPolicySpec
from guiagent.agent.suites import Start, Suite, SuiteTask  # noqa: E402
from guiagent.envs.browser import BrowserConfig, BrowserEnv, SharedBrowser  # noqa: E402
from guiagent.policies.media import VideoConfig  # noqa: E402
from guiagent.policies.vlm import VLMConfig  # noqa: E402

PAGE = b"<!doctype html><title>Bench</title><h1>A page</h1><input style='width:300px'><button>Go</button>"
ORACLE_TASKS = "click-test,click-button,click-link,click-dialog,focus-text,enter-text"


class _Page(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_GET(self) -> None:  # noqa: N802
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(PAGE)))
        self.end_headers()
        self.wfile.write(PAGE)


def serve_page() -> str:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Page)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{server.server_address[1]}/"


class SampledPool(LocalPool):
    """The local pool, sampling its workers' PSS at each poll."""

    peak: list[int] = []
    every_s = 2.0  # reading smaps is costly (the kernel walks each process's pages): sample, do not poll
    _last = 0.0

    def poll(self, timeout: float):
        events = super().poll(timeout)
        if time.monotonic() - self._last >= self.every_s:
            self._last = time.monotonic()
            sizes = self.pss()
            if sizes:
                SampledPool.peak.append(max(sizes))
        return events


def batch(suites: list[Suite], spec: RunSpec, workers: int, engine=None, inspect=None) -> tuple[float, dict]:
    with tempfile.TemporaryDirectory(prefix="bench-batch-") as root:
        settings = BatchSettings(root=root, spec=spec, retries=0)
        t0 = time.perf_counter()
        report = run_batch(settings, suites, engine(settings, workers) if engine else SampledPool(settings, workers))
        wall = time.perf_counter() - t0
        if inspect is not None:
            report.summary["inspected"] = inspect(Path(root), workers)
        return wall, report.summary


def steady_rate(root: Path, workers: int) -> float:
    """Steps/s while every worker had work: from the moment the last worker recorded its first step
    to the moment the first worker ran out of episodes (start-up and the tail left out; the fixed cost
    of each later episode stays in)."""
    episodes = [[json.loads(line) for line in path.read_text().splitlines()]
                for path in root.glob("episodes/*/*/steps.jsonl")]
    episodes = [e for e in episodes if e]
    lo = sorted(e[0]["t_start"] for e in episodes)[workers - 1]
    hi = sorted(e[-1]["t_end"] for e in episodes)[-workers]
    return sum(lo <= s["t_end"] <= hi for e in episodes for s in e) / (hi - lo)


def model_curve(delay: float, steps: int, sizes: list[int], rounds: int) -> None:
    url = serve_page()
    print(f"\n== model-bound curve: load generator answering after {delay:g}s, {steps} steps an episode, "
          f"{rounds}N episodes (whole batch with workers' start-up; steady state without it)")
    with LoadServerProcess(delay_s=delay, action="move") as server:
        spec = RunSpec(env=BrowserEnvSpec(sample_fps=1.0), policy=VLMPolicySpec(vlm=VLMConfig(base_url=server.base_url,
                       video=VideoConfig(fps=1.0, history_seconds=30))), loop=LoopConfig(max_steps=steps))
        single = steady_single = None
        print(f"{'N':>4}{'episodes':>10}{'steps/s':>10}{'ratio vs N x single':>22}"
              f"{'steady steps/s':>16}{'steady ratio':>14}{'errors':>8}{'load avg (1 min)':>18}{'CPU s / step':>14}")
        for n in sizes:
            tasks = [SuiteTask(id=f"page-{i}", instruction="Look at the page.", start=Start(url=url), max_steps=steps)
                     for i in range(rounds * n)]
            with TreeCpu() as cpu:  # what the N workers' trees spend: more than the cores can give is CPU-bound
                wall, summary = batch([Suite(name="bench", source="bench", tasks=tasks)], spec, n, inspect=steady_rate)
            rate, steady = summary["steps"] / wall, summary["inspected"]
            single, steady_single = single or rate, steady_single or steady
            print(f"{n:>4}{rounds * n:>10}{rate:>10.2f}{rate / (n * single):>22.2f}"
                  f"{steady:>16.2f}{steady / (n * steady_single):>14.2f}{summary['error']:>8}"
                  f"{os.getloadavg()[0]:>18.2f}{cpu.seconds / max(1, summary['steps']):>14.3f}", flush=True)
        print(f"  (the machine has {os.cpu_count()} CPUs: at N workers the tree needs about N x CPU s / step x single "
              "steps/s of them; past that the curve is CPU-bound, not the runtime's)")


def desktop_curve(delay: float, steps: int, sizes: list[int], rounds: int) -> None:
    """The desktop suite's tasks, repeated to ``rounds`` x N episodes, each ``steps`` model steps long."""
    (suite,) = load_suites(["desktop"])
    print(f"\n== desktop model-bound curve: load generator answering after {delay:g}s, {steps} steps an episode, "
          f"{rounds}N episodes of the desktop suite (a private Xvfb and app each)")
    with LoadServerProcess(delay_s=delay, action="move") as server:
        spec = RunSpec(policy=VLMPolicySpec(vlm=VLMConfig(base_url=server.base_url, video=VideoConfig(fps=1.0,
                       history_seconds=30))), loop=LoopConfig(max_steps=steps))
        single = steady_single = None
        print(f"{'N':>4}{'episodes':>10}{'steps/s':>10}{'ratio vs N x single':>22}"
              f"{'steady steps/s':>16}{'steady ratio':>14}{'errors':>8}{'load avg (1 min)':>18}")
        for n in sizes:
            tasks = [suite.tasks[i % len(suite.tasks)].model_copy(update={"id": f"desktop-{i}", "max_steps": steps})
                     for i in range(rounds * n)]
            wall, summary = batch([suite.model_copy(update={"tasks": tasks})], spec, n, inspect=steady_rate)
            rate, steady = summary["steps"] / wall, summary["inspected"]
            single, steady_single = single or rate, steady_single or steady
            print(f"{n:>4}{rounds * n:>10}{rate:>10.2f}{rate / (n * single):>22.2f}{steady:>16.2f}"
                  f"{steady / (n * steady_single):>14.2f}{summary['error']:>8}{os.getloadavg()[0]:>18.2f}", flush=True)


def fixed_cost(rounds: int = 20) -> None:
    url = serve_page()
    print("\n== fixed cost of an episode in a warm worker")
    with SharedBrowser() as shared:
        times = []
        for i in range(rounds + 1):
            t0 = time.perf_counter()
            env = BrowserEnv(BrowserConfig(), shared=shared)
            env.reset(url)
            env.observe()
            if i:  # the first opens the browser's first context: a warm-up
                times.append((time.perf_counter() - t0) * 1000)
            env.close()
        print(f"new context + start page + first observation: median {statistics.median(times):.0f} ms, "
              f"p90 {sorted(times)[int(0.9 * (len(times) - 1))]:.0f} ms over {rounds} (target <= 300 ms)")
        with tempfile.TemporaryDirectory() as root:
            script = Path(root) / "s.yaml"
            script.write_text("steps: [{action: terminate, status: success}]\n")
            spec = RunSpec(env=BrowserEnvSpec(start_url=url), policy=ScriptPolicySpec(script=str(script)), task="Look.")
            whole = []
            for i in range(rounds // 2 + 1):
                t0 = time.perf_counter()
                start_episode(spec, Path(root) / f"e{i}", shared=shared)
                if i:
                    whole.append((time.perf_counter() - t0) * 1000)
            print(f"a whole 1-step episode (start_episode: trajectory, checkpoint, policy, env): "
                  f"median {statistics.median(whole):.0f} ms")


def miniwob_rates(sizes: list[int], seeds: str) -> None:
    print(f"\n== MiniWoB++ with the DOM oracle ({ORACLE_TASKS}; seeds {seeds})")
    suites = load_suites(["miniwob"], ORACLE_TASKS, seeds)
    print(f"{'workers':>8}{'episodes':>10}{'episodes/s':>12}{'ratio vs N x single':>22}{'success':>9}{'peak PSS MB':>13}{'median PSS MB':>15}")
    single = None
    for n in sizes:
        SampledPool.peak = []
        wall, summary = batch(suites, RunSpec(policy=OraclePolicySpec()), n)
        rate = summary["recorded"] / wall
        single = single or rate
        pss = max(SampledPool.peak) / 2**20 if SampledPool.peak else 0
        median_pss = statistics.median(SampledPool.peak) / 2**20 if SampledPool.peak else 0
        print(f"{n:>8}{summary['recorded']:>10}{rate:>12.2f}{rate / (n * single):>22.2f}{summary['success']:>9}{pss:>13.0f}{median_pss:>15.0f}",
              flush=True)


def scripted_curve(sizes: list[int]) -> None:
    print("\n== CPU-bound: the demo suite's scripted episodes (10 tasks x 2 seeds)")
    suites = load_suites(["demo"], seeds="0,1")
    print(f"{'workers':>8}{'episodes/s':>12}{'steps/s':>10}{'ratio vs N x single':>22}")
    single = None
    for n in sizes:
        wall, summary = batch(suites, RunSpec(policy=ScriptPolicySpec()), n)
        rate = summary["recorded"] / wall
        single = single or rate
        print(f"{n:>8}{rate:>12.2f}{summary['steps'] / wall:>10.2f}{rate / (n * single):>22.2f}", flush=True)


def steady_episode_rate(root: Path, workers: int) -> float:
    """Episodes/s while every worker had work: from the moment the last worker began its first episode
    to the moment the first worker ran out (start-up and the tail left out)."""
    metas = [json.loads(p.read_text()) for p in root.glob("episodes/*/*/meta.json")]
    starts = sorted(m["started_at"] for m in metas)
    ends = sorted(m["ended_at"] for m in metas if m.get("ended_at"))
    lo, hi = starts[workers - 1], ends[-workers]
    return sum(lo <= t <= hi for t in ends) / (hi - lo)


def ray_overhead(workers: int, seeds: str) -> None:
    import ray

    from guiagent.agent.batch.ray_engine import RayEngine

    print(f"\n== Ray vs the local pool: MiniWoB oracle batch, {workers} workers, both warm (steady state), "
          "and the CPU of every process of the run (workers, drivers, Chromium, Ray's daemons)")
    suites = load_suites(["miniwob"], ORACLE_TASKS, seeds)
    with TreeCpu() as cpu:
        local_wall, summary = batch(suites, RunSpec(policy=OraclePolicySpec()), workers, inspect=steady_episode_rate)
    local, local_cpu, episodes = summary["inspected"], cpu.seconds, summary["recorded"]
    ray.init(num_cpus=workers, include_dashboard=False, log_to_driver=False, resources={"browser": workers})
    try:
        batch(load_suites(["miniwob"], "click-test", ",".join(str(i) for i in range(workers))), RunSpec(policy=OraclePolicySpec()),
              workers, engine=lambda s, n: RayEngine(s, n, None))  # Ray's workers up, with their Chromium
        with TreeCpu() as cpu:
            remote_wall, summary = batch(suites, RunSpec(policy=OraclePolicySpec()), workers,
                                         engine=lambda s, n: RayEngine(s, n, None), inspect=steady_episode_rate)
        remote, remote_cpu = summary["inspected"], cpu.seconds
    finally:
        ray.shutdown()
    print(f"{'engine':<12}{'episodes':>10}{'wall s':>8}{'steady episodes/s':>19}{'CPU s / episode':>17}")
    print(f"{'local pool':<12}{episodes:>10}{local_wall:>8.1f}{local:>19.2f}{local_cpu / episodes:>17.2f}")
    print(f"{'Ray':<12}{summary['recorded']:>10}{remote_wall:>8.1f}{remote:>19.2f}{remote_cpu / summary['recorded']:>17.2f}")
    print(f"Ray overhead: steady throughput {local / remote - 1:+.0%}, CPU per episode {remote_cpu / local_cpu - 1:+.0%} "
          "(target <= +10%; the local pool's wall time includes its workers' start-up, Ray's workers were warm)")


def main() -> None:
    assert __doc__ is not None
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default="model,desktop,fixed,miniwob,scripted,ray")
    parser.add_argument("--delay", type=float, default=1.0)
    parser.add_argument("--steps", type=int, default=15)
    parser.add_argument("--sizes", default="1,2,4,8,16", help="worker counts of the model-bound curve")
    parser.add_argument("--rounds", type=int, default=3, help="episodes per worker in the model-bound curve")
    parser.add_argument("--desktop-sizes", default="1,4", help="worker counts of the desktop model-bound curve")
    parser.add_argument("--seeds", default="0,1,2", help="MiniWoB seeds per task")
    args = parser.parse_args()
    parts = set(args.only.split(","))
    if "fixed" in parts:
        fixed_cost()
    if "miniwob" in parts:
        miniwob_rates([1, 2, 4], args.seeds)
    if "scripted" in parts:
        scripted_curve([1, 2, 4])
    if "ray" in parts:
        ray_overhead(2, args.seeds)
    if "model" in parts:
        model_curve(args.delay, args.steps, [int(x) for x in args.sizes.split(",")], args.rounds)
    if "desktop" in parts:
        desktop_curve(args.delay, args.steps, [int(x) for x in args.desktop_sizes.split(",")], args.rounds)


if __name__ == "__main__":
    main()
