"""Builds an episode from a run spec (env, policy, task), runs it, and resumes it from its folder."""

from __future__ import annotations

import logging
import shlex
import sys
from collections.abc import Callable
from contextlib import ExitStack
from importlib import resources
from pathlib import Path
from urllib.parse import urljoin, urlparse

from guiagent.agent.assembly import DEMO_STATE, DESKTOP_STATE, SCRIPT_COPY, Assembly, episode_vlm_config
from guiagent.agent.folder import claim_existing, claim_new, refuse_unless_empty
from guiagent.agent.interrupts import stop_signals
from guiagent.agent.loop import Episode, EpisodeResult, LoopConfig, StepCallback
from guiagent.agent.outcome import Outcome
from guiagent.agent.rebuild import Rebuilder, restore_world_start, save_world_start
from guiagent.agent.records import CHECKPOINT_FILE, CheckpointError, checkpointed_record
from guiagent.agent.replay_source import served_url
from guiagent.agent.safeguards import Approver, owner_only
from guiagent.agent.spec import BrowserEnvSpec, ConfigError, DesktopEnvSpec, RunSpec, ScriptPolicySpec
from guiagent.agent.task import Task
from guiagent.agent.trajectory import (
    FRAMES_DIR,
    STEPS_FILE,
    Segment,
    TrajectoryError,
    TrajectoryMeta,
    TrajectoryWriter,
    load_trajectory,
)
from guiagent.envs import Env, FrameTap
from guiagent.envs.browser import SharedBrowser
from guiagent.policies import Policy
from guiagent.policies.action_cache import default_cache_path
from guiagent.tools import Observation

log = logging.getLogger(__name__)

__all__ = ["DEMO_STATE", "DESKTOP_STATE", "Assembly", "ConfigError", "RunSpec", "demo_script_path", "desktop_demo_spec",
           "episode_vlm_config", "resume_episode", "start_episode", "with_url_lists"]


def demo_script_path(env: str = "browser", targets: bool = False) -> Path:
    """The bundled demo script; ``targets``: the browser one with targets instead of coordinates."""
    name = "desktop_task.yaml" if env == "desktop" else "demo_targets.yaml" if targets else "demo_task.yaml"
    return Path(str(resources.files("guiagent.agent.demo").joinpath(name)))


def desktop_demo_spec(out: Path) -> RunSpec:
    """The bundled desktop demo: its Tk app on a private Xvfb, its state kept in the trajectory. A ConfigError says
    what to install where tkinter (the app's toolkit) is missing."""
    try:
        import tkinter  # noqa: F401
    except ImportError:
        raise ConfigError("the desktop demo's app needs tkinter, which this Python lacks: install it (Debian: "
                          "sudo apt-get install python3-tk) or use a Python built with Tk") from None
    app = f"{shlex.quote(sys.executable)} -m guiagent.agent.demo.desktop_app {shlex.quote(str(out.resolve() / DESKTOP_STATE))}"
    return RunSpec(
        env=DesktopEnvSpec(xvfb="1280x800x24", launch=app, window="^Desktop demo"),
        policy=ScriptPolicySpec(script=str(demo_script_path("desktop"))), loop=LoopConfig(max_steps=20),
    )


def _task(spec: RunSpec, from_policy: dict, site_url: str | None) -> Task:
    instruction = spec.task or from_policy.get("task")
    if not instruction:
        raise ConfigError("no task: pass --task TEXT or give the script a 'task'")
    start_url = (spec.env.start_url if isinstance(spec.env, BrowserEnvSpec) else None) or from_policy.get("start_url")
    if start_url and not urlparse(start_url).scheme:
        if site_url is None:
            raise ConfigError(f"start URL {start_url!r} is relative: give an absolute URL or use --demo-site")
        start_url = urljoin(site_url + "/", start_url.lstrip("/"))
    return Task(instruction=instruction, start_url=start_url, success=spec.success or from_policy.get("success"),
                judge=spec.judge)


