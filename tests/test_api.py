"""The public surface re-exported from ``guiagent``: cheap to import, every name resolves, the pure halves
of a model step work without a server."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import cast

import pytest

import guiagent
from guiagent import (
    _EXPORTS,
    CoordinateOutOfRange,
    Dialect,
    FrameGeometry,
    Observation,
    ParseError,
    actions_from_answer,
    mapping_for,
)
from guiagent import __all__ as PUBLIC_NAMES
from guiagent.tools import LeftClick, Type

QWEN_DESKTOP = Dialect.of("qwen2.5-vl", "tool-call", "desktop")
HEAVY = ("playwright", "langgraph", "openai", "httpx", "PIL", "numpy", "av", "yaml")


def test_import_guiagent_loads_no_heavy_dependency() -> None:
    code = "import sys, guiagent; guiagent.__version__; print(__import__('json').dumps(sorted(sys.modules)))"
    loaded = json.loads(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout)
    heavy = [m for m in loaded if m.split(".")[0] in HEAVY]
    assert heavy == []
    assert not [m for m in loaded if m.startswith("guiagent.")]


@pytest.mark.parametrize("name", PUBLIC_NAMES)
def test_every_public_name_resolves(name: str) -> None:
    assert getattr(guiagent, name) is not None


def test_all_lists_exactly_the_lazy_exports() -> None:
    assert sorted(PUBLIC_NAMES) == sorted(["__version__", *_EXPORTS])


def test_unknown_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        guiagent.nope  # noqa: B018  # pyright: ignore[reportAttributeAccessIssue]


def _observation(width: int, height: int, scale: float = 1.0, offset: tuple[float, float] = (0, 0)) -> Observation:
    geometry = FrameGeometry(width=width, height=height, scale=scale, offset_x=offset[0], offset_y=offset[1])
    return Observation(image=b"", t=1.0, geometry=geometry)


def test_mapping_for_is_smart_resize_of_the_captured_frame() -> None:
    mapping = mapping_for(_observation(2560, 1600, scale=2.0), max_pixels=1280 * 28 * 28)
    assert (mapping.resized_width % 28, mapping.resized_height % 28) == (0, 0)
    assert mapping.resized_width * mapping.resized_height <= 1280 * 28 * 28
    assert mapping.frame.scale == 2.0


def test_actions_from_answer_maps_model_pixels_to_input_space() -> None:
    obs = _observation(2560, 1600, scale=2.0, offset=(100, 0))
    mapping = mapping_for(obs, max_pixels=1280 * 28 * 28)
    x, y = mapping.resized_width // 2, mapping.resized_height // 2
    text = f'Click the middle.\n<tool_call>{{"name": "computer_use", "arguments": {{"action": "left_click", "coordinate": [{x}, {y}]}}}}</tool_call>'
    answer = actions_from_answer(text, mapping, QWEN_DESKTOP)
    assert answer.thought == "Click the middle."
    assert cast(LeftClick, answer.model_actions[0]).coordinate == (x, y)
    coordinate = cast(LeftClick, answer.actions[0]).coordinate
    assert coordinate is not None
    ix, iy = coordinate
    assert abs(ix - (100 + 640)) < 2 and abs(iy - 400) < 2  # CSS pixels plus the monitor offset


def test_actions_from_answer_in_the_function_protocol() -> None:
    mapping = mapping_for(_observation(1280, 800))
    text = '✿FUNCTION✿: computer_use\n✿ARGS✿: {"action": "type", "text": "hi"}'
    assert cast(Type, actions_from_answer(text, mapping, Dialect.of("qwen2.5-vl", "function-result-return", "desktop")).actions[0]).text == "hi"


def test_actions_from_answer_names_what_is_wrong() -> None:
    mapping = mapping_for(_observation(1280, 800))
    with pytest.raises(ParseError):
        actions_from_answer("I would click the button", mapping, QWEN_DESKTOP)
    far = '<tool_call>{"name": "computer_use", "arguments": {"action": "left_click", "coordinate": [99999, 5]}}</tool_call>'
    with pytest.raises(CoordinateOutOfRange, match="outside"):
        actions_from_answer(far, mapping, QWEN_DESKTOP)
