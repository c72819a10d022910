"""A model's dialect, bound once per episode: its family profile, the protocol it answers in, the env kind it
acts on and the family's tool vocabulary.

Everything that prompts, parses, labels or constrains for a model takes the dialect, so the four travel
together and none of them is a keyword default that a call can forget (a browser episode's model is offered
``navigate`` and ``back``; its parser, its constraint and its export labels must agree on that).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from guiagent.policies.base import StepSummary
from guiagent.policies.families import ModelFamily, get_family
from guiagent.tools import Action, ScreenMapping
from guiagent.tools.actions import EnvKind, Vocabulary
from guiagent.tools.parsing import ParsedAnswer, Protocol
from guiagent.tools.schema import computer_use_function


@dataclass(frozen=True)
class Dialect:
    """How one model is spoken to and read in one kind of env."""

    family: ModelFamily
    protocol: Protocol
    env: EnvKind

    def __post_init__(self) -> None:
        if self.protocol not in self.family.protocols:
            raise ValueError(f"the {self.family.name} family answers in {' or '.join(self.family.protocols)}, "
                             f"not {self.protocol}")
        if self.env not in ("browser", "desktop"):
            raise ValueError(f"unknown env kind {self.env!r} (expected browser or desktop)")

    @classmethod
    def of(cls, family: str | ModelFamily, protocol: Protocol, env: EnvKind) -> Dialect:
        """The dialect of a family (by name or profile); UnknownFamily or ValueError names what is wrong."""
        return cls(get_family(family) if isinstance(family, str) else family, protocol, env)

    @property
    def vocabulary(self) -> Vocabulary:
        """Whose computer_use tool the model is offered (its family's own, or Qwen2.5-VL's)."""
        return self.family.vocabulary

    # -- prompting ------------------------------------------------------------------------------

    def tool(self, width: int, height: int) -> dict[str, Any]:
        """The computer_use function offered for a screen of ``width`` x ``height`` model pixels."""
        return computer_use_function(width, height, self.env, self.vocabulary)

    def system_prompt(self, mapping: ScreenMapping) -> str:
        return self.family.system_prompt(self.protocol, mapping, self.env)

    def messages(self, system: str, task: str, history: list[StepSummary], media: list[dict[str, Any]],
                 past: dict[int, dict[str, Any]]) -> tuple[list[dict[str, Any]], dict[str, Any]]:
        """The chat messages (and extra request fields) in the family's trained turn structure."""
        return self.family.messages(self.protocol, system, task, history, media, past)

    # -- answering ------------------------------------------------------------------------------

    def parse(self, text: str) -> ParsedAnswer:
        """The model's answer as typed actions in model space, or ParseError saying what is wrong."""
        return self.family.parse(text, self.protocol, self.env)

    def format_answer(self, actions: list[Action], thought: str) -> str:
        """Actions (model space) written as the model answers: training labels."""
        return self.family.format_answer(actions, thought, self.protocol, self.env)

    def answer_regex(self, mapping: ScreenMapping, actions: list[str] | None, thought: bool = True) -> str:
        """A regex of well-formed answers for constrained decoding, points bounded to the model's space."""
        return self.family.answer_regex(self.protocol, mapping, actions, thought, self.env)


__all__ = ["Dialect"]
