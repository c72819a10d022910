"""Answers drawn from each family's constrained-output regex (``answer_regex``: what vLLM lets a model
write under structured outputs), for Hypothesis: every one must parse to actions on the screen it was
drawn for. Used by tests/policies/test_constrained_answers.py and, at a larger count, bench/fuzz.py."""

from __future__ import annotations

from hypothesis import strategies as st

from guiagent.policies.answer import ScreenAnswer, actions_from_answer
from guiagent.policies.dialect import Dialect
from guiagent.policies.families import ModelFamily
from guiagent.tools import FrameGeometry, ScreenMapping
from guiagent.tools.actions import EnvKind
from guiagent.tools.parsing import Protocol

# A laptop screen, and a HiDPI one whose captured pixels are twice its input points.
SCREENS = (FrameGeometry(width=1280, height=800, scale=1.0), FrameGeometry(width=2560, height=1600, scale=2.0))
ENVS: tuple[EnvKind, ...] = ("desktop", "browser")

Drawn = tuple[ScreenMapping, Protocol, EnvKind, str]


def regex_answers(family: ModelFamily) -> st.SearchStrategy[Drawn]:
    """(mapping, protocol, env, answer): each screen, each protocol the family writes, each env, with and
    without a thought, the answer drawn from the regex made for exactly that."""
    options = []
    for screen in SCREENS:
        mapping = family.mapping(screen)
        for protocol in family.protocols:
            for env in ENVS:
                for thought in (True, False):
                    regex = family.answer_regex(protocol, mapping, None, thought=thought, env=env)
                    options.append(st.tuples(st.just(mapping), st.just(protocol), st.just(env),
                                             st.from_regex(regex, fullmatch=True)))
    return st.one_of(*options)


def read(family: ModelFamily, drawn: Drawn) -> ScreenAnswer:
    """The answer parsed and mapped to its screen; raises (ParseError, CoordinateOutOfRange) or returns
    at least one action."""
    mapping, protocol, env, text = drawn
    answer = actions_from_answer(text, mapping, Dialect(family, protocol, env))
    if not answer.actions:
        raise AssertionError(f"{family.name} {protocol} {env}: no action in {text!r}")
    return answer