def with_url_lists(spec: RunSpec, allow: list[str] | None, block: list[str] | None) -> RunSpec:
    """The run's URL policy with a script's or a task's own allow/block lists added."""
    if not isinstance(spec.env, BrowserEnvSpec) or spec.env.url_policy is None or not (allow or block):
        return spec
    policy = spec.env.url_policy
    policy = policy.model_copy(update={"allow": [*policy.allow, *(allow or [])], "block": [*policy.block, *(block or [])]})
    policy = type(policy).model_validate(policy.model_dump())  # re-parse the patterns
    return spec.model_copy(update={"env": spec.env.model_copy(update={"url_policy": policy})})


def _check_start_url(spec: RunSpec, url: str | None) -> None:
    if not isinstance(spec.env, BrowserEnvSpec):
        return
    policy = spec.env.url_policy
    if url and policy is not None and not (verdict := policy.check_url(url)):
        raise ConfigError(f"start URL {url!r} is refused by the URL policy: {verdict.reason}")


def start_episode(
    spec: RunSpec, out: Path, on_step: StepCallback | None = None, built: tuple[Policy, dict] | None = None,
    approver: Approver | None = None, env: Env | None = None, shared: SharedBrowser | None = None,
    wait_approval: bool = False,
    wrap_policy: Callable[[Policy], Policy] | None = None, tap: FrameTap | None = None,
) -> EpisodeResult:
    """Run a new episode into ``out``, which must be new or empty: it is claimed (locked) before
    anything is written, and left as it was if the run stops before its meta.json. ``built``: a
    policy the caller made already (with the task facts it brings), instead of one built from ``spec``.
    ``approver`` answers approval requests at once; without one the episode stops awaiting approval, or with
    ``wait_approval`` (unattended ``guiagent run``) first waits up to the spec's approval timeout for ``approve``.
    ``env``: an env the caller made (closed here, at the end); ``shared``: a running browser to open the
    episode's context in (a batch worker's); ``wrap_policy``: wraps the policy once built (the live view's
    takeover); ``tap``: where the env's frames also go as they arrive (the live view's screen)."""
    inputs = frozenset({DEMO_STATE, DESKTOP_STATE})  # an app's initial state, put there by the caller (a batch)
    refuse_unless_empty(out, allowed=inputs)
    created = not out.exists()
    with owner_only(out, spec.share):
        claim = claim_new(out, created, allowed=inputs)
        try:
            with ExitStack() as stack, stop_signals() as signals:
                parts = Assembly(spec, out, stack, signals, approver, wait_approval, on_step, tap)
                return _start(parts, built, env, shared, wrap_policy)
        except BaseException:
            claim.discard_if_unstarted()
            raise
        finally:
            claim.release()


def _start(parts: Assembly, built: tuple[Policy, dict] | None, env: Env | None, shared: SharedBrowser | None,
           wrap_policy: Callable[[Policy], Policy] | None) -> EpisodeResult:
    out = parts.root
    save_world_start(out, [DEMO_STATE, DESKTOP_STATE])  # a resume replays from this state
    script = parts.spec.policy
    if isinstance(script, ScriptPolicySpec) and script.script and script.cache is None:  # resume finds the same cache
        cache = str(default_cache_path(Path(script.script)).resolve())
        parts.spec = parts.spec.model_copy(update={"policy": script.model_copy(update={"cache": cache})})
    site_url = None
    if parts.spec.demo_site:
        server = parts.demo_site()
        parts.spec = parts.spec.model_copy(update={"demo_port": server.server_address[1]})
        site_url = server.url
        log.info("demo site at %s", site_url)
    policy, from_policy = parts.policy(built, site_url, wrap_policy)
    task = _task(parts.spec, from_policy, site_url)
    spec = parts.spec = with_url_lists(parts.spec, from_policy.get("allow"), from_policy.get("block"))
    _check_start_url(spec, task.start_url)
    guards = parts.safeguards([task.instruction, from_policy.get("text", "")])
    meta = TrajectoryMeta(
        task=task.instruction,
        start_url=task.start_url,
        success_check=task.success.model_dump(exclude_none=True) if task.success else None,
        policy=policy.settings(),
        loop=spec.loop.model_dump(),
        extra={"spec": spec.model_dump(mode="json")},
        segments=[Segment(first_step=0)],
    )
    env = parts.env(env, shared)
    meta.env = env.settings()
    log.info("starting the %s env at %s; %s policy; recording to %s", spec.env.kind, task.start_url, policy.kind, out)
    env.reset(task.start_url)
    writer = TrajectoryWriter.create(out, meta)
    return parts.run(env, policy, task, writer, guards, lambda episode: episode.run())


