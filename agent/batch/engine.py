"""A batch from start to end: plan the episodes, see where each stands on disk, hand the rest to an
engine (the local process pool or Ray), retry infrastructure errors, write the results.

An engine runs ``EpisodeJob``s and reports events; it shares nothing with the batch but the folder.
"""

from __future__ import annotations

import fcntl
import time
from pathlib import Path
from typing import Protocol

from pydantic import BaseModel

from guiagent.agent.batch.plan import (
    BatchSettings,
    EpisodeJob,
    attempt_folder,
    plan_episodes,
    row_from_trajectory,
    standing,
)
from guiagent.agent.batch.progress import Progress
from guiagent.agent.batch.results import ResultLog, ResultRow, read_results, write_final, write_report
from guiagent.agent.batch.router import TABLE
from guiagent.agent.outcome import Outcome
from guiagent.agent.suites import Suite

LOCK = ".batch.lock"


class BatchBusy(RuntimeError):
    """Another batch process is working in this folder."""


class Event(BaseModel):
    """What an engine reports: a step of a running episode, or an episode's final row."""

    key: str
    step: int | None = None
    row: ResultRow | None = None


class Engine(Protocol):
    capacity: int

    def submit(self, job: EpisodeJob) -> None: ...

    def poll(self, timeout: float) -> list[Event]: ...

    def close(self) -> None: ...


class BatchReport(BaseModel):
    summary: dict
    rows: list[ResultRow]

    @property
    def all_ran(self) -> bool:
        return self.summary["not_run"] == 0


def run_batch(settings: BatchSettings, suites: list[Suite], engine: Engine, progress: Progress | None = None) -> BatchReport:
    root = Path(settings.root)
    root.mkdir(parents=True, exist_ok=True)
    lock = open(root / LOCK, "w")
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        raise BatchBusy(f"another batch is running in {root}") from None
    (root / TABLE).unlink(missing_ok=True)  # in-flight counts of an earlier, killed run mean nothing now
    started = time.time()
    planned = plan_episodes(suites)
    rows = read_results(root)
    log = ResultLog(root)
    queue: list[EpisodeJob] = []
    errors_this_run: dict[str, int] = {}
    tasks = {key: (task, seed) for key, task, seed in planned}

    def schedule(key: str) -> None:
        task, seed = tasks[key]
        where = standing(root, task, seed, rows.get(key))
        if where.state == "done":
            return
        if where.state == "recover":  # finished on disk, but the batch died before its line was written
            folder = attempt_folder(root, task.id, seed, where.attempt)
            finish(row_from_trajectory(root, folder, task, seed, where.attempt))
            return
        queue.append(EpisodeJob(key=key, task=task, seed=seed, attempt=where.attempt,
                                resume=where.state == "resume", settings=settings))

    def finish(row: ResultRow) -> None:
        rows[row.key] = row
        write_report(root, row)  # before its line: an episode in results.jsonl has its report
        log.append(row)
        if progress:
            progress.finished(row)
        if row.outcome is Outcome.ERROR:
            errors_this_run[row.key] = errors_this_run.get(row.key, 0) + 1
            if errors_this_run[row.key] <= settings.retries:
                schedule(row.key)  # a fresh attempt, in a fresh env

    try:
        if progress:
            progress.start(len(planned), sum(1 for k in tasks if k in rows and rows[k].outcome is not Outcome.ERROR))
        for key, _, _ in planned:
            schedule(key)
        running: set[str] = set()
        while queue or running:
            while queue and len(running) < engine.capacity:
                job = queue.pop(0)
                running.add(job.key)
                engine.submit(job)
                if progress:
                    progress.started(job.key)
            for event in engine.poll(0.5):
                if event.row is not None:
                    running.discard(event.key)
                    finish(event.row)
                elif progress and event.step is not None:
                    progress.step(event.key, event.step)
            if progress:
                progress.refresh()
    finally:
        engine.close()
        log.close()
        if progress:
            progress.stop()
    ordered = [rows[k] for k, _, _ in planned if k in rows]
    skipped = [t.model_dump(mode="json") for suite in suites for t in suite.skipped]
    summary = write_final(root, ordered, len(planned), time.time() - started, skipped)
    lock.close()
    return BatchReport(summary=summary, rows=ordered)

