"""Every answer a family's constrained-output regex allows parses to actions on the screen (Hypothesis's
``from_regex`` on the very regex sent to vLLM): 1,000 answers per family here, more in bench/fuzz.py."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings

from guiagent.policies.families import FAMILIES
from guiagent.tools.geometry import CoordinateOutOfRange
from tests.policies.regex_answers import ENVS, SCREENS, Drawn, read, regex_answers

EXAMPLES = 1000


@pytest.mark.parametrize("name", sorted(FAMILIES))
def test_constrained_answers_parse_to_actions(name: str) -> None:
    family = FAMILIES[name]
    drawn_from: set[tuple[int, str, str]] = set()

    @settings(max_examples=EXAMPLES, derandomize=True, database=None, deadline=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    @given(drawn=regex_answers(family))
    def parses(drawn: Drawn) -> None:
        read(family, drawn)
        mapping, protocol, env, _ = drawn
        drawn_from.add((mapping.frame.width, protocol, env))

    parses()
    assert drawn_from == {(s.width, p, e) for s in SCREENS for p in family.protocols for e in ENVS}


def test_a_point_past_the_screen_is_refused_by_the_same_check() -> None:
    """Control: were a regex to allow a point past the model's space, ``read`` would raise."""
    family = FAMILIES["qwen2.5-vl"]
    mapping = family.mapping(SCREENS[0])
    call = {"name": "computer_use", "arguments": {"action": "left_click", "coordinate": [mapping.model_width + 1, 5]}}
    past = f"<tool_call>\n{json.dumps(call)}\n</tool_call>"
    with pytest.raises(CoordinateOutOfRange):
        read(family, (mapping, "tool-call", "desktop", past))
