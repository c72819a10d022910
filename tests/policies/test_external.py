"""Decisions from outside the loop: the handoff between the loop's thread and a driver, the takeover wrapper, and
points from the shown screen mapped by the geometry module (no browser: the loop's side is a thread here)."""

from __future__ import annotations

import threading
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import pytest

from guiagent.policies import Decision, DecisionContext, DecisionSource, PolicyError
from guiagent.policies.external import DriverLeft, ExternalPolicy, TakeoverPolicy, from_screen_pixels
from guiagent.tools import CoordinateOutOfRange, FrameGeometry, LeftClick, Observation, Type, Wait

GEOMETRY = FrameGeometry(width=2560, height=1600, scale=2.0)  # a DPR-2 screenshot of a 1280x800 viewport


def context(step: int = 0) -> DecisionContext:
    return DecisionContext(task="t", step=step, max_steps=10, observation=Observation(image=b"", t=0.0, geometry=GEOMETRY))


class Inner:
    kind = "script"

    def decide(self, context: DecisionContext) -> Decision:
        return Decision(actions=[Wait(time=0)], source=DecisionSource.SCRIPT)

    def settings(self) -> dict[str, Any]:
        return {"kind": self.kind}


@pytest.fixture
def loop_thread():
    with ThreadPoolExecutor(1) as pool:
        yield pool


def test_points_of_the_shown_screen_reach_the_env_in_its_own_units() -> None:
    decision = from_screen_pixels([LeftClick(coordinate=(1280, 400))], GEOMETRY, DecisionSource.HUMAN)
    assert decision.actions == [LeftClick(coordinate=(640, 200))]  # CSS pixels
    assert decision.model_actions == [LeftClick(coordinate=(1280, 400))] and decision.mapping is not None
    with pytest.raises(CoordinateOutOfRange):
        from_screen_pixels([LeftClick(coordinate=(3000, 10))], GEOMETRY, DecisionSource.HUMAN)


def test_a_driver_decides_the_waiting_step_and_is_recorded_as_its_source(loop_thread) -> None:
    policy = ExternalPolicy(DecisionSource.MCP, client="claude")
    with pytest.raises(PolicyError):
        policy.submit(Decision())  # no step waits yet
    pending: Future[Decision] = loop_thread.submit(policy.decide, context(3))
    waiting = policy.wait_turn(30)
    assert waiting is not None and waiting.step == 3
    assert policy.submit(Decision(actions=[Type(text="hi")])) == 3
    decided = pending.result(30)
    assert decided.recorded_source == "mcp:claude" and decided.actions == [Type(text="hi")]
    later = loop_thread.submit(policy.decide, context(4))
    assert policy.wait_turn(30) is not None
    policy.close("the client left")
    with pytest.raises(DriverLeft, match="the client left"):
        later.result(30)


def test_a_person_takes_over_and_hands_the_waiting_step_back(loop_thread) -> None:
    outside = ExternalPolicy(DecisionSource.HUMAN)
    policy = TakeoverPolicy(Inner(), outside)
    assert policy.decide(context(0)).source is DecisionSource.SCRIPT and policy.settings() == {"kind": "script"}
    policy.take_over()
    mine = loop_thread.submit(policy.decide, context(1))
    assert outside.wait_turn(30) is not None
    outside.submit(Decision(actions=[Wait(time=0)]))
    assert mine.result(30).source is DecisionSource.HUMAN
    handed = loop_thread.submit(policy.decide, context(2))
    assert outside.wait_turn(30) is not None
    policy.hand_back()  # the step the person was asked for goes to the policy
    assert handed.result(30).source is DecisionSource.SCRIPT


def test_pause_holds_the_next_decision_until_resumed(loop_thread) -> None:
    policy = TakeoverPolicy(Inner(), ExternalPolicy())
    policy.pause(True)
    started = threading.Event()

    def decide() -> Decision:
        started.set()
        return policy.decide(context(0))

    held = loop_thread.submit(decide)
    assert started.wait(30)
    assert not held.done()  # (a held decision cannot finish while paused: nothing else releases it)
    policy.pause(False)
    assert held.result(30).source is DecisionSource.SCRIPT
