"""The local engine: long-lived worker processes, each running episodes one after another.

Workers fork from a server that has imported the runtime (see ``worker_context``). A worker keeps its Chromium (and the MiniWoB pages' server) between episodes, so an episode pays for a
fresh browser context, not a browser. Workers are replaced after ``recycle_after`` episodes and when
they die; an episode past its wall-clock limit has its worker's whole process tree killed. Workers die
with the batch process (PR_SET_PDEATHSIG), so a killed batch leaves nothing running.
"""

from __future__ import annotations

import multiprocessing
import signal
import time
from multiprocessing.connection import Connection, wait
from pathlib import Path
from typing import Any

from guiagent.agent.batch.engine import Event
from guiagent.agent.batch.plan import BatchSettings, EpisodeJob, row_from_trajectory
from guiagent.agent.batch.procs import kill_tree, tree_pss
from guiagent.agent.batch.results import ResultRow, episode_key
from guiagent.agent.outcome import EndedBy, Outcome
from guiagent.agent.trajectory import META_FILE, TrajectoryMeta
from guiagent.envs.lifetime import die_with_parent
from guiagent.tools.files import write_atomic


def worker_main(conn: Connection, settings_json: str) -> None:
    """A worker process: run the episodes it is sent until told to stop or recycled."""
    die_with_parent(signal.SIGKILL)  # a killed batch leaves no worker running on its episodes
    from guiagent.agent.batch.episode import WorkerState, run_episode

    settings = BatchSettings.model_validate_json(settings_json)
    browser = settings.browser()
    state = WorkerState(browser.executable_path, browser.headless)
    try:
        while state.episodes < settings.recycle_after:
            message = conn.recv()
            if message is None:
                break
            job = EpisodeJob.model_validate_json(message)
            conn.send(("begin", job.key, None))  # the episode's clock starts now, not while this worker started
            row = run_episode(job, state, on_step=lambda key, n: conn.send(("step", key, n)))
            conn.send(("row", row.key, row.model_dump_json()))
    except (EOFError, BrokenPipeError, KeyboardInterrupt):
        pass
    finally:
        state.close()


class _Slot:
    def __init__(self, ctx: Any, settings_json: str) -> None:
        self.conn, child = ctx.Pipe()
        self.process = ctx.Process(target=worker_main, args=(child, settings_json), daemon=True)
        self.process.start()
        child.close()
        self.job: EpisodeJob | None = None
        self.started = 0.0
        self.episodes = 0
        self.retiring = False


def worker_context() -> Any:
    """Workers fork from a server that imported the runtime once (guiagent.agent.batch.preload): no
    Playwright or thread state is inherited, and no worker pays for the imports. Where there is no
    fork server (not POSIX), workers are spawned."""
    if "forkserver" not in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("spawn")
    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload(["guiagent.agent.batch.preload"])
    return ctx


class LocalPool:
    """The ``Engine`` of ``guiagent batch --engine local``."""

    def __init__(self, settings: BatchSettings, workers: int) -> None:
        self.settings, self.capacity = settings, workers
        self._ctx = worker_context()
        self._json = settings.model_dump_json()
        self._slots: list[_Slot] = []

    def submit(self, job: EpisodeJob) -> None:
        slot = next((s for s in self._slots if s.job is None and not s.retiring and s.process.is_alive()), None)
        if slot is None:
            slot = _Slot(self._ctx, self._json)
            self._slots.append(slot)
        slot.job, slot.started = job, time.time()
        slot.conn.send(job.model_dump_json())

    def poll(self, timeout: float) -> list[Event]:
        events: list[Event] = []
        busy = [s for s in self._slots if s.job is not None]
        ready = wait([s.conn for s in busy] + [s.process.sentinel for s in busy], timeout) if busy else []
        for slot in busy:
            if slot.conn in ready:
                events += self._read(slot)
        for slot in list(self._slots):
            if slot.job is not None and not slot.process.is_alive():
                events += self._read(slot)  # a row sent just before it died still counts
                if slot.job is not None:
                    code = slot.process.exitcode
                    events.append(Event(key=slot.job.key, row=lost_row(slot.job, f"the worker died (exit code {code})", slot.started)))
                self._drop(slot)
            elif slot.job is not None and time.time() - slot.started > self.settings.episode_timeout_s:
                job = slot.job
                kill_tree(slot.process.pid)
                self._drop(slot)
                events.append(Event(key=job.key, row=timed_out_row(job, slot.started, self.settings.episode_timeout_s)))
            elif slot.job is None and not slot.process.is_alive():
                self._drop(slot)  # recycled: it finished its K episodes
        return events

    def _read(self, slot: _Slot) -> list[Event]:
        events = []
        while slot.job is not None:
            try:
                if not slot.conn.poll():
                    break
                kind, key, payload = slot.conn.recv()
            except (EOFError, OSError):
                break
            if kind == "begin":
                slot.started = time.time()
            elif kind == "step":
                events.append(Event(key=key, step=payload))
            else:
                events.append(Event(key=key, row=ResultRow.model_validate_json(payload)))
                slot.job = None
                slot.episodes += 1
                if slot.episodes >= self.settings.recycle_after:
                    slot.retiring = True  # it stops by itself now; the next job gets a fresh worker
                elif tree_pss(slot.process.pid) > self.settings.recycle_mb * 2**20:
                    slot.conn.send(None)  # grown too big: it stops, and the next job gets a fresh worker
                    slot.retiring = True
        return events

    def _drop(self, slot: _Slot) -> None:
        slot.conn.close()
        if slot.process.is_alive():
            kill_tree(slot.process.pid)
        slot.process.join(timeout=5)
        self._slots.remove(slot)

    def pss(self) -> list[int]:
        """Each worker's proportional set size (with its browser and children), in bytes."""
        return [tree_pss(s.process.pid) for s in self._slots if s.process.is_alive()]

    def close(self) -> None:
        for slot in list(self._slots):
            try:
                slot.conn.send(None)
            except (OSError, BrokenPipeError):
                pass
        deadline = time.time() + 10
        for slot in list(self._slots):
            slot.process.join(timeout=max(0.1, deadline - time.time()))
            self._drop(slot)


def lost_row(job: EpisodeJob, reason: str, started: float) -> ResultRow:
    """An episode whose worker is gone (it died, or its Ray task failed): an error, retried like one."""
    return ResultRow(key=episode_key(job.task.id, job.seed), task=job.task.id, seed=job.seed, outcome=Outcome.ERROR,
                     reason=reason, trajectory=str(job.folder.relative_to(job.settings.root)), attempt=job.attempt,
                     tags=job.task.tags, wall_s=round(time.time() - started, 3))


def timed_out_row(job: EpisodeJob, started: float, limit: float) -> ResultRow:
    """Past its wall-clock limit: a task failure (not retried); meta.json is closed to say so."""
    reason = f"the episode ran past its wall-clock limit of {limit:g}s and was killed"
    path = job.folder / META_FILE
    if not path.exists():
        return lost_row(job, reason, started).model_copy(update={"outcome": Outcome.FAILURE, "ended_by": EndedBy.TIME_LIMIT})
    meta = TrajectoryMeta.model_validate_json(path.read_text())
    ended = {"outcome": Outcome.FAILURE, "reason": reason, "ended_at": time.time(), "ended_by": EndedBy.TIME_LIMIT}
    write_atomic(path, meta.model_copy(update=ended).model_dump_json(indent=2))
    return row_from_trajectory(Path(job.settings.root), job.folder, job.task, job.seed, job.attempt,
                               wall_s=time.time() - started)
