"""What the episode loop keeps and returns: its limits, its checkpointed state and the step in progress, its result,
and small helpers its nodes share (a fault's ending, the recordable and redacted update, a node's timing)."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any, Protocol, TypedDict

from pydantic import BaseModel, Field

from guiagent.agent.outcome import Declared, EndedBy, Ending, Fault, FaultKind, Outcome, Verdict
from guiagent.agent.trajectory import CheckRecord, StepRecord
from guiagent.policies import Decision
from guiagent.tools import ActionResult, FrameGeometry, Observation
from guiagent.tools.targets import ResolvedTarget
from guiagent.tools.text import recordable_tree


class LoopConfig(BaseModel):
    """Limits of one episode."""

    max_steps: int = Field(default=50, ge=1)
    max_format_errors: int = Field(default=3, ge=0, description="Consecutive unparseable answers before failing.")
    decide_timeout_s: float = Field(default=300.0, gt=0)
    frame_buffer: int = Field(default=256, ge=1, description="Frames kept in memory for the policy's video.")


StepJson = dict[str, Any]
"""A StepInProgress as JSON (StepInProgress.of reads it back)."""
EndingJson = dict[str, Any]
"""An Ending as JSON (ending_of reads it back)."""


class Seen(BaseModel):
    """What the step's record needs of its observation: everything but the pixels."""

    t: float
    geometry: FrameGeometry
    url: str | None = None
    title: str | None = None
    window: str | None = None
    a11y: str | None = None

    @classmethod
    def of(cls, obs: Observation) -> Seen:
        return cls(t=obs.t, geometry=obs.geometry, url=obs.url, title=obs.title, window=obs.window, a11y=obs.a11y)


class StepInProgress(BaseModel):
    """The step in progress, as each node adds to it for the record node (no pixels)."""

    t_start: float = 0.0
    timings_ms: dict[str, float] = Field(default_factory=dict)
    obs: Seen | None = None
    decision: Decision | None = None
    approval: dict[str, Any] | None = Field(default=None, description="A person's answer: the request, approved, note.")
    targets: list[ResolvedTarget] = Field(default_factory=list)
    results: list[ActionResult] = Field(default_factory=list)
    checks: list[CheckRecord] = Field(default_factory=list)
    context_frames: list[dict[str, Any]] = Field(default_factory=list)
    t_end: float | None = None
    frame_after: str | None = None
    t_after: float | None = None
    record_ms: float | None = None

    @classmethod
    def of(cls, state: Mapping[str, Any]) -> StepInProgress:
        """The step in progress in ``state`` (an EpisodeState, or a checkpoint's values)."""
        return cls.model_validate(state.get("pending") or {})

    def state(self) -> StepJson:
        """The form the checkpoint holds."""
        return self.model_dump(mode="json")


class EpisodeState(TypedDict):
    """The loop's checkpointed state: small things only, so a checkpoint costs the same at every step. JSON values
    only: the checkpoint is read without reviving the code's classes (LangGraph's msgpack allowlist), and every
    update passes ``recordable`` (valid UTF-8, secrets redacted) on its way in."""

    step: int
    status: str  # an Outcome's value: running until the episode ended, then the settled outcome
    reason: str | None
    answer: str | None
    format_errors: int
    frame_id: str | None
    pending: StepJson  # the step in progress
    ending: EndingJson | None  # once a node ended the episode (the final checks not yet run)


def ending_of(state: Mapping[str, Any]) -> Ending | None:
    """The ending a node has set in ``state``, if any."""
    return Ending.model_validate(state["ending"]) if state.get("ending") else None


class EpisodeResult(BaseModel):
    """How an episode ended, as its meta.json records it."""

    status: Outcome = Field(description="The outcome (agent/outcome.py).")
    reason: str | None = None
    answer: str | None = None
    steps: int
    ended_by: EndedBy | None = None
    declared: Declared | None = None
    verified: list[Verdict] = Field(default_factory=list)


StepCallback = Callable[[StepRecord, int], None]


def state_after(recorded: list[StepRecord]) -> EpisodeState:
    """The state at the start of the step after ``recorded``, rebuilt from the records alone."""
    errors = 0
    for record in reversed(recorded):
        if record.format_error is None:
            break
        errors += 1
    return {
        "step": len(recorded), "status": Outcome.RUNNING.value, "reason": None, "answer": None,
        "format_errors": errors, "frame_id": None, "pending": {}, "ending": None,
    }


class Node(Protocol):
    def __call__(self, state: EpisodeState) -> dict[str, Any]: ...


def recordable(node: Node, redact: Callable[[Any], Any]) -> Node:
    """A node whose update is made recordable (tools.text) and has its secrets redacted before LangGraph
    checkpoints it and the record node writes it: the model's text, page titles and URLs, env messages, the
    ending. (The trajectory writer redacts what it writes again; this is what keeps them out of the checkpoint.)"""

    def run(state: EpisodeState) -> dict[str, Any]:
        return {k: redact(recordable_tree(v)) for k, v in node(state).items()}

    return run


def fault_ending(kind: FaultKind, error: object) -> EndingJson:
    """The ending of an episode that a fault took."""
    return Ending(by=EndedBy.FAULT, fault=Fault(kind=kind, message=str(error))).model_dump(mode="json")


def elapsed_ms(t0: float) -> float:
    """Milliseconds since ``t0`` (a perf_counter reading), rounded to the microsecond."""
    return round((time.perf_counter() - t0) * 1000, 3)
