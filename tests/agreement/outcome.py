"""What an answer does on the screen, in one shape for both sides: ours (a family's parser and mapping) and
the authors' (their parser and their mapping), so that the two can be compared act by act.

An ``Outcome`` is a refusal (with why) or a sequence of ``Act``: the action kind in our vocabulary's
names, its points in screen pixels after that side's own mapping, and the text, keys, amount and status
that it carries. Agreement (issue 27): the same kinds, points within one screen pixel, the same text,
keys, scroll direction and amount; a refusal on both sides agrees.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from guiagent.policies.families import ModelFamily
from guiagent.tools import (
    Action,
    CallUser,
    CoordinateOutOfRange,
    FrameGeometry,
    HScroll,
    Key,
    LeftClickDrag,
    Scroll,
    Terminate,
    Type,
    Wait,
)
from guiagent.tools.keys import canonical_key
from guiagent.tools.parsing import ParseError, Protocol

Point = tuple[float, float]
PIXEL = 1.0  # points agree within one screen pixel, each axis
OFF_SCREEN = "off-screen"


@dataclass(frozen=True)
class Act:
    kind: str  # our action names: left_click, left_click_drag, key, type, scroll, hscroll, terminate, call_user, ...
    points: tuple[Point, ...] = ()  # screen pixels; a drag's start (when it states one) then its end
    text: str | None = None  # what a type types, a terminate's answer
    keys: tuple[str, ...] = ()  # canonical key names (tools.keys)
    amount: float | None = None  # scroll: signed pixels (up/right positive); wait: seconds; None: not stated
    status: str | None = None  # terminate: success / failure


@dataclass(frozen=True)
class Outcome:
    acts: tuple[Act, ...] = ()
    refused: str | None = None  # why, when the answer makes no action
    notes: frozenset[str] = field(default_factory=frozenset)  # the authors' quirks the reference met

    @property
    def is_refusal(self) -> bool:
        return self.refused is not None


@dataclass(frozen=True)
class Sample:
    """One generated answer: which family and protocol it is written for, what it holds (the action kind
    and the form of its coordinates or text, for the table), and the screen it answers about."""

    family: str
    protocol: Protocol
    kind: str
    form: str
    text: str
    screen: tuple[int, int]  # width, height in pixels


def key_name(name: str) -> str:
    """A key as pyautogui, xdotool or a model names it, in tools.keys' canonical spelling."""
    return "space" if name == " " else canonical_key(name)


def act_of(action: Action) -> Act:
    """Our typed action (points already in screen pixels) as an Act."""
    points = tuple(action.points().values())
    match action:
        case Key(keys=keys):
            return Act("key", keys=tuple(keys))
        case Type(text=text):
            return Act("type", text=text)
        case Scroll(pixels=px) | HScroll(pixels=px):
            return Act(action.action, points, amount=float(px))
        case Wait(time=t):
            return Act("wait", amount=float(t))
        case Terminate(status=status, answer=answer):
            return Act("terminate", text=answer, status=status)
        case CallUser():
            return Act("call_user")
        case LeftClickDrag():
            return Act("left_click_drag", points)
    return Act(action.action, points)


def ours(family: ModelFamily, sample: Sample) -> Outcome:
    """What our runtime does with the answer: the family's parser, then its mapping onto the screen."""
    try:
        parsed = family.parse(sample.text, sample.protocol, "desktop")
    except ParseError as exc:
        return Outcome(refused=f"format: {exc}")
    width, height = sample.screen
    mapping = family.mapping(FrameGeometry(width=width, height=height))
    acts = []
    for action in parsed.actions:
        try:
            acts.append(act_of(action.map_points(mapping.model_to_captured)))
        except CoordinateOutOfRange as exc:
            return Outcome(refused=f"{OFF_SCREEN}: {exc}")
    return Outcome(tuple(acts))


def points_agree(a: tuple[Point, ...], b: tuple[Point, ...]) -> bool:
    return len(a) == len(b) and all(abs(p[0] - q[0]) <= PIXEL and abs(p[1] - q[1]) <= PIXEL for p, q in zip(a, b, strict=True))


def acts_agree(a: Act, b: Act) -> bool:
    return (a.kind == b.kind and points_agree(a.points, b.points) and a.keys == b.keys
            and (a.text == b.text or None in (a.text, b.text) and a.kind != "type")
            and (a.amount is None or b.amount is None or abs(a.amount - b.amount) < 1e-6)
            and a.status == b.status)


def agree(a: Outcome, b: Outcome) -> bool:
    if a.is_refusal or b.is_refusal:
        return a.is_refusal and b.is_refusal
    return len(a.acts) == len(b.acts) and all(acts_agree(x, y) for x, y in zip(a.acts, b.acts, strict=True))


def off_screen(points: tuple[Point, ...], screen: tuple[int, int]) -> bool:
    """Whether any point lies off the screen's pixels (at or past the far edge, or negative)."""
    width, height = screen
    return any(not (0 <= x < width and 0 <= y < height) for x, y in points)
