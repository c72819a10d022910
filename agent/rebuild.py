"""Rebuild an episode's world by replaying it: the one path ``run --resume``, ``approve`` after the
approval timeout and a batch's resume take when the env that ran the episode is gone.

A fresh env opens the episode's start (its server-side state first put back to what it was at the
start: ``save_world_start`` / ``restore_world_start``), then every recorded step is replayed in order:
the live screen is verified against the step's recorded frame (policies.replay: URL, title, SSIM),
polled until it matches or ``settle_s`` passes (the page settling replaces the recording's waits), and
only then are the step's actions that ran executed again (secrets filled through the episode's
Safeguards; a failed action, a step a fault took or a denied one ran nothing and is skipped) and the
checks it waited for waited for again. A step whose screen never matches is a divergence: by default
``RebuildDiverged`` (nothing recorded is changed), with ``anyway`` the rebuild stops there and the
episode goes on from the diverged world, marked so on its segment.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path

from guiagent.agent.safeguards import Safeguards
from guiagent.agent.trajectory import Rebuild, StepRecord, Trajectory
from guiagent.envs import Env, FrameSource
from guiagent.policies.replay import DEFAULT_THRESHOLD, Divergence, ReplayPolicy, ReplayStep, diff_image
from guiagent.tools import ActionError, ActionResult, Check, Observation, parse_action
from guiagent.tools.files import write_atomic

WORLD_START = "world-start.json"  # the server-side state files as the episode found them (null: absent)
DIVERGENCE_DIR = "rebuild-divergence"
SKIPPED_ACTIONS = frozenset({"wait", "terminate", "answer"})  # nothing to redo in the world (a wait: the page settles)


class RebuildDiverged(RuntimeError):
    """The replay that rebuilds the world met a screen that differs from the recording; ``rebuild`` says where."""

    def __init__(self, message: str, rebuild: Rebuild) -> None:
        super().__init__(message)
        self.rebuild = rebuild


def save_world_start(root: Path, names: list[str]) -> None:
    """Keep the episode's server-side state files (``names`` in ``root``) as they are now, at its start."""
    state = {name: (root / name).read_text(encoding="utf-8") if (root / name).exists() else None for name in names}
    (root / WORLD_START).write_text(json.dumps(state, ensure_ascii=False), encoding="utf-8")


def restore_world_start(root: Path) -> list[str]:
    """Put the state files back as the episode found them; the names restored (none without a saved start)."""
    saved = root / WORLD_START
    if not saved.exists():
        return []
    state: dict[str, str | None] = json.loads(saved.read_text(encoding="utf-8"))
    for name, text in state.items():
        path = root / name
        if text is None:
            path.unlink(missing_ok=True)
        else:
            write_atomic(path, text)
    return sorted(state)


def _replay_step(traj: Trajectory, step: StepRecord) -> ReplayStep:
    path = traj.frame_path(step)
    return ReplayStep(index=step.index, label=step.label, actions=step.actions, url=step.url, title=step.title,
                      frame=lambda: path.read_bytes() if path.exists() else None)


def _where(step: StepRecord) -> str:
    return f"step {step.index + 1}" + (f" ({step.label})" if step.label else "")


