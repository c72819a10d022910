"""A long batch, watched: RSS, open file descriptors, threads and child processes of the whole tree
(the batch process, its workers, their Playwright drivers and Chromium) sampled as a batch of short VLM
episodes runs on the local pool against the fake model server (bench/load_server.py, answering a move
then terminate: 2-step episodes).

Prints each figure's slope per 100 episodes between the warm-up and the tail (flat: about 0), its first,
last and peak values, zombies (a child defunct for more than 10 s, or at the end), children left, temp files
left in the run's own TMPDIR, and whether every planned episode has its row in results.jsonl; and the load
average it ran at.

    .venv/bin/python bench/soak.py [--episodes 1000] [--workers 4] [--json FILE]

tests/bench/test_soak.py runs it at a few dozen episodes and checks the same properties (not timings).
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
from pathlib import Path
from typing import Any, NamedTuple

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import psutil  # noqa: E402
from rich.console import Console  # noqa: E402

FIGURES = ("rss_mb", "fds", "threads", "children")


class Sample(NamedTuple):
    t: float
    episodes: int
    rss_mb: float
    fds: int
    threads: int
    children: int
    zombies: frozenset[tuple[int, str]]  # (pid, "name, child of parent-name")


class Sampler:
    """Samples this process's tree every ``every_s`` (leaving out ``exclude``d pids and their children)."""

    def __init__(self, count: Any, every_s: float, exclude: set[int]) -> None:
        self.count, self.every_s, self.exclude = count, every_s, exclude
        self.samples: list[Sample] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="soak-sampler", daemon=True)

    def tree(self) -> list[psutil.Process]:
        me = psutil.Process()
        skipped: set[int] = set()
        for pid in self.exclude:
            try:
                skipped |= {pid, *(c.pid for c in psutil.Process(pid).children(recursive=True))}
            except psutil.NoSuchProcess:
                pass
        return [me, *(c for c in me.children(recursive=True) if c.pid not in skipped)]

    def sample(self) -> Sample:
        rss = fds = threads = 0
        zombies = set()
        procs = self.tree()
        for p in procs:
            try:
                if p.status() == psutil.STATUS_ZOMBIE:
                    zombies.add((p.pid, _describe(p)))
                    continue
                with p.oneshot():
                    rss += p.memory_info().rss
                    fds += p.num_fds()
                    threads += p.num_threads()
            except (psutil.NoSuchProcess, psutil.AccessDenied):
                continue
        return Sample(time.time(), self.count(), rss / 2**20, fds, threads, len(procs) - 1, frozenset(zombies))

    def _run(self) -> None:
        while not self._stop.wait(self.every_s):
            self.samples.append(self.sample())

    def __enter__(self) -> Sampler:
        self.samples.append(self.sample())
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def _describe(p: psutil.Process) -> str:
    try:
        parent = p.parent()
        return f"{p.name()}, child of {parent.name() if parent else '?'} ({p.ppid()})"
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return "?"


def slope_per_100(samples: list[Sample], figure: str) -> float | None:
    """The least-squares slope of ``figure`` against episodes finished, per 100 episodes."""
    xs = [s.episodes for s in samples]
    if len(set(xs)) < 2:
        return None
    return statistics.linear_regression(xs, [float(getattr(s, figure)) for s in samples]).slope * 100


ZOMBIE_GRACE_S = 10.0
"""How long a child may stay defunct before it counts: Chromium reaps an exited renderer a few seconds
later (it waits before killing one that lingers), so a sample may see one for a while."""


def zombies_seen(samples: list[Sample]) -> dict[str, float]:
    """Each defunct child seen, with how long it was seen defunct (first to last sample)."""
    first: dict[tuple[int, str], float] = {}
    last: dict[tuple[int, str], float] = {}
    for s in samples:
        for z in s.zombies:
            first.setdefault(z, s.t)
            last[z] = s.t
    return {f"{pid}: {what}": last[(pid, what)] - t for (pid, what), t in first.items()}


def lasting_zombies(samples: list[Sample]) -> list[str]:
    """Children defunct for longer than the grace: never reaped."""
    return sorted(z for z, seconds in zombies_seen(samples).items() if seconds >= ZOMBIE_GRACE_S)


def _multiprocessing_helper(p: psutil.Process) -> bool:
    """The fork server (and its resource tracker): multiprocessing's own, for the process's life."""
    try:
        return any("from multiprocessing." in part for part in p.cmdline())
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return True


