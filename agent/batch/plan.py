"""What a batch runs: episodes (task x seed) of its suites, each with its folder, and where each one
stands on disk (finished, to resume, to retry, to start), so that re-running a batch continues it."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field

from guiagent.agent.batch.results import ResultRow, episode_key
from guiagent.agent.outcome import CheckKind, Outcome
from guiagent.agent.spec import BrowserEnvSpec, RunSpec
from guiagent.agent.suites import Suite, SuiteTask
from guiagent.agent.trajectory import META_FILE, TrajectoryError, load_trajectory
from guiagent.envs.desktop import DesktopConfig

EPISODES = "episodes"


class BatchError(RuntimeError):
    """A batch that cannot start as asked; the message says why."""



class BatchSettings(BaseModel):
    """How every episode of a batch runs (from the command line), shared by all its workers."""

    root: str = Field(description="The batch folder (absolute; with Ray, a path every node sees).")
    spec: RunSpec = Field(description="Policy, model and browser settings; the task fills in the rest.")
    desktop: DesktopConfig = Field(default_factory=DesktopConfig, description=(
        "The desktop tasks' env settings (the task gives its screen and app)."))
    model_urls: list[str] = Field(default_factory=list, description="With several, each request goes to the least busy.")
    episode_timeout_s: float = Field(default=600.0, gt=0)
    retries: int = Field(default=2, ge=0)
    recycle_after: int = Field(default=50, ge=1, description="A worker is replaced after this many episodes.")
    recycle_mb: int = Field(default=2048, ge=100, description="A worker grown past this PSS (with its browser) is replaced.")


    def browser(self) -> BrowserEnvSpec:
        """The browser tasks' env settings."""
        return self.spec.env if isinstance(self.spec.env, BrowserEnvSpec) else BrowserEnvSpec()


class EpisodeJob(BaseModel):
    key: str
    task: SuiteTask
    seed: int
    attempt: int = 0
    resume: bool = False
    settings: BatchSettings
    out: str | None = Field(default=None, description="The episode's folder, where not the batch's (run --suite).")

    @property
    def folder(self) -> Path:
        if self.out is not None:
            return Path(self.out)
        return attempt_folder(Path(self.settings.root), self.task.id, self.seed, self.attempt)


def attempt_folder(root: Path, task: str, seed: int, attempt: int) -> Path:
    name = f"seed-{seed}" + (f".retry{attempt}" if attempt else "")
    return root / EPISODES / task / name


def plan_episodes(suites: list[Suite]) -> list[tuple[str, SuiteTask, int]]:
    """Every (key, task, seed) of the suites, in order; a task id in two suites is run once."""
    planned: dict[str, tuple[str, SuiteTask, int]] = {}
    for suite in suites:
        for task in suite.tasks:
            for seed in task.episode_seeds():
                planned.setdefault(episode_key(task.id, seed), (episode_key(task.id, seed), task, seed))
    return list(planned.values())


class Standing(BaseModel):
    """Where one episode stands: ``done`` (a row exists), ``recover`` (finished on disk, no row yet),
    ``resume`` (interrupted, resumable), ``start`` (a fresh attempt)."""

    state: Literal["done", "recover", "resume", "start"]
    attempt: int = 0


def standing(root: Path, task: SuiteTask, seed: int, row: ResultRow | None) -> Standing:
    if row is not None and row.outcome is not Outcome.ERROR:
        return Standing(state="done", attempt=row.attempt)
    attempt = 0
    while attempt_folder(root, task.id, seed, attempt + 1).exists():
        attempt += 1
    folder = attempt_folder(root, task.id, seed, attempt)
    if row is not None and row.attempt == attempt:  # this attempt's error is counted: a fresh one, kept apart
        return Standing(state="start", attempt=attempt + 1)
    if not folder.exists():
        return Standing(state="start", attempt=attempt)
    outcome = _recorded_outcome(folder)
    unfinished = outcome in (Outcome.RUNNING, Outcome.INTERRUPTED)
    if outcome is None:
        shutil.rmtree(folder)  # killed before it recorded anything worth keeping
        return Standing(state="start", attempt=attempt)
    if unfinished:  # killed or interrupted: resumed, its world rebuilt by replay (a page task on its seed)
        return Standing(state="resume", attempt=attempt)
    return Standing(state="recover", attempt=attempt)


def _recorded_outcome(folder: Path) -> Outcome | None:
    meta = folder / META_FILE
    if not meta.exists():
        return None
    try:
        return Outcome(json.loads(meta.read_text()).get("outcome"))
    except (OSError, ValueError):
        return None


def batch_outcome(outcome: Outcome) -> Outcome:
    """An episode's recorded outcome as its results row counts it: one that never finished (killed while running,
    waiting for an approval no one gives in a batch) is an ``error``, to be retried; the rest as recorded. The
    retry decision reads this typed outcome (set from the fault's kind), never a reason's text."""
    return outcome if outcome.finished else Outcome.ERROR


def row_from_trajectory(root: Path, folder: Path, task: SuiteTask, seed: int, attempt: int,
                        wall_s: float | None = None) -> ResultRow:
    """The episode's results line, read from its folder (meta.json, steps.jsonl)."""
    rel = str(folder.relative_to(root))
    base: dict[str, Any] = dict(key=episode_key(task.id, seed), task=task.id, seed=seed, trajectory=rel, attempt=attempt, tags=task.tags)
    try:
        traj = load_trajectory(folder)
    except TrajectoryError as exc:
        return ResultRow(**base, outcome=Outcome.ERROR, reason=str(exc), wall_s=wall_s or 0.0)
    meta = traj.meta
    tokens = sum((s.usage or {}).get("prompt_tokens", 0) + (s.usage or {}).get("completion_tokens", 0) for s in traj.steps)
    reward = next((v.reward for v in meta.verified if v.kind is CheckKind.REWARD), None)
    if wall_s is None:
        wall_s = (meta.ended_at or meta.started_at) - meta.started_at
    return ResultRow(
        **base, outcome=batch_outcome(meta.outcome), reward=reward, steps=len(traj.steps),
        tokens=tokens, wall_s=round(wall_s, 3), reason=meta.reason, ended_by=meta.ended_by, declared=meta.declared,
        verified=meta.verified, fault=meta.fault,
    )


