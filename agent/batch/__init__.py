"""Many episodes: one episode function (``episode.run_episode``) run by a local process pool or by Ray,
results on disk (results.jsonl, summary.json, index.html), re-runnable to continue."""

from __future__ import annotations

import difflib
from pathlib import Path

from guiagent.agent.batch.engine import BatchBusy, BatchReport, run_batch
from guiagent.agent.batch.plan import BatchError, BatchSettings, EpisodeJob
from guiagent.agent.batch.progress import Progress
from guiagent.agent.batch.results import episode_key
from guiagent.agent.loop import EpisodeResult, StepCallback
from guiagent.agent.outputs import Kind, OutputError, check_folder
from guiagent.agent.runner import ConfigError, RunSpec
from guiagent.agent.safeguards import Approver
from guiagent.agent.suites import Suite, SuiteError, SuiteTask, load_suite
from guiagent.envs.desktop import DesktopConfig


def _ints(text: str, option: str) -> list[int]:
    try:
        return [int(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise BatchError(f"{option} must be comma-separated whole numbers, got {text!r}") from None


def load_suites(names: list[str], tasks: str | None = None, seeds: str | None = None,
                max_steps: int | None = None) -> list[Suite]:
    """The suites named, filtered to ``tasks`` (ids, comma-separated), with ``seeds`` if given, each
    task's step limit capped at ``max_steps``."""
    suites = [load_suite(n) for n in names]
    if tasks:
        wanted = [t.strip() for t in tasks.split(",") if t.strip()]
        known = {t.id for s in suites for t in s.tasks}
        unknown = [t for t in wanted if t not in known]
        if unknown:
            raise SuiteError(f"no task {', '.join(map(repr, unknown))} in {', '.join(s.name for s in suites)}")
        suites = [s.model_copy(update={"tasks": [t for t in s.tasks if t.id in wanted]}) for s in suites]
        suites = [s for s in suites if s.tasks]
    if seeds:
        chosen = _ints(seeds, "--seeds")
        suites = [s.model_copy(update={"tasks": [t.model_copy(update={"seeds": chosen}) for t in s.tasks]}) for s in suites]
    if max_steps:
        suites = [s.model_copy(update={"tasks": [t.model_copy(update={"max_steps": min(t.max_steps, max_steps)})
                                                 for t in s.tasks]}) for s in suites]
    return suites


def check_policy(suites: list[Suite], policy: str) -> None:
    """Every task can be played by the policy (a script policy needs each task's script...)."""
    if policy in ("script", "oracle"):
        field = "script" if policy == "script" else "oracle"
        missing = [t.id for s in suites for t in s.tasks if getattr(t, field) is None]
        if missing:
            more = f" and {len(missing) - 5} more" if len(missing) > 5 else ""
            raise BatchError(f"--policy {policy} needs a {field} for every task; none for {', '.join(missing[:5])}{more}"
                             + (" (pick tasks with --tasks)" if policy == "oracle" else ""))


def suite_task(name: str, task_id: str | None) -> SuiteTask:
    """The task ``task_id`` of the suite ``name`` (a task file, or a bundled suite); a ConfigError listing the
    suite's ids where there is no such task."""
    try:
        suite = load_suite(name)
    except SuiteError as exc:
        raise ConfigError(str(exc)) from None
    ids = [t.id for t in suite.tasks]
    shown = ", ".join(ids[:30]) + (f" and {len(ids) - 30} more" if len(ids) > 30 else "")
    if task_id is None:
        raise ConfigError(f"--suite needs --task ID, the id of one of its tasks: {shown}")
    found = next((t for t in suite.tasks if t.id == task_id), None)
    if found is None:
        close = difflib.get_close_matches(task_id, ids, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise ConfigError(f"no task {task_id!r} in suite {suite.name}{hint}; its tasks: {shown}")
    return found


def run_suite_task(name: str, task_id: str | None, out: Path, spec: RunSpec, *, desktop: DesktopConfig | None = None,
                   seed: int | None = None,
                   on_step: StepCallback | None = None, approver: Approver | None = None) -> EpisodeResult:
    """One task of a suite as a single episode into ``out`` (``guiagent run --suite FILE --task ID``), built as a
    batch builds its episodes (episode.start_task): the task's start, check or reward, limits and script, with
    ``spec``'s policy, model and browser settings (``desktop``: a desktop task's); ``seed`` (default the task's first) seeds a page task."""
    from guiagent.agent.batch.episode import WorkerState, start_task

    task = suite_task(name, task_id)
    try:
        check_policy([Suite(name="run", source=name, tasks=[task])], spec.policy.kind)
    except BatchError as exc:
        raise ConfigError(str(exc)) from None
    chosen = seed if seed is not None else task.episode_seeds()[0]
    settings = BatchSettings(root=str(out.resolve().parent), spec=spec, desktop=desktop or DesktopConfig())
    job = EpisodeJob(key=episode_key(task.id, chosen), task=task, seed=chosen, settings=settings, out=str(out))
    state = WorkerState(settings.browser().executable_path, settings.browser().headless)
    try:
        return start_task(job, state, on_step, approver)
    finally:
        state.close()


def make_engine(engine: str, settings: BatchSettings, workers: int, ray_address: str | None):
    if engine == "local":
        from guiagent.agent.batch.local import LocalPool

        return LocalPool(settings, workers)
    if engine == "ray":
        from guiagent.agent.batch.ray_engine import RayEngine

        return RayEngine(settings, workers, ray_address)
    raise BatchError(f"--engine must be local or ray, got {engine!r}")


def run_from_cli(names: list[str], out: Path, spec: RunSpec, *, desktop: DesktopConfig | None = None, workers: int, tasks: str | None = None,
                 seeds: str | None = None, max_steps: int | None = None, model_urls: list[str] | None = None,
                 engine: str = "local", ray_address: str | None = None, retries: int = 2,
                 episode_timeout_s: float = 600.0, recycle_after: int = 50, progress: Progress | None = None) -> BatchReport:
    """A batch of the suites named (``guiagent batch``): ``spec`` holds the policy, model and browser settings,
    ``desktop`` the desktop tasks' env settings.
    ``out`` is new, empty, or a batch folder to continue (agent/outputs.py)."""
    try:
        check_folder(out, "--out", "batch", own=Kind.BATCH)
    except OutputError as exc:
        raise BatchError(str(exc)) from None
    suites = load_suites(names, tasks, seeds, max_steps)
    check_policy(suites, spec.policy.kind)
    settings = BatchSettings(root=str(out.resolve()), spec=spec, desktop=desktop or DesktopConfig(), model_urls=model_urls or [], retries=retries,
                             episode_timeout_s=episode_timeout_s, recycle_after=recycle_after)
    try:
        return run_batch(settings, suites, make_engine(engine, settings, workers, ray_address), progress or Progress())
    except BatchBusy as exc:
        raise BatchError(str(exc)) from None


__all__ = ["BatchError", "BatchReport", "BatchSettings", "load_suites", "run_batch", "run_from_cli", "run_suite_task",
           "suite_task"]
