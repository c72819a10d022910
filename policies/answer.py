"""The two pure halves of a model step: the screen as the model sees it, and what its answer means on it.

``mapping_for`` says at which size the screenshot is shown and how the model's points map back to the
env's input space; ``actions_from_answer`` turns the model's text into actions in that input space.
Neither does I/O, so an embedder (or a test) can use them without a server.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from guiagent.tools import Action, Observation, ScreenMapping
from guiagent.tools.geometry import MAX_PIXELS, MIN_PIXELS
from guiagent.tools.parsing import Protocol, parse_answer


class ScreenAnswer(BaseModel):
    """A model answer read on one screen: its thought, its actions as written and in the env's input space."""

    model_config = ConfigDict(frozen=True)

    thought: str = ""
    model_actions: list[Action] = Field(default_factory=list, description="As the model wrote them (model pixels).")
    actions: list[Action] = Field(default_factory=list, description="The same actions in the env's input space.")


def mapping_for(observation: Observation, min_pixels: int = MIN_PIXELS, max_pixels: int = MAX_PIXELS) -> ScreenMapping:
    """The screen mapping a model sees for ``observation``: smart_resize's size for these pixel limits,
    and the way back from model pixels to the env's input space. Raises ValueError for limits no
    resize can meet."""
    return observation.geometry.for_model(min_pixels, max_pixels)


def actions_from_answer(text: str, mapping: ScreenMapping, protocol: Protocol = "tool-call") -> ScreenAnswer:
    """The model's ``text`` (in ``protocol``) as actions on the screen ``mapping`` describes.

    Raises ``ParseError`` when the text is not a valid call and ``CoordinateOutOfRange`` when a point
    lies outside the screen the model was shown (both ValueError, with a message for the model).
    """
    parsed = parse_answer(text, protocol)
    actions = [a.map_points(mapping.model_to_input) for a in parsed.actions]
    return ScreenAnswer(thought=parsed.thought, model_actions=parsed.actions, actions=actions)
