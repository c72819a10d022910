"""One episode of a batch, run by a worker (a local pool process or a Ray task) through the same
functions ``guiagent run`` uses (start_episode / resume_episode), with what the worker keeps warm."""

from __future__ import annotations

import json
import shlex
import shutil
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from guiagent.agent.batch.plan import EpisodeJob, row_from_trajectory
from guiagent.agent.batch.results import ResultRow, episode_key
from guiagent.agent.batch.router import routed_policy
from guiagent.agent.loop import EpisodeResult, LoopConfig, StepCallback
from guiagent.agent.outcome import Outcome
from guiagent.agent.runner import (
    DEMO_STATE,
    DESKTOP_STATE,
    RunSpec,
    episode_vlm_config,
    resume_episode,
    start_episode,
    with_url_lists,
)
from guiagent.agent.safeguards import Approver
from guiagent.agent.spec import BrowserEnvSpec, DesktopEnvSpec, ScriptPolicySpec, VLMPolicySpec
from guiagent.agent.suites.apps import AppTaskEnv
from guiagent.agent.suites.page import EndWhenPageDone, PageOracle, PageTaskEnv
from guiagent.agent.trajectory import META_FILE
from guiagent.envs.browser import BrowserEnv, SharedBrowser
from guiagent.envs.desktop import DesktopEnv
from guiagent.policies import Policy
from guiagent.policies.script import ScriptPolicy

ProgressCallback = Callable[[str, int], None]


class WorkerState:
    """What a worker keeps between its episodes: one Chromium, the MiniWoB pages' server."""

    def __init__(self, executable_path: str | None = None, headless: bool = True) -> None:
        self.browser = SharedBrowser(executable_path, headless)
        self._site: Any = None
        self.episodes = 0

    def shared_browser(self, spec: RunSpec) -> SharedBrowser | None:
        if not isinstance(spec.env, BrowserEnvSpec) or not self.browser.serves(spec.env):
            return None
        if self.browser.browser is not None and not self.browser.alive:
            self.browser.close()  # died under the last episode: start a fresh one
        return self.browser.start()

    def miniwob_url(self) -> str:
        if self._site is None:
            from guiagent.agent.suites.miniwob import StaticSite, miniwob_html

            self._site = StaticSite(miniwob_html())
        return self._site.url

    def close(self) -> None:
        self.browser.close()
        if self._site is not None:
            self._site.stop()
            self._site = None


def task_spec(job: EpisodeJob, start_url: str | None, instruction: str | None) -> RunSpec:
    """The run spec of this episode: the batch's settings, with the task's start, check and limits."""
    base, task, folder = job.settings.spec, job.task, job.folder
    update: dict[str, Any] = {
        "env": job.settings.browser().model_copy(update={"start_url": start_url}), "task": instruction or task.instruction,
        "success": task.success, "demo_site": task.site == "demo",
        "loop": LoopConfig(**{**base.loop.model_dump(), "max_steps": task.max_steps}),
    }
    if isinstance(base.policy, ScriptPolicySpec):
        update["policy"] = base.policy.model_copy(update={"script": task.script})
    if task.env == "desktop":
        launch = (task.start.app or "").replace("{python}", shlex.quote(sys.executable)).replace(
            "{episode}", shlex.quote(str(folder.resolve())))
        start, desktop = task.start, job.settings.desktop
        sandbox = desktop.sandbox.model_copy(update={"enabled": start.sandbox if base.sandbox is None else base.sandbox,
                                                     "network": start.network or desktop.sandbox.network})
        update["env"] = DesktopEnvSpec(xvfb=start.screen, launch=launch, window=start.window, wm=start.wm,
                                       sample_fps=desktop.sample_fps, sandbox=sandbox, a11y=desktop.a11y,
                                       home=str(folder.resolve() / "home") if start.files or start.sandbox else None,
                                       home_seed=start.files, launch_timeout_s=max(desktop.launch_timeout_s, 60.0))
    return with_url_lists(base.model_copy(update=update), task.allow, task.block)


def run_episode(job: EpisodeJob, state: WorkerState, on_step: ProgressCallback | None = None) -> ResultRow:
    """Run (or resume) one episode into its folder and return its results line. Never raises for what
    happens inside the episode: an env or server that fails is an ``error`` row, to be retried."""
    root, folder, task = Path(job.settings.root), job.folder, job.task
    started = time.time()
    step_cb = (lambda record, _max: on_step(job.key, record.index + 1)) if on_step else None
    try:
        if job.resume and task.reward is not None:
            _resume_page_task(job, state, step_cb)
        elif job.resume:
            spec = RunSpec.model_validate(json.loads((folder / META_FILE).read_text())["extra"]["spec"])
            resume_episode(folder, on_step=step_cb, shared=state.shared_browser(spec), built=_vlm(job, spec))
        else:
            if folder.exists():
                shutil.rmtree(folder)
            start_task(job, state, step_cb)
    except Exception as exc:  # noqa: BLE001 - whatever broke, the batch gets a line saying so
        if not (folder / META_FILE).exists():
            return ResultRow(key=episode_key(task.id, job.seed), task=task.id, seed=job.seed, outcome=Outcome.ERROR,
                             reason=f"{type(exc).__name__}: {exc}", trajectory=str(folder.relative_to(root)),
                             attempt=job.attempt, tags=task.tags, wall_s=round(time.time() - started, 3))
    finally:
        state.episodes += 1
    return row_from_trajectory(root, folder, task, job.seed, job.attempt, wall_s=time.time() - started)


