"""Replay: re-issue recorded actions, checking first that the screen is where the recording was.

Verification before each step compares the live frame with the recorded pre-action frame by SSIM on
a 160x100 grayscale thumbnail (``similarity``), plus URL and title in the browser. Steps scoring
under ``threshold`` (default 0.95: a caret blink or a clock scores ~0.99, a different page < 0.8)
diverge. ``strict`` stops at the first divergence; ``lenient`` records it and goes on.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Literal

from PIL import Image
from pydantic import BaseModel, ConfigDict, Field

from guiagent.policies.base import Decision, DecisionContext, DecisionSource, PolicyError
from guiagent.tools import Check, Observation, ScreenMapping, Terminate, parse_action
from guiagent.tools.extras import need

if TYPE_CHECKING:
    import numpy as np

THUMB = (160, 100)
DEFAULT_THRESHOLD = 0.95


def _numpy() -> Any:
    """numpy, for comparing frames (the [media] extra)."""
    return need("numpy", "media", "comparing frames (replay)")


def _gray(png: bytes, size: tuple[int, int] = THUMB) -> np.ndarray:
    np = _numpy()
    image = Image.open(io.BytesIO(png)).convert("L").resize(size, Image.Resampling.BILINEAR)
    return np.asarray(image, dtype=np.float64)


def _box_mean(a: np.ndarray, k: int = 7) -> np.ndarray:
    """Mean over every k x k window (valid positions only), by summed-area table."""
    np = _numpy()
    s = np.pad(a, ((1, 0), (1, 0))).cumsum(0).cumsum(1)
    return (s[k:, k:] - s[:-k, k:] - s[k:, :-k] + s[:-k, :-k]) / (k * k)


def similarity(a_png: bytes, b_png: bytes) -> float:
    """Structural similarity (SSIM, 7x7 windows) of two frames' grayscale thumbnails: 1.0 is identical."""
    x, y = _gray(a_png), _gray(b_png)
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    mx, my = _box_mean(x), _box_mean(y)
    vx = _box_mean(x * x) - mx * mx
    vy = _box_mean(y * y) - my * my
    cov = _box_mean(x * y) - mx * my
    ssim = ((2 * mx * my + c1) * (2 * cov + c2)) / ((mx * mx + my * my + c1) * (vx + vy + c2))
    return float(ssim.mean())


def diff_image(a_png: bytes, b_png: bytes) -> bytes:
    """A PNG that shows where two frames differ (bright = different), at the first frame's size."""
    a = Image.open(io.BytesIO(a_png)).convert("RGB")
    b = Image.open(io.BytesIO(b_png)).convert("RGB").resize(a.size)
    np = _numpy()
    delta = np.abs(np.asarray(a, dtype=np.int16) - np.asarray(b, dtype=np.int16)).max(axis=2)
    heat = np.clip(delta * 4, 0, 255).astype(np.uint8)
    out = Image.fromarray(np.stack([heat, heat // 3, heat // 3], axis=2))
    buf = io.BytesIO()
    Image.blend(a.convert("L").convert("RGB"), out, 0.7).save(buf, "PNG")
    return buf.getvalue()


class ReplayStep(BaseModel):
    """One recorded step, as replay needs it."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    index: int
    label: str | None = None
    actions: list[dict[str, Any]]
    model_actions: list[dict[str, Any]] = Field(default_factory=list)
    mapping: ScreenMapping | None = None
    thought: str = ""
    raw: str | None = None
    url: str | None = None
    title: str | None = None
    checks: list[Check] = Field(default_factory=list, description="Checks the recording waited for after acting.")
    frame: Callable[[], bytes | None] = Field(description="Loads the recorded pre-action frame (None if missing).")


class Divergence(BaseModel):
    step: int
    label: str | None = None
    score: float | None = None
    reasons: list[str]


class ReplayPolicy:
    """Plays recorded steps back, verifying each against the live screen before acting."""

    kind = "replay"

    def __init__(
        self,
        steps: list[ReplayStep],
        mode: Literal["strict", "lenient"] = "strict",
        threshold: float = DEFAULT_THRESHOLD,
        declared: Literal["success", "failure"] | None = "success",  # the recording's own declaration
        url_map: Callable[[str], str] = lambda u: u,
        on_divergence: Callable[[Divergence, bytes | None, bytes], None] | None = None,
    ) -> None:
        self.steps, self.mode, self.threshold = steps, mode, threshold
        self.declared: Literal["success", "failure"] | None = declared
        self.url_map = url_map
        self.on_divergence = on_divergence
        self.divergences: list[Divergence] = []
        self.scores: dict[int, float | None] = {}

    def settings(self) -> dict[str, Any]:
        return {"kind": self.kind, "mode": self.mode, "threshold": self.threshold, "steps": len(self.steps)}

    def decide(self, context: DecisionContext) -> Decision:
        if context.plan_step >= len(self.steps):
            # the recording's own declaration, repeated (one it did not make, e.g. at a step limit, is a failure)
            return Decision(actions=[Terminate(status=self.declared or "failure")], label="end of recording",
                            source=DecisionSource.REPLAY)
        step = self.steps[context.plan_step]
        divergence = self.verify(step, context)
        info: dict[str, Any] = {"replay_of_step": step.index, "similarity": self.scores.get(step.index)}
        if divergence is not None:
            self.divergences.append(divergence)
            info["divergence"] = divergence.reasons
            if self.mode == "strict":
                raise PolicyError(f"replay diverged at step {step.index + 1}: {'; '.join(divergence.reasons)}")
        return Decision(
            info=info,
            actions=[parse_action(a) for a in step.actions],
            model_actions=[parse_action(a) for a in step.model_actions],
            mapping=step.mapping, thought=step.thought, raw=step.raw,
            label=step.label, checks=step.checks, source=DecisionSource.REPLAY,
        )

    def verify(self, step: ReplayStep, context: DecisionContext) -> Divergence | None:
        divergence = self.compare(step, context.observation)
        if divergence is not None and self.on_divergence is not None:
            self.on_divergence(divergence, step.frame(), context.observation.image)
        return divergence

    def compare(self, step: ReplayStep, live: Observation) -> Divergence | None:
        """How the live screen differs from the step's recorded one (URL, title, SSIM), or None if it matches."""
        reasons = []
        recorded = step.frame()
        score = None
        if recorded is None:
            reasons.append("the recorded frame is missing")
        else:
            score = similarity(recorded, live.image)
            if score < self.threshold:
                reasons.append(f"the screen differs (similarity {score:.3f} < {self.threshold})")
        self.scores[step.index] = score
        if step.url is not None and live.url is not None and self.url_map(step.url) != live.url:
            reasons.append(f"URL is {live.url!r}, recorded {self.url_map(step.url)!r}")
        if step.title is not None and live.title is not None and step.title != live.title:
            reasons.append(f"title is {live.title!r}, recorded {step.title!r}")
        if not reasons:
            return None
        return Divergence(step=step.index, label=step.label, score=score, reasons=reasons)