def resume_episode(
    root: Path, on_step: StepCallback | None = None, approval: dict | None = None, approver: Approver | None = None,
    shared: SharedBrowser | None = None, built: tuple[Policy, dict] | None = None,
    on_note: Callable[[str], None] | None = None, anyway: bool = False, wait_approval: bool = False,
    env: Env | None = None, url_map: Callable[[str], str] | None = None,
) -> EpisodeResult:
    """Continue the episode recorded in ``root``: after a kill, an interrupt or an env fault (``error``), on a
    fresh env whose world is rebuilt by replaying the recorded steps from the episode's start (agent/rebuild.py;
    a divergence raises RebuildDiverged, nothing changed, unless ``anyway``: then it goes on from there, marked);
    one awaiting approval goes on with ``approval`` ({"approved", "note"}) as the person's answer. A finished
    episode is returned as recorded, untouched. ``on_note`` hears what was repaired on the way (a cut-off line, a
    damaged checkpoint); ``shared``, ``built``, ``wait_approval``: as in start_episode; ``env``: the fresh env
    the caller made (a page task's); ``url_map``: recorded URLs to where they are served now (default: the
    demo site's port)."""
    note = on_note or (lambda text: None)
    traj = load_trajectory(root)
    meta = traj.meta
    if approval is not None and meta.outcome is not Outcome.AWAITING_APPROVAL:
        raise ConfigError(f"{root}: the episode is not awaiting approval (its outcome is {meta.outcome})")
    if meta.outcome.finished:
        if traj.torn_tail is not None:
            raise TrajectoryError(
                f"{root} is finished ({meta.outcome}) but the last line of its {STEPS_FILE} is cut off; a finished "
                "trajectory is left as it is (nothing was changed): read it with guiagent view, or start a new run"
            )
        return EpisodeResult(status=meta.outcome, reason=meta.reason, answer=meta.answer, steps=len(traj.steps),
                             ended_by=meta.ended_by, declared=meta.declared, verified=meta.verified)
    if "spec" not in meta.extra:
        raise ConfigError(f"{root}: meta.json has no run spec; this trajectory cannot be resumed")
    spec = RunSpec.model_validate(meta.extra["spec"])
    if isinstance(spec.policy, ScriptPolicySpec) and spec.policy.script is not None:
        spec = spec.model_copy(update={"policy": spec.policy.model_copy(update={"script": str(root / SCRIPT_COPY)})})
    with ExitStack() as stack, stop_signals() as signals:
        stack.enter_context(owner_only(root, spec.share))
        stack.enter_context(claim_existing(root))
        traj = load_trajectory(root)  # again, now that no other run can write it
        restored = restore_world_start(root)  # before the site or the app reads its state: the replay starts there
        try:
            proven = checkpointed_record(root, len(traj.steps))
            damaged = None
        except CheckpointError as exc:
            proven, damaged = None, str(exc)
        parts = Assembly(spec, root, stack, signals, approver, wait_approval, on_step)
        site_url = None
        if spec.demo_site:  # the old port if it is free, else elsewhere, and the URLs move along
            site_url = parts.demo_site(anywhere_if_taken=True).url
            old_port = spec.demo_port
            url_map = url_map or (lambda u: served_url(u, old_port, site_url) or u)
        url_map = url_map or (lambda u: u)
        start_url = url_map(meta.start_url) if meta.start_url else meta.start_url
        policy, from_policy = parts.policy(built, site_url)
        task = Task(instruction=meta.task, start_url=start_url, success=spec.success or from_policy.get("success"),
                    judge=spec.judge)
        guards = parts.safeguards([])
        if damaged is not None:
            aside = _set_checkpoint_aside(root)
            note(f"{CHECKPOINT_FILE} is damaged ({damaged}); it was moved aside to {aside.name} and the episode "
                 f"goes on from the {len(traj.steps)} steps recorded in {STEPS_FILE}")
        writer = TrajectoryWriter.open(root, proven)
        stack.callback(writer.close)
        for text in writer.notes:
            note(text)
        traj = load_trajectory(root)
        env = parts.env(env, shared)
        log.info("resuming %s after step %d: rebuilding the world by replaying from %s", root, len(traj.steps), start_url)
        pending = _pending_frame(root, len(traj.steps)) if meta.outcome is Outcome.AWAITING_APPROVAL else None
        rebuilt = Rebuilder(env, traj, guards, url_map).rebuild(start_url, restored, anyway, pending)
        if rebuilt.diverged_at is not None:
            note(f"the rebuild diverged at step {rebuilt.diverged_at + 1} ({'; '.join(rebuilt.what)}): going on from "
                 "there (--resume-anyway), and the segment is marked so")
        segments = meta.segments or [Segment(started_at=meta.started_at, first_step=0)]
        writer.update_meta(outcome=Outcome.RUNNING, reason=None, ended_at=None, ended_by=None, fault=None, steps=len(traj.steps), segments=[
            *segments, Segment(first_step=len(traj.steps), after=meta.outcome, after_reason=meta.reason, rebuilt=rebuilt)])
        steps = traj.steps
        if damaged is not None:
            return parts.run(env, policy, task, writer, guards, lambda episode: episode.resume_from_steps(steps),
                             prepare=lambda episode: _preload_frames(episode, traj))
        return parts.run(env, policy, task, writer, guards, lambda episode: episode.resume(steps, approval),
                         prepare=lambda episode: _preload_frames(episode, traj))