def leftovers(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


def soak(episodes: int, workers: int, root: Path, delay_s: float = 0.05, every_s: float = 1.0,
         recycle_after: int = 50, warmup: float = 0.2) -> dict[str, Any]:
    """Run the batch into ``root``/batch and return its figures (see the module's docstring)."""
    from bench.batch import serve_page
    from bench.load_server import LoadServerProcess
    from guiagent.agent.batch.engine import run_batch
    from guiagent.agent.batch.local import LocalPool
    from guiagent.agent.batch.plan import BatchSettings, plan_episodes
    from guiagent.agent.batch.progress import Progress
    from guiagent.agent.batch.results import read_results
    from guiagent.agent.loop import LoopConfig
    from guiagent.agent.runner import RunSpec
    from guiagent.agent.spec import VLMPolicySpec
    from guiagent.agent.suites import Start, Suite, SuiteTask
    from guiagent.policies.media import VideoConfig
    from guiagent.policies.vlm import VLMConfig

    url = serve_page()
    out = root / "batch"
    tasks = [SuiteTask(id=f"soak-{i:05d}", instruction="Look at the page.", start=Start(url=url), max_steps=3)
             for i in range(episodes)]
    suites = [Suite(name="soak", source="soak", tasks=tasks)]
    quiet = open(os.devnull, "w")
    progress = Progress(console=Console(file=quiet, highlight=False))  # counts, prints nowhere
    fds_before = psutil.Process().num_fds()
    t0 = time.perf_counter()
    with LoadServerProcess(delay_s=delay_s, action="move", terminate_after=1) as server:
        assert server.proc is not None
        spec = RunSpec(policy=VLMPolicySpec(vlm=VLMConfig(base_url=server.base_url,
                       video=VideoConfig(history_seconds=0))), loop=LoopConfig(max_steps=3))
        settings = BatchSettings(root=str(out), spec=spec, retries=0, recycle_after=recycle_after)
        counted = lambda: sum(progress.outcomes.values())  # noqa: E731
        with Sampler(counted, every_s, exclude={server.proc.pid}) as sampler:
            report = run_batch(settings, suites, LocalPool(settings, workers), progress)
    end = sampler.sample()  # the pool closed, the server stopped
    wall = time.perf_counter() - t0
    quiet.close()
    samples = [*sampler.samples, end]
    # the steady part: past the warm-up, before the tail where fewer episodes than workers are left
    after = [s for s in sampler.samples if warmup * episodes <= s.episodes <= episodes - workers] or sampler.samples
    rows = read_results(out)
    planned = {key for key, _, _ in plan_episodes(suites)}
    children_left = [p.pid for p in psutil.Process().children(recursive=True) if not _multiprocessing_helper(p)]
    return {
        "episodes": episodes, "workers": workers, "recycle_after": recycle_after, "wall_s": round(wall, 1),
        "episodes_per_s": round(episodes / wall, 2), "samples": len(samples), "warmup_episodes": int(warmup * episodes),
        "slopes_per_100_episodes": {f: slope_per_100(after, f) for f in FIGURES},
        "first": {f: getattr(after[0], f) for f in FIGURES}, "last": {f: getattr(after[-1], f) for f in FIGURES},
        "peak": {f: max(getattr(s, f) for s in samples) for f in FIGURES},
        "zombies": sorted({*lasting_zombies(samples), *(f"{pid}: {what}" for pid, what in end.zombies)}),
        "zombies_reaped_late": len(zombies_seen(samples)),
        "children_left": children_left,
        "rows": len(rows), "rows_missing": sorted(planned - set(rows)),
        "outcomes": report.summary.get("success", 0), "errors": report.summary.get("error", 0),
        "batch_fds_before": fds_before, "batch_fds_after": psutil.Process().num_fds(),
        "load_average": [round(x, 2) for x in os.getloadavg()],
    }


def main() -> None:
    assert __doc__ is not None
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--episodes", type=int, default=1000)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--recycle-after", type=int, default=50, help="a worker is replaced after this many episodes")
    parser.add_argument("--every", type=float, default=1.0, help="seconds between samples")
    parser.add_argument("--json", type=Path, default=None, help="also write the figures here")
    args = parser.parse_args()
    import multiprocessing.util

    multiprocessing.util.get_temp_dir()  # the fork server's socket folder: multiprocessing's, kept out of the count
    with tempfile.TemporaryDirectory(prefix="guiagent-soak-") as tmp:
        # The run's own temp folder: what is left in it at the end was left by the run.
        private = Path(tmp) / "tmp"
        private.mkdir()
        os.environ["TMPDIR"] = str(private)
        tempfile.tempdir = str(private)
        figures = soak(args.episodes, args.workers, Path(tmp), every_s=args.every, recycle_after=args.recycle_after)
        figures["temp_left"] = leftovers(private)
    print(f"soak: {figures['episodes']} episodes of 2 steps, {figures['workers']} workers (recycled after "
          f"{figures['recycle_after']}), fake model server; {figures['wall_s']} s, {figures['episodes_per_s']} episodes/s; "
          f"load average {', '.join(map(str, figures['load_average']))}")
    print(f"after the first {figures['warmup_episodes']} episodes, slope per 100 episodes (first -> last, peak):")
    for f in FIGURES:
        slope = figures["slopes_per_100_episodes"][f]
        print(f"  {f:<9} {'-' if slope is None else f'{slope:+.2f}':>8}   ({figures['first'][f]:.0f} -> "
              f"{figures['last'][f]:.0f}, peak {figures['peak'][f]:.0f})")
    for zombie in figures["zombies"]:
        print(f"zombie: {zombie}")
    print(f"zombies: {len(figures['zombies'])} (defunct past {ZOMBIE_GRACE_S:g} s or at the end; "
          f"{figures['zombies_reaped_late']} seen defunct and reaped within it); children left: {len(figures['children_left'])}; temp files left: "
          f"{len(figures['temp_left'])}; rows: {figures['rows']} of {figures['episodes']} "
          f"({len(figures['rows_missing'])} missing); errors: {figures['errors']}; the batch process's fds "
          f"{figures['batch_fds_before']} -> {figures['batch_fds_after']}")
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2))
    ok = not (figures["zombies"] or figures["children_left"] or figures["temp_left"] or figures["rows_missing"])
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
