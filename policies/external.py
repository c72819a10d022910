"""Decisions from outside the loop: a person in the live view, an MCP client.

One mechanism for both: the loop asks ``ExternalPolicy.decide`` as it asks any policy; the call waits until an
outside driver ``submit``s a decision for that turn. A decision carries its source (``human``, ``mcp``) and the
client's name, so the step is recorded like any other, with who decided it. ``TakeoverPolicy`` wraps a policy
(a model, a script) so that a person can pause it, take over (their steps come through an ExternalPolicy) and
hand back.

Points from outside are in the pixels of the screen that was shown (the captured frame); ``from_screen_pixels``
maps them to the env's input space through the one geometry module, as a model's points are.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Sequence
from typing import Any

from guiagent.policies.base import Decision, DecisionContext, DecisionSource, Policy, PolicyError
from guiagent.tools import Action, FrameGeometry, ScreenMapping


class DriverLeft(PolicyError):
    """The outside driver closed the policy (the MCP client or the live view went away) while a step waited."""


class HandedBack(Exception):
    """The person handed the waiting step back to the policy they took over from (TakeoverPolicy answers it)."""


_HAND_BACK = object()


def screen_mapping(geometry: FrameGeometry) -> ScreenMapping:
    """The mapping for points given in the captured frame's own pixels (what a person or an MCP client is shown)."""
    return geometry.resized_to(geometry.width, geometry.height, "resized-pixels")


def from_screen_pixels(actions: Sequence[Action], geometry: FrameGeometry, source: DecisionSource,
                       client: str | None = None, thought: str = "") -> Decision:
    """A decision whose points are pixels of the shown frame: kept as given (model space) and mapped to the
    env's input space. Raises CoordinateOutOfRange for a point outside the frame."""
    mapping = screen_mapping(geometry)
    return Decision(actions=[a.map_points(mapping.model_to_input) for a in actions], model_actions=list(actions),
                    mapping=mapping, thought=thought, source=source, client=client)


class ExternalPolicy:
    """A policy whose decisions arrive from outside: ``decide`` waits for the driver's ``submit``."""

    kind = "external"

    def __init__(self, source: DecisionSource = DecisionSource.HUMAN, client: str | None = None) -> None:
        self.source, self.client = source, client
        self._cond = threading.Condition()
        self._turn: DecisionContext | None = None
        self._inbox: queue.SimpleQueue[Decision | object | None] = queue.SimpleQueue()
        self._closed: str | None = None

    def decide(self, context: DecisionContext) -> Decision:
        with self._cond:
            if self._closed is not None:
                raise DriverLeft(self._closed)
            self._turn = context
            self._cond.notify_all()
        decision = self._inbox.get()
        with self._cond:
            self._turn = None
        if decision is _HAND_BACK:
            raise HandedBack
        if not isinstance(decision, Decision):
            raise DriverLeft(self._closed or "the outside driver left")
        return decision

    def settings(self) -> dict[str, Any]:
        return {"kind": self.kind, "source": self.source.value, "client": self.client}

    # -- the driver's side (any thread) ------------------------------------------------------

    def wait_turn(self, timeout: float | None = None) -> DecisionContext | None:
        """The context of the step that waits for a decision; None if none came within ``timeout`` or the
        policy is closed."""
        with self._cond:
            self._cond.wait_for(lambda: self._turn is not None or self._closed is not None, timeout)
            return self._turn

    @property
    def waiting(self) -> DecisionContext | None:
        """The step waiting for a decision now, if any."""
        with self._cond:
            return self._turn

    def submit(self, decision: Decision) -> int:
        """Decide the waiting step (stamped with this policy's source and client); returns its index. Raises
        PolicyError when no step waits (decide one at a time: ``wait_turn`` first)."""
        with self._cond:
            if self._turn is None:
                raise PolicyError("no step is waiting for a decision")
            index, self._turn = self._turn.step, None
        self._inbox.put(decision.model_copy(update={"source": self.source, "client": self.client}))
        return index

    def hand_back(self) -> None:
        """Give the waiting step (if any) back: its ``decide`` raises HandedBack."""
        with self._cond:
            if self._turn is None:
                return
            self._turn = None
        self._inbox.put(_HAND_BACK)

    def close(self, why: str) -> None:
        """No more decisions: a step waiting now, or asked later, ends the episode with ``why``."""
        with self._cond:
            if self._closed is None:
                self._closed = why
            self._cond.notify_all()
        self._inbox.put(None)


class TakeoverPolicy:
    """``inner`` decides until a person takes over; then ``outside`` does, until they hand back. ``pause`` holds
    the next decision (the step after the one under way) until ``resume``."""

    def __init__(self, inner: Policy, outside: ExternalPolicy) -> None:
        self.inner, self.outside = inner, outside
        self.kind = inner.kind
        self._cond = threading.Condition()
        self._taken = False
        self._paused = False
        self._stopped: str | None = None

    def decide(self, context: DecisionContext) -> Decision:
        with self._cond:
            self._cond.wait_for(lambda: not self._paused or self._taken or self._stopped is not None)
            if self._stopped is not None:
                raise DriverLeft(self._stopped)
            taken = self._taken
        if taken:
            try:
                return self.outside.decide(context)
            except HandedBack:
                pass
        return self.inner.decide(context)

    def settings(self) -> dict[str, Any]:
        return self.inner.settings()  # what resume rebuilds: the policy that was driving, not the person

    def __getattr__(self, name: str) -> Any:  # a script's target resolution and action cache, as the inner has them
        return getattr(self.inner, name)

    @property
    def taken_over(self) -> bool:
        with self._cond:
            return self._taken

    @property
    def paused(self) -> bool:
        with self._cond:
            return self._paused

    def take_over(self) -> None:
        with self._cond:
            self._taken = True
            self._cond.notify_all()

    def hand_back(self) -> None:
        """The policy decides again, from the next step on (a step the person was asked for is passed back)."""
        with self._cond:
            self._taken = False
            self._cond.notify_all()
        self.outside.hand_back()

    def pause(self, on: bool = True) -> None:
        with self._cond:
            self._paused = on
            self._cond.notify_all()

    def stop(self, why: str) -> None:
        """End the episode at the next decision (or the one waiting now)."""
        with self._cond:
            self._stopped = why
            self._cond.notify_all()
        self.outside.close(why)
