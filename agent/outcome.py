"""How an episode ended, as data: what the policy declared, what the checks verified on the final world,
who ended it, the typed fault if the computer or a server failed, and the one outcome that follows.

This module is the only place that defines outcome, fault and check-kind values; everything else
imports these types and compares members, never strings. The rules (``settle``):

- ``success``: at least one check ran on the final world and every check that decides passed (a judge decides only
  where no rule or reward checked: beside them it is recorded, and its agreement with them measured, never obeyed);
- ``failure``: a check refused the final world, the step limit, the policy gave up, a script step failed;
  a declared success that a check refused is a *false success* (the reason names both);
- ``unverified``: the policy says it is done and nothing checked: its word is kept under ``declared``;
- ``error``: a fault of the computer, the model server or a check (resumable; a batch retries it);
- ``awaiting-approval``, ``interrupted``, ``running``: not finished; a resume continues them.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, Field


class Outcome(StrEnum):
    RUNNING = "running"
    SUCCESS = "success"
    FAILURE = "failure"
    UNVERIFIED = "unverified"
    ERROR = "error"
    AWAITING_APPROVAL = "awaiting-approval"
    INTERRUPTED = "interrupted"

    @property
    def finished(self) -> bool:
        """Ended for good: a resume returns it as recorded."""
        return self in (Outcome.SUCCESS, Outcome.FAILURE, Outcome.UNVERIFIED)

    @property
    def resumable(self) -> bool:
        return not self.finished


class FaultKind(StrEnum):
    ENV = "env"  # the computer: a browser, an X server or an app died or stopped answering
    MODEL_SERVER = "model-server"  # the model server is down, refused, timed out or answered garbage
    POLICY = "policy"  # the policy itself cannot decide (a broken script, an oracle with nothing to do)
    CHECK = "check"  # a check could not run (its env died under it, a judge that did not answer)
    INTERNAL = "internal"  # an unexpected exception: a bug, recorded (and retried by a batch) rather than lost

    @property
    def infrastructure(self) -> bool:
        """Not the task's fault: the episode ends in ``error``, and a batch retries it."""
        return self is not FaultKind.POLICY


class Fault(BaseModel):
    """A typed failure of something the episode depends on; ``message`` is for people."""

    kind: FaultKind
    message: str

    def __str__(self) -> str:
        return f"{self.kind.value}: {self.message}"


class EndedBy(StrEnum):
    """Who or what ended the episode."""

    POLICY = "policy"  # the policy declared the task done (success or failure)
    PAGE = "page"  # the task's page ended it (a page task's reward)
    STEP_LIMIT = "step-limit"
    TIME_LIMIT = "time-limit"  # a batch's wall-clock limit for an episode
    FORMAT_ERRORS = "format-errors"  # the model's answers could not be parsed, too many times in a row
    STEP_FAILED = "step-failed"  # a script step's action or expectation failed
    FAULT = "fault"  # see the fault's kind
    ASKED_FOR_HELP = "asked-for-help"  # the model asked a person, and none is attached
    INTERRUPTED = "interrupted"  # Ctrl-C, SIGTERM
    APPROVAL = "approval"  # stopped to wait for a person's approval


class Declared(BaseModel):
    """What the policy said at the end."""

    status: Literal["success", "failure"]
    answer: str | None = None
    by: str = Field(default="policy", description="Who declared it: model, script, replay, ... (the decision's source).")


class Ending(BaseModel):
    """How an episode is ending, as the node that ends it knows it (before the final checks run)."""

    by: EndedBy
    why: str | None = Field(default=None, description="The ender's own sentence: the step that failed, the limit.")
    declared: Declared | None = None
    fault: Fault | None = None

    @property
    def error(self) -> str | None:
        """What the step it ended at records as its error."""
        return str(self.fault) if self.fault is not None else self.why


class CheckKind(StrEnum):
    RULE = "rule"  # a success check: text, url, selector, js, window
    REWARD = "reward"  # a page task's own reward
    JUDGE = "judge"  # a second model's verdict
    FILE = "file"  # a getter and metric on the files an app left (OSWorld's evaluator: agent/checks)


class Verdict(BaseModel):
    """One check run on the final world: passed or not, what it saw, on which frame."""

    kind: CheckKind
    passed: bool
    check: dict[str, Any] = Field(default_factory=dict, description="The check as written (or the judge's settings).")
    saw: str | None = Field(default=None, description="What the check saw, for people.")
    frame: str | None = Field(default=None, description="The frame the final world was seen on, relative to the folder.")
    reward: float | None = None
    reasons: str | None = Field(default=None, description="A judge's reasons.")


class Settled(BaseModel):
    """The outcome and the sentence that says why."""

    outcome: Outcome
    reason: str | None = None


