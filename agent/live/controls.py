"""The live view's controls of an episode run in this process (``run --live``): approve or deny, pause, take
over, act as a person, hand back, stop.

The episode's policy is wrapped in a TakeoverPolicy; a person's actions reach the loop as decisions of its
ExternalPolicy (source ``human``), their points given in the pixels of the screen the page shows and mapped by
the one geometry module. An approval is answered through the episode's approver, the path a terminal's y/n
takes; a step the person decided themselves is approved at once (they chose it), with a note saying so.
"""

from __future__ import annotations

import threading
from typing import Any

from pydantic import ValidationError

from guiagent.agent.trajectory import StepRecord
from guiagent.policies import DecisionSource, Policy
from guiagent.policies.external import ExternalPolicy, TakeoverPolicy, from_screen_pixels
from guiagent.tools import CoordinateOutOfRange
from guiagent.tools.actions import ActionError, parse_action

TURN_WAIT_S = 60.0
"""How long a person's action waits for the episode to reach a step they can decide."""


class ControlError(ValueError):
    """A control the episode cannot take now; the message says why."""


class LiveControls:
    """Controls over one in-process episode; ``wrap`` its policy, ``approver`` its approvals, ``on_step`` its steps."""

    def __init__(self) -> None:
        self.outside = ExternalPolicy(DecisionSource.HUMAN)
        self.policy: TakeoverPolicy | None = None
        self._cond = threading.Condition()
        self._request: dict[str, Any] | None = None
        self._answer: dict[str, Any] | None = None
        self._mine: set[int] = set()  # steps the person decided
        self._records: dict[int, StepRecord] = {}
        self._stopped = False

    # -- hooks the episode is built with ---------------------------------------------------------

    def wrap(self, policy: Policy) -> Policy:
        self.policy = TakeoverPolicy(policy, self.outside)
        return self.policy

    def approver(self, request: dict[str, Any]) -> dict[str, Any]:
        """Answer an approval request: at once for the person's own step, else when the page answers."""
        with self._cond:
            if request.get("step") in self._mine:
                return {"approved": True, "note": "decided by the person in the live view"}
            self._request, self._answer = request, None
            self._cond.notify_all()
            self._cond.wait_for(lambda: self._answer is not None or self._stopped)
            answer = self._answer or {"approved": False, "note": "the live view stopped the episode"}
            self._request = None
            return answer

    def on_step(self, record: StepRecord, max_steps: int) -> None:
        with self._cond:
            self._records[record.index] = record
            self._cond.notify_all()

    # -- what the page does ------------------------------------------------------------------------

    def state(self) -> dict[str, Any]:
        policy = self.policy
        with self._cond:
            request = self._request
        waiting = self.outside.waiting
        return {"approval": request, "taken_over": bool(policy and policy.taken_over), "paused": bool(policy and policy.paused),
                "your_turn": waiting is not None, "stopped": self._stopped}

    def answer(self, approved: bool, note: str | None = None) -> None:
        with self._cond:
            if self._request is None:
                raise ControlError("no action is waiting for approval")
            self._answer = {"approved": approved, "note": note or None}
            self._cond.notify_all()

    def _policy(self) -> TakeoverPolicy:
        if self.policy is None:
            raise ControlError("the episode has not started")
        return self.policy

    def pause(self, on: bool) -> None:
        self._policy().pause(on)

    def take_over(self) -> None:
        self._policy().take_over()

    def hand_back(self) -> None:
        self._policy().hand_back()

    def stop(self) -> None:
        with self._cond:
            self._stopped = True
            self._cond.notify_all()
        self._policy().stop("stopped in the live view")

    def act(self, action: dict[str, Any]) -> StepRecord:
        """Take one step as the person: ``action`` in the computer_use vocabulary, points in the shown screen's pixels."""
        policy = self._policy()
        if not policy.taken_over:
            raise ControlError("take over first: the policy is deciding")
        try:
            parsed = parse_action(action)
        except (ActionError, ValidationError) as exc:
            raise ControlError(str(exc)) from None
        context = self.outside.wait_turn(TURN_WAIT_S)
        if context is None:
            raise ControlError("the episode did not reach a step you can decide (it may have ended)")
        try:
            decision = from_screen_pixels([parsed], context.observation.geometry, DecisionSource.HUMAN)
        except CoordinateOutOfRange as exc:
            raise ControlError(str(exc)) from None
        with self._cond:
            self._mine.add(context.step)
        index = self.outside.submit(decision)
        with self._cond:
            self._cond.wait_for(lambda: index in self._records or self._stopped, TURN_WAIT_S)
            record = self._records.get(index)
        if record is None:
            raise ControlError("the step did not finish")
        return record
