"""What the episode loop keeps and returns: its limits, its checkpointed state, its result, and small helpers its
nodes share (a fault's ending, the record-safe update, a node's timing)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, Protocol, TypedDict

from pydantic import BaseModel, Field

from guiagent.agent.outcome import Declared, EndedBy, Ending, Fault, FaultKind, Outcome, Verdict
from guiagent.agent.trajectory import StepRecord
from guiagent.tools.text import recordable_tree


class LoopConfig(BaseModel):
    """Limits of one episode."""

    max_steps: int = Field(default=50, ge=1)
    max_format_errors: int = Field(default=3, ge=0, description="Consecutive unparseable answers before failing.")
    decide_timeout_s: float = Field(default=300.0, gt=0)
    frame_buffer: int = Field(default=256, ge=1, description="Frames kept in memory for the policy's video.")


class EpisodeState(TypedDict):
    """The loop's checkpointed state: small things only, so a checkpoint costs the same at every step."""

    step: int
    status: str  # an Outcome: running until the episode ended, then the settled outcome
    reason: str | None
    answer: str | None
    format_errors: int
    frame_id: str | None
    pending: dict[str, Any]  # the step in progress: decision, results, timings (no pixels)
    ending: dict[str, Any] | None  # an Ending, once a node ended the episode (the final checks not yet run)


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


def recordable(node: Node) -> Node:
    """A node whose update is made recordable (tools.text) before LangGraph checkpoints it and the
    record node writes it: the model's text, page titles, env messages."""

    def run(state: EpisodeState) -> dict[str, Any]:
        return {k: recordable_tree(v) for k, v in node(state).items()}

    return run


def fault_ending(kind: FaultKind, error: object) -> dict[str, Any]:
    """The ending of an episode that a fault took."""
    return Ending(by=EndedBy.FAULT, fault=Fault(kind=kind, message=str(error))).model_dump(mode="json")


def elapsed_ms(t0: float) -> float:
    """Milliseconds since ``t0`` (a perf_counter reading), rounded to the microsecond."""
    return round((time.perf_counter() - t0) * 1000, 3)