def settle(ended_by: EndedBy, declared: Declared | None, verified: list[Verdict], fault: Fault | None = None,
           why: str | None = None) -> Settled:
    """The outcome of a finished episode. ``why``: the ender's own sentence (the step that failed, the limit)."""
    if fault is not None and fault.kind.infrastructure:
        return Settled(outcome=Outcome.ERROR, reason=str(fault))
    if ended_by is EndedBy.INTERRUPTED:
        return Settled(outcome=Outcome.INTERRUPTED, reason=why)
    if ended_by is EndedBy.APPROVAL:
        return Settled(outcome=Outcome.AWAITING_APPROVAL, reason=why)
    verified = deciding(verified)
    refused = next((v for v in verified if not v.passed), None)
    if fault is not None:  # the policy could not decide
        return Settled(outcome=Outcome.FAILURE, reason=str(fault))
    if ended_by is EndedBy.STEP_FAILED:  # a script's own expectation failed: the script failed, whatever else holds
        return Settled(outcome=Outcome.FAILURE, reason=why)
    if refused is not None:
        seen = _seen(refused)
        if declared is not None and declared.status == "success":
            return Settled(outcome=Outcome.FAILURE, reason=f"false success: the {declared.by} declared success; {seen}")
        return Settled(outcome=Outcome.FAILURE, reason=_join(why or _ended(ended_by, declared), seen))
    if verified:
        if declared is not None and declared.status == "failure":
            return Settled(outcome=Outcome.SUCCESS, reason=f"the {declared.by} declared failure, but every check passed")
        return Settled(outcome=Outcome.SUCCESS)
    if ended_by is EndedBy.POLICY and declared is not None and declared.status == "success":
        return Settled(outcome=Outcome.UNVERIFIED, reason=f"the {declared.by} says it is done; no success check was given")
    return Settled(outcome=Outcome.FAILURE, reason=why or _ended(ended_by, declared))


def deciding(verified: list[Verdict]) -> list[Verdict]:
    """The verdicts that decide the outcome: the rules and rewards where any ran, else the judge's. A judge beside
    a rule or a reward is there to be measured against them (``Agreement``), not to overrule them."""
    rules = [v for v in verified if v.kind is not CheckKind.JUDGE]
    return rules or verified


def _seen(verdict: Verdict) -> str:
    what = {CheckKind.RULE: "the success check", CheckKind.REWARD: "the page's reward", CheckKind.JUDGE: "the judge",
            CheckKind.FILE: "the check of the app's files"}
    return f"{what[verdict.kind]} saw {verdict.saw or 'a failure'}"


def _ended(ended_by: EndedBy, declared: Declared | None) -> str:
    if ended_by is EndedBy.POLICY and declared is not None:
        return f"the {declared.by} declared {declared.status}"
    if ended_by is EndedBy.ASKED_FOR_HELP:
        return "the model asked for help, and no person is attached"
    if ended_by is EndedBy.PAGE:
        return "the page ended the episode"
    return f"the episode ended ({ended_by.value})"


def _join(first: str, second: str) -> str:
    return f"{first}; {second}"


class Agreement(BaseModel):
    """How one verdict kind (e.g. a judge) agrees with another (e.g. the reward) over episodes."""

    episodes: int = 0
    true_positive: int = 0
    false_positive: int = 0
    false_negative: int = 0
    true_negative: int = 0

    @property
    def precision(self) -> float | None:
        said = self.true_positive + self.false_positive
        return self.true_positive / said if said else None

    @property
    def recall(self) -> float | None:
        real = self.true_positive + self.false_negative
        return self.true_positive / real if real else None

    def add(self, said_success: bool, real_success: bool) -> None:
        self.episodes += 1
        if said_success:
            self.true_positive += real_success
            self.false_positive += not real_success
        else:
            self.false_negative += real_success
            self.true_negative += not real_success

    def summary(self) -> dict[str, Any]:
        return {**self.model_dump(), "precision": self.precision, "recall": self.recall}


def judge_agreement(verified: list[Verdict]) -> tuple[bool, bool] | None:
    """(the judge said success, the rules and rewards found success) for an episode that has both, else None."""
    judged = [v for v in verified if v.kind is CheckKind.JUDGE]
    rules = [v for v in verified if v.kind is not CheckKind.JUDGE]
    if not judged or not rules:
        return None
    return all(v.passed for v in judged), all(v.passed for v in rules)


def declared_label(declared: Declared | None) -> str:
    """The row of the declared x verified table: success, failure or none."""
    return declared.status if declared is not None else "none"


def verified_label(verified: list[Verdict]) -> str:
    """The column of the declared x verified table: passed, refused or unchecked."""
    verified = deciding(verified)
    if not verified:
        return "unchecked"
    return "passed" if all(v.passed for v in verified) else "refused"


class DeclaredVsVerified(BaseModel):
    """The table model developers look at: what the policy declared (success, failure, none) against what the
    checks found on the final world (passed, refused, unchecked). ``false_success`` is declared success that a
    check refused; ``false_failure``, a declared failure (or none) where every check passed."""

    cells: dict[str, dict[str, int]] = Field(default_factory=lambda: {
        d: {v: 0 for v in ("passed", "refused", "unchecked")} for d in ("success", "failure", "none")})

    def add(self, declared: Declared | None, verified: list[Verdict]) -> None:
        self.cells[declared_label(declared)][verified_label(verified)] += 1

    @property
    def true_success(self) -> int:
        return self.cells["success"]["passed"]

    @property
    def false_success(self) -> int:
        return self.cells["success"]["refused"]

    @property
    def false_failure(self) -> int:
        return self.cells["failure"]["passed"] + self.cells["none"]["passed"]

    @property
    def unverified(self) -> int:
        return self.cells["success"]["unchecked"]

    def summary(self) -> dict[str, Any]:
        return {"true_success": self.true_success, "false_success": self.false_success,
                "false_failure": self.false_failure, "unverified": self.unverified, "table": self.cells}