def _pending_frame(root: Path, index: int) -> str | None:
    """The frame the step in progress decided on (written when it was observed), if it is on disk."""
    found = sorted((root / FRAMES_DIR).glob(f"{index:06d}.*"))
    return f"{FRAMES_DIR}/{found[0].name}" if found else None


def _set_checkpoint_aside(root: Path) -> Path:
    """Move a damaged checkpoint (and its WAL files) aside, never over an earlier one."""
    n = 0
    while (aside := root / f"{CHECKPOINT_FILE}.damaged{n or ''}").exists():
        n += 1
    for suffix in ("-wal", "-shm"):
        extra = root / (CHECKPOINT_FILE + suffix)
        if extra.exists():
            extra.rename(aside.with_name(aside.name + suffix))
    (root / CHECKPOINT_FILE).rename(aside)
    return aside


def _preload_frames(episode: Episode, traj) -> None:
    """Give a resumed episode the recorded past, so the model's clip of it is not empty."""
    for step in traj.steps[-episode.config.frame_buffer :]:
        path = traj.frame_path(step)
        if path.exists():
            obs = Observation(image=path.read_bytes(), t=step.t, geometry=step.geometry, url=step.url,
                              title=step.title, window=step.window)
            episode.frames.add(step.frame, obs)
        for ctx in step.context_frames:
            path = traj.root / ctx["frame"]
            if path.exists():
                geometry = step.geometry.model_copy(update=dict(zip(("width", "height"), _image_size(path), strict=True)))
                episode.frames.add(ctx["frame"], Observation(image=path.read_bytes(), image_format=path.suffix[1:],
                                                             t=ctx["t"], geometry=geometry))


def _image_size(path) -> tuple[int, int]:
    from PIL import Image

    with Image.open(path) as img:
        return img.size
