"""A recorded trajectory as a replay policy (``--policy replay``): its steps, frames and checks, with its demo-site
URLs moved to where the site is served now. The runner builds it; ``guiagent replay`` reports on it."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field

from guiagent.agent.trajectory import StepRecord, Trajectory, load_trajectory
from guiagent.policies.replay import Divergence, ReplayPolicy, ReplayStep, diff_image
from guiagent.tools import Check

DIVERGENCE_DIR = "divergence"


class ReplaySettings(BaseModel):
    """What a replay replays, and how strictly."""

    source: str
    mode: Literal["strict", "lenient"] = "strict"
    threshold: float = Field(default=0.95, gt=0, le=1)


def served_url(url: str | None, old_port: int | None, site_url: str | None) -> str | None:
    """A demo-site URL recorded under another port, moved to where the site is served now."""
    if url is None or old_port is None or site_url is None:
        return url
    return url.replace(f"http://127.0.0.1:{old_port}", site_url)


def _frame_loader(traj: Trajectory, step: StepRecord):
    path = traj.frame_path(step)
    return lambda: path.read_bytes() if path.exists() else None


def replay_policy(settings: ReplaySettings, out: Path, site_url: str | None) -> tuple[ReplayPolicy, dict]:
    """The replay policy for ``settings.source``, saving divergence images under ``out``."""
    source = load_trajectory(settings.source)
    old_port = (source.meta.extra.get("spec") or {}).get("demo_port")  # the port its demo site was served on
    url_map = lambda u: served_url(u, old_port, site_url) or u  # noqa: E731
    steps = [
        ReplayStep(
            index=s.index, label=s.label, actions=s.actions, model_actions=s.model_actions, mapping=s.mapping,
            thought=s.thought, raw=s.raw, url=s.url, title=s.title, frame=_frame_loader(source, s),
            checks=[Check.model_validate(c.check) for c in s.checks],
        )
        for s in source.steps
    ]
    folder = out / DIVERGENCE_DIR

    def save(divergence: Divergence, recorded: bytes | None, live: bytes) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        stem = folder / f"step-{divergence.step:06d}"
        (stem.with_name(stem.name + "-live.png")).write_bytes(live)
        if recorded is not None:
            (stem.with_name(stem.name + "-recorded.png")).write_bytes(recorded)
            (stem.with_name(stem.name + "-diff.png")).write_bytes(diff_image(recorded, live))

    declared = source.meta.declared.status if source.meta.declared is not None else None
    policy = ReplayPolicy(steps, mode=settings.mode, threshold=settings.threshold, declared=declared,
                          url_map=url_map, on_divergence=save)
    success = Check.model_validate(source.meta.success_check) if source.meta.success_check else None
    facts = {"task": source.meta.task, "start_url": url_map(source.meta.start_url) if source.meta.start_url else None,
             "success": success}
    return policy, facts
