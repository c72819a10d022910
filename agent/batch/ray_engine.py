"""The Ray engine: each episode a Ray task running the same episode function as a local worker.

Resources declared per episode: 1 CPU, memory, and one unit of a custom resource, ``browser`` for a
browser episode, ``display`` for a desktop one (an Xvfb and an app), so a node runs no more of them at
once than it declares: ``ray start --resources '{"browser": 4, "display": 2}'``. Without
``--ray-address`` a local Ray is started with ``browser`` and ``display`` equal to ``--workers``.
A Ray worker process keeps its Chromium between episodes and is replaced after ``recycle_after``
(Ray's ``max_calls``). Trajectories are written to the batch folder, which must be a path every node
sees (a shared filesystem mounted at the same path everywhere); results.jsonl is written by the driver.
"""

from __future__ import annotations

import atexit
import time
from typing import Any

from guiagent.agent.batch.engine import Event
from guiagent.agent.batch.local import lost_row, timed_out_row
from guiagent.agent.batch.plan import BatchError, BatchSettings, EpisodeJob
from guiagent.agent.batch.results import ResultRow

MEMORY = {"browser": 600 * 2**20, "display": 800 * 2**20}
_STATE: Any = None


def ray_episode(job_json: str) -> str:
    """A Ray task: one episode, with the worker process's warm state."""
    global _STATE
    from guiagent.agent.batch.episode import WorkerState, run_episode

    job = EpisodeJob.model_validate_json(job_json)
    if _STATE is None:
        browser = job.settings.browser()
        _STATE = WorkerState(browser.executable_path, browser.headless)
        atexit.register(_STATE.close)
    return run_episode(job, _STATE).model_dump_json()


class RayEngine:
    """The ``Engine`` of ``guiagent batch --engine ray``."""

    def __init__(self, settings: BatchSettings, workers: int, address: str | None) -> None:
        try:
            import ray
        except ImportError:
            raise BatchError("--engine ray needs Ray: pip install 'guiagent[ray]'") from None
        self.ray, self.settings, self.capacity = ray, settings, workers
        self._owns = False
        if not ray.is_initialized():
            if address:
                ray.init(address=address, log_to_driver=False)
            else:
                ray.init(num_cpus=workers, include_dashboard=False, log_to_driver=False,
                         resources={"browser": workers, "display": workers})
            self._owns = True
        have = ray.cluster_resources()
        if not have.get("browser") and not have.get("display"):
            raise BatchError("the Ray cluster declares no 'browser' or 'display' resource: start its nodes with "
                             "ray start --resources '{\"browser\": N, \"display\": M}'")
        self._task = ray.remote(max_calls=settings.recycle_after, max_retries=0)(ray_episode)
        self._pending: dict[Any, tuple[EpisodeJob, float]] = {}

    def submit(self, job: EpisodeJob) -> None:
        kind = "display" if job.task.env == "desktop" else "browser"
        ref = self._task.options(num_cpus=1, memory=MEMORY[kind], resources={kind: 1}).remote(job.model_dump_json())
        self._pending[ref] = (job, time.time())

    def poll(self, timeout: float) -> list[Event]:
        if not self._pending:
            return []
        refs = list(self._pending)
        ready, _ = self.ray.wait(refs, num_returns=len(refs), timeout=timeout)
        events = []
        for ref in ready:
            job, started = self._pending.pop(ref)
            try:
                row = ResultRow.model_validate_json(self.ray.get(ref))
            except Exception as exc:  # noqa: BLE001 - the task or its worker died: an infrastructure fault
                row = lost_row(job, f"the Ray task failed: {type(exc).__name__}: {str(exc).splitlines()[0]}", started)
            events.append(Event(key=job.key, row=row))
        now = time.time()
        for ref, (job, started) in list(self._pending.items()):
            if now - started > self.settings.episode_timeout_s:
                self.ray.cancel(ref, force=True)  # kills the worker process; its Chromium goes with its driver
                del self._pending[ref]
                events.append(Event(key=job.key, row=timed_out_row(job, started, self.settings.episode_timeout_s)))
        return events

    def close(self) -> None:
        for ref in list(self._pending):
            self.ray.cancel(ref, force=True)
        self._pending.clear()
        if self._owns:
            self.ray.shutdown()