def start_task(job: EpisodeJob, state: WorkerState, step_cb: StepCallback | None = None,
               approver: Approver | None = None) -> EpisodeResult:
    """Start the job's episode of its suite task in ``job.folder`` (new or empty): the task's start, check or
    reward, limits and script, with the batch's settings. Raises what start_episode raises."""
    job.folder.mkdir(parents=True, exist_ok=True)
    _write_initial_state(job, job.folder)
    if job.task.reward is not None:
        return _run_page_task(job, state, step_cb, approver)
    spec = task_spec(job, job.task.start.url, None)
    env = None
    if job.task.evaluator is not None and isinstance(spec.env, DesktopEnvSpec):
        env = AppTaskEnv(DesktopEnv(spec.env), job.task.evaluator)
    return start_episode(spec, job.folder, on_step=step_cb, built=_vlm(job, spec), shared=state.shared_browser(spec),
                         approver=approver, env=env)


def _page_start(job: EpisodeJob, state: WorkerState) -> str:
    start = job.task.start.url or ""
    return state.miniwob_url() + start if job.task.site == "miniwob" else start


def _page_env(job: EpisodeJob, state: WorkerState, start: str) -> PageTaskEnv:
    """The task's page on this worker's browser, set up for the episode's seed when it is opened."""
    base = task_spec(job, start, "(read from the page)")
    browser = base.env if isinstance(base.env, BrowserEnvSpec) else job.settings.browser()
    inner = BrowserEnv(browser.model_copy(update={"downloads_dir": str(job.folder / "downloads")}),
                       shared=state.shared_browser(base))
    return PageTaskEnv(inner, job.task.reward, job.seed, oracle=job.task.oracle)  # type: ignore[arg-type]


def _page_policy(job: EpisodeJob, spec: RunSpec, page: PageTaskEnv, instruction: str | None,
                 start: str) -> tuple[Policy, dict]:
    policy: Policy
    if spec.policy.kind == "oracle":
        policy = PageOracle(page)
    elif isinstance(spec.policy, ScriptPolicySpec):
        policy = ScriptPolicy.from_file(spec.policy.script or "")
    else:
        policy = (_vlm(job, spec) or (None, None))[0] or _single_vlm(spec)
    return EndWhenPageDone(policy, page), {"task": instruction, "start_url": start}


def _run_page_task(job: EpisodeJob, state: WorkerState, step_cb: StepCallback | None,
                   approver: Approver | None) -> EpisodeResult:
    start = _page_start(job, state)
    page = _page_env(job, state, start)
    try:
        instruction = page.prepare(start) or job.task.instruction
    except Exception:
        page.close()
        raise
    spec = task_spec(job, start, instruction)
    return start_episode(spec, job.folder, on_step=step_cb, built=_page_policy(job, spec, page, instruction, start),
                         env=page, approver=approver)


def _resume_page_task(job: EpisodeJob, state: WorkerState, step_cb: StepCallback | None) -> None:
    """Resume a page task on its seed: a fresh page (its setup run again with the same seed) at the episode's
    start, moved to where this worker serves the pages, and the recorded steps replayed on it (rebuild)."""
    meta = json.loads((job.folder / META_FILE).read_text())
    start = _page_start(job, state)
    old = urlsplit(meta.get("start_url") or start)
    new = urlsplit(start)
    old_origin, new_origin = f"{old.scheme}://{old.netloc}", f"{new.scheme}://{new.netloc}"
    spec = task_spec(job, start, meta["task"])
    page = _page_env(job, state, start)
    built = _page_policy(job, spec, page, meta["task"], start)
    resume_episode(job.folder, on_step=step_cb, built=built, env=page,
                   url_map=lambda u: new_origin + u[len(old_origin):] if u.startswith(old_origin) else u)


def _single_vlm(spec: RunSpec) -> Policy:
    from guiagent.policies.vlm import VLMPolicy

    return VLMPolicy(episode_vlm_config(spec))


def _vlm(job: EpisodeJob, spec: RunSpec) -> tuple[Policy, dict] | None:
    """With several model servers, a policy that sends each request to the least busy one."""
    if not isinstance(spec.policy, VLMPolicySpec) or len(job.settings.model_urls) < 2:
        return None
    return routed_policy(spec, job.settings.model_urls, Path(job.settings.root)), {}


def _write_initial_state(job: EpisodeJob, folder: Path) -> None:
    if job.task.initial_state is None:
        return
    name = DESKTOP_STATE if job.task.env == "desktop" else DEMO_STATE
    (folder / name).write_text(json.dumps(job.task.initial_state, ensure_ascii=False), encoding="utf-8")