class Rebuilder:
    """Replays ``traj``'s recorded steps on ``env`` (fresh), verifying each before acting."""

    def __init__(self, env: Env, traj: Trajectory, guards: Safeguards, url_map: Callable[[str], str] = lambda u: u,
                 threshold: float = DEFAULT_THRESHOLD, settle_s: float = 15.0, poll_s: float = 0.1) -> None:
        self.env, self.traj, self.guards = env, traj, guards
        self.verifier = ReplayPolicy([], threshold=threshold, url_map=url_map)
        self.settle_s, self.poll_s = settle_s, poll_s

    def rebuild(self, start_url: str | None, restored: list[str], anyway: bool = False,
                pending_frame: str | None = None) -> Rebuild:
        """Open ``start_url`` and replay every recorded step. ``pending_frame``: the frame the step in progress
        decided on (an approval's), checked last, so the approved action acts on the world it was asked about."""
        t0 = time.perf_counter()
        self.env.reset(start_url)
        replayed = 0
        for step in self.traj.steps:
            diverged = self._verify(_replay_step(self.traj, step))
            if diverged is None and step.fault is None:
                diverged = self._act(step)
                if diverged is not None:
                    self._save(diverged, None, self.env.observe())
            if diverged is not None:
                return self._diverged(step, diverged, replayed, restored, anyway, t0)
            replayed += 1
        if pending_frame is not None and (self.traj.root / pending_frame).exists():
            path = self.traj.root / pending_frame
            index = len(self.traj.steps)
            pending = ReplayStep(index=index, actions=[], frame=lambda: path.read_bytes())
            diverged = self._verify(pending)
            if diverged is not None:
                fake = StepRecord.model_construct(index=index, label="the step awaiting approval")
                return self._diverged(fake, diverged, replayed, restored, anyway, t0)
        if isinstance(self.env, FrameSource):
            self.env.drain_frames()  # the rebuild's frames are not the next step's past
        return Rebuild(replayed=replayed, verified=True, seconds=round(time.perf_counter() - t0, 3), restored=restored)

    def _verify(self, step: ReplayStep) -> Divergence | None:
        """Compare until the live screen matches the recorded one, or the page has had ``settle_s`` to settle."""
        deadline = time.monotonic() + self.settle_s
        while True:
            live = self.env.observe()
            divergence = self.verifier.compare(step, live)
            if divergence is None:
                return None
            if time.monotonic() >= deadline:
                self._save(divergence, step, live)
                return divergence
            time.sleep(self.poll_s)

    def _act(self, step: StepRecord) -> Divergence | None:
        """Run the step's actions that ran when it was recorded, then wait for the checks it waited for."""
        for raw, result in zip(step.actions, step.results, strict=False):
            if not result.ok or raw.get("action") in SKIPPED_ACTIONS:
                continue
            try:
                action = parse_action(raw)
            except ActionError as exc:
                return Divergence(step=step.index, label=step.label, reasons=[f"the recorded action is not valid: {exc}"])
            filled = self.guards.fill(action, getattr(self.env, "url", None))
            done = filled if isinstance(filled, ActionResult) else self.env.execute(filled)
            if not done.ok:
                return Divergence(step=step.index, label=step.label,
                                  reasons=[f"its {action.action} failed on replay: {done.message}"])
        for record in step.checks:
            if not record.result.ok:
                continue
            done = self.env.check(Check.model_validate(record.check))
            if not done.ok:
                return Divergence(step=step.index, label=step.label, reasons=[f"after it, {done.message}"])
        return None

    def _diverged(self, step: StepRecord, divergence: Divergence, replayed: int, restored: list[str], anyway: bool,
                  t0: float) -> Rebuild:
        rebuild = Rebuild(replayed=replayed, verified=False, seconds=round(time.perf_counter() - t0, 3), restored=restored,
                          diverged_at=step.index, what=divergence.reasons, anyway=anyway)
        if anyway:
            if isinstance(self.env, FrameSource):
                self.env.drain_frames()
            return rebuild
        raise RebuildDiverged(diverged_message(self.traj.root, step, divergence), rebuild)

    def _save(self, divergence: Divergence, step: ReplayStep | None, live: Observation) -> None:
        """The live frame, and the recorded one with their diff, beside the trajectory (not in it)."""
        folder = self.traj.root / DIVERGENCE_DIR
        folder.mkdir(exist_ok=True)
        stem = f"step-{divergence.step:06d}"
        (folder / f"{stem}-live.png").write_bytes(live.image)
        recorded = step.frame() if step is not None else None
        if recorded is not None:
            (folder / f"{stem}-recorded.png").write_bytes(recorded)
            (folder / f"{stem}-diff.png").write_bytes(diff_image(recorded, live.image))


def diverged_message(root: Path, step: StepRecord, divergence: Divergence) -> str:
    """The sentence a divergence stops a resume with: the step, what differed, and the choices."""
    return (
        f"the replay that rebuilds the world diverged at {_where(step)}: {'; '.join(divergence.reasons)}; "
        f"no recorded step was changed (frames in {root / DIVERGENCE_DIR}). Choices: put the site back as it was "
        f"and resume again; go on from the diverged page with --resume-anyway (the segment is marked so); "
        f"or start a new run"
    )
