"""The two pure halves of a model step: the screen as the model sees it, and what its answer means on it.

``mapping_for`` says at which size the screenshot is shown and how the model's points map back to the
env's input space; ``actions_from_answer`` turns the model's text into actions in that input space.
Neither does I/O, so an embedder (or a test) can use them without a server.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from guiagent.policies.dialect import Dialect
from guiagent.policies.families import DEFAULT_FAMILY, ModelFamily, get_family
from guiagent.tools import Action, Observation, ScreenMapping


class ScreenAnswer(BaseModel):
    """A model answer read on one screen: its thought, its actions as written and in the env's input space."""

    model_config = ConfigDict(frozen=True)

    thought: str = ""
    model_actions: list[Action] = Field(default_factory=list, description="As the model wrote them (model pixels).")
    actions: list[Action] = Field(default_factory=list, description="The same actions in the env's input space.")


def _family(family: str | ModelFamily) -> ModelFamily:
    return get_family(family) if isinstance(family, str) else family


def mapping_for(observation: Observation, min_pixels: int | None = None, max_pixels: int | None = None,
                family: str | ModelFamily = DEFAULT_FAMILY) -> ScreenMapping:
    """The screen mapping a model of ``family`` sees for ``observation``: the size its resize rule gives
    for these pixel limits (the family's own when unset), its coordinate space, and the way back to the
    env's input space. Raises ValueError for limits no resize can meet."""
    return _family(family).mapping(observation.geometry, min_pixels, max_pixels)


def actions_from_answer(text: str, mapping: ScreenMapping, dialect: Dialect) -> ScreenAnswer:
    """The model's ``text`` (in ``dialect``: its family's answer forms, its protocol, the actions offered in its env
    kind) as actions on the screen ``mapping`` describes.

    Raises ``ParseError`` when the text is not a valid call and ``CoordinateOutOfRange`` when a point
    lies outside the space the model was shown (both ValueError, with a message for the model).
    """
    parsed = dialect.parse(text)
    actions = [a.map_points(mapping.model_to_input) for a in parsed.actions]
    return ScreenAnswer(thought=parsed.thought, model_actions=parsed.actions, actions=actions)
