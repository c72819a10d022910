"""Shared by the benchmarks: per-phase step figures from a recorded trajectory."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

from guiagent.agent.trajectory import StepRecord

PHASES = ["capture", "encode", "decide", "execute", "context", "record"]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def timed(fn: Callable[[], object], n: int) -> list[float]:
    fn()  # warm up
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1000)
    return times


def print_step_overhead(steps: list[StepRecord], raw_capture_ms: float, label: str) -> float:
    """Print median/p90 per phase and the runtime's overhead (encode + context + loop/checkpoint + record) as a
    ratio to the raw capture time; returns the ratio."""
    per_phase = {p: [s.timings_ms.get(p, 0.0) for s in steps] for p in PHASES}
    # loop and checkpoint: the rest of each step's wall time (LangGraph, 4 SQLite checkpoints, bookkeeping)
    per_phase["loop+checkpoint"] = [
        (b.t_start - a.t_start) * 1000 - sum(a.timings_ms.get(p, 0.0) for p in PHASES) for a, b in zip(steps, steps[1:], strict=False)
    ]
    print(f"{label}: {len(steps)} steps")
    print(f"{'phase':<18}{'median ms':>10}{'p90 ms':>10}")
    for name, values in per_phase.items():
        print(f"{name:<18}{statistics.median(values):>10.2f}{percentile(values, 0.9):>10.2f}")
    print(f"{'raw capture':<18}{raw_capture_ms:>10.2f}")
    med = {k: statistics.median(v) for k, v in per_phase.items()}
    overhead = med["encode"] + med["context"] + med["loop+checkpoint"] + med["record"]
    ratio = overhead / raw_capture_ms
    print(f"runtime overhead per step (encode + context + loop/checkpoint + record): {overhead:.2f} ms")
    print(f"overhead / raw capture: {ratio:.2f}x (target <= 1.5x)")
    return ratio


class TreeCpu:
    """CPU seconds used by this process's descendants (workers, drivers, Chromium, Ray's daemons) while
    it runs: a thread reads /proc every ``every_s`` and keeps each process's last figure, so a process
    that exits between two reads loses at most one interval. CPU holds up on a loaded machine, where
    wall times do not."""

    def __init__(self, every_s: float = 0.2) -> None:
        import threading

        import psutil

        self._psutil, self.every_s = psutil, every_s
        self._seen: dict[int, float] = {}
        self._base: dict[int, float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _sample(self) -> None:
        for proc in self._psutil.Process().children(recursive=True):
            try:
                t = proc.cpu_times()
            except (self._psutil.NoSuchProcess, self._psutil.AccessDenied):
                continue
            self._seen[proc.pid] = t.user + t.system

    def _run(self) -> None:
        while not self._stop.wait(self.every_s):
            self._sample()

    def __enter__(self) -> TreeCpu:
        self._sample()
        self._base = dict(self._seen)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self._sample()

    @property
    def seconds(self) -> float:
        return sum(t - self._base.get(pid, 0.0) for pid, t in self._seen.items())
