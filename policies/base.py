"""The Policy protocol and the data it exchanges with the loop."""

from __future__ import annotations

from enum import StrEnum
from typing import Any, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field

from guiagent.tools import Action, Check, Observation, ScreenMapping
from guiagent.tools.targets import ResolvedTarget, Target, TargetScreen


class DecisionSource(StrEnum):
    """Who decided a step. The loop does not branch on it; replay, export, script-from-run and the report read it."""

    MODEL = "model"
    SCRIPT = "script"
    REPLAY = "replay"
    ORACLE = "oracle"  # a page task's DOM oracle
    PAGE = "page"  # the task's page ended the episode (a page task's reward)
    HUMAN = "human"
    MCP = "mcp"


class PolicyError(RuntimeError):
    """The policy cannot decide at all (model server down, script unreadable): the episode ends."""


class PolicyUnavailable(PolicyError):
    """The model server under the policy is down, silent or failing (not the task): the episode ends as
    an ``error``, resumable once the server is back."""


class StepSummary(BaseModel):
    """One earlier step as the policy sees it: small text, no pixels."""

    index: int
    t: float
    thought: str = ""
    raw: str | None = None
    model_actions: list[dict[str, Any]] = Field(default_factory=list, description="In model space, as the model wrote them.")
    actions: list[dict[str, Any]] = Field(default_factory=list, description="In the env's input space.")
    results: list[str] = Field(default_factory=list)
    error: str | None = None
    env_fault: bool = Field(default=False, description="The computer (or the model server grounding a target) died under this step: its actions or checks did not all run.")
    source: str = Field(default="model", description="Who decided it (model, script, human, mcp:<client>...).")


class DecisionContext(BaseModel):
    """What a policy gets to decide a step."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    task: str
    step: int
    max_steps: int
    observation: Observation
    history: list[StepSummary] = Field(default_factory=list)
    recent_frames: list[Observation] = Field(default_factory=list, description="Frames since the episode's start, oldest first, bounded.")

    @property
    def plan_step(self) -> int:
        """The step to take now for a policy that follows a plan (a script, a recording): a step the
        computer died under is taken again after resume, and a step a person took over is not one of the
        plan's, so neither counts."""
        return self.step - sum(1 for s in self.history if s.env_fault or s.source == DecisionSource.HUMAN.value)


class Decision(BaseModel):
    """A policy's answer: actions in the env's input space, plus what produced them."""

    actions: list[Action] = Field(default_factory=list)
    model_actions: list[Action] = Field(default_factory=list, description="The same actions in model space.")
    mapping: ScreenMapping | None = None
    checks: list[Check] = Field(default_factory=list, description="Conditions to wait for after the actions; failing one ends the episode.")
    must_succeed: bool = Field(default=False, description="A failed action fails the step and the episode (a script's); else it is fed back.")
    targets: list[dict[str, Target]] = Field(
        default_factory=list, description="Per action, the targets of its point fields: resolved (TargetResolver) when it runs."
    )
    label: str | None = Field(default=None, description="A name for the step (script step name).")
    thought: str = ""
    raw: str | None = Field(default=None, description="The model's text, verbatim.")
    format_error: str | None = Field(default=None, description="Why the model's answer could not be parsed.")
    usage: dict[str, int] | None = None
    latency_s: float | None = None
    info: dict[str, Any] = Field(default_factory=dict, description="Policy-specific facts to record (replay scores).")
    source: DecisionSource = Field(default=DecisionSource.MODEL, description="Who decided the step.")
    client: str | None = Field(default=None, description="Which outside driver decided it (an MCP client's name).")

    @property
    def recorded_source(self) -> str:
        """The step's source as recorded: ``model``, ``script``, ``human``, ``mcp:<client>``..."""
        return f"{self.source.value}:{self.client}" if self.source is DecisionSource.MCP and self.client else self.source.value


@runtime_checkable
class Policy(Protocol):
    """Decides the next action from the episode so far. Implementations: script, vlm, replay."""

    kind: str

    def decide(self, context: DecisionContext) -> Decision:
        """The next step's actions; raise PolicyError when no decision can be made at all."""
        ...

    def settings(self) -> dict[str, Any]:
        """What is needed to build the same policy again (recorded in meta.json)."""
        ...


@runtime_checkable
class PlannedPolicy(Protocol):
    """A policy that follows a plan of known length (a script): its episodes show that as their step limit
    where it is lower than the loop's."""

    def planned_steps(self) -> int:
        """The steps the plan takes, its final terminate included."""
        ...


@runtime_checkable
class TargetResolver(Protocol):
    """A policy whose actions may point at targets (script): resolved on the env's thread as they run."""

    def resolve_action(
        self, action: Action, targets: dict[str, Target], observation: Observation,
        screen: TargetScreen | None, regrounding: bool = False,
    ) -> tuple[Action, list[ResolvedTarget], str | None]:
        """The action with points for its targets, how each resolved, and an error if one could not be."""
        ...

    def keep(self, resolved: list[ResolvedTarget]) -> None:
        """The step's checks held: remember what the model grounded (the action cache)."""
        ...
