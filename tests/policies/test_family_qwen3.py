"""Qwen3-VL's own computer_use tool (triple_click, hscroll, answer) and its video timestamps.

The tool: QwenLM/Qwen3-VL cookbooks/utils/agent_function_call.py (ComputerUse), and the system message its
cookbooks/computer_use.ipynb prints (the function as name, description and parameters). No published model
output uses triple_click, hscroll or answer: those samples are written to the tool's schema, and say so.
"""

from __future__ import annotations

import json

import pytest

from guiagent.policies.families import get_family
from guiagent.policies.families.qwen3vl import timestamp_text
from guiagent.policies.media import VideoConfig, build_clip
from guiagent.tools import FrameGeometry, HScroll, LeftClick, Observation, Scroll, Terminate, TripleClick
from guiagent.tools.actions import offered_actions
from guiagent.tools.parsing import ParseError
from guiagent.tools.schema import computer_use_function

QWEN3 = get_family("qwen3-vl")
QWEN25 = get_family("qwen2.5-vl")

# cookbooks/utils/agent_function_call.py, ComputerUse.parameters (the cookbook's own text, as data)
COOKBOOK_PARAMETERS = {
    "properties": {
        "action": {
            "description": "The action to perform. The available actions are:\n"
            "* `key`: Performs key down presses on the arguments passed in order, then performs key releases in reverse order.\n"
            "* `type`: Type a string of text on the keyboard.\n"
            "* `mouse_move`: Move the cursor to a specified (x, y) pixel coordinate on the screen.\n"
            "* `left_click`: Click the left mouse button at a specified (x, y) pixel coordinate on the screen.\n"
            "* `left_click_drag`: Click and drag the cursor to a specified (x, y) pixel coordinate on the screen.\n"
            "* `right_click`: Click the right mouse button at a specified (x, y) pixel coordinate on the screen.\n"
            "* `middle_click`: Click the middle mouse button at a specified (x, y) pixel coordinate on the screen.\n"
            "* `double_click`: Double-click the left mouse button at a specified (x, y) pixel coordinate on the screen.\n"
            "* `triple_click`: Triple-click the left mouse button at a specified (x, y) pixel coordinate on the screen "
            "(simulated as double-click since it's the closest action).\n"
            "* `scroll`: Performs a scroll of the mouse scroll wheel.\n"
            "* `hscroll`: Performs a horizontal scroll (mapped to regular scroll).\n"
            "* `wait`: Wait specified seconds for the change to happen.\n"
            "* `terminate`: Terminate the current task and report its completion status.\n"
            "* `answer`: Answer a question.",
            "enum": ["key", "type", "mouse_move", "left_click", "left_click_drag", "right_click", "middle_click",
                     "double_click", "triple_click", "scroll", "hscroll", "wait", "terminate", "answer"],
            "type": "string",
        },
        "keys": {"description": "Required only by `action=key`.", "type": "array"},
        "text": {"description": "Required only by `action=type` and `action=answer`.", "type": "string"},
        "coordinate": {"description": "(x, y): The x (pixels from the left edge) and y (pixels from the top edge) "
                                      "coordinates to move the mouse to.", "type": "array"},
        "pixels": {"description": "The amount of scrolling to perform. Positive values scroll up, negative values "
                                  "scroll down. Required only by `action=scroll` and `action=hscroll`.", "type": "number"},
        "time": {"description": "The seconds to wait. Required only by `action=wait`.", "type": "number"},
        "status": {"description": "The status of the task. Required only by `action=terminate`.", "type": "string",
                   "enum": ["success", "failure"]},
    },
    "required": ["action"],
    "type": "object",
}


def call(arguments: dict) -> str:
    return f"<tool_call>\n{json.dumps({'name': 'computer_use', 'arguments': arguments})}\n</tool_call>"


def test_the_tool_is_the_cookbooks_computer_use():
    function = computer_use_function(1000, 1000, "desktop", "qwen3-vl")
    assert list(function) == ["name", "description", "parameters"]  # as computer_use.ipynb prints it
    assert function["parameters"] == COOKBOOK_PARAMETERS
    assert json.dumps(function["parameters"]) == json.dumps(COOKBOOK_PARAMETERS)  # key order too
    assert function["description"].endswith("Don't click boxes on their edges.")
    assert "* The screen's resolution is 1000x1000." in function["description"]
    mapping = QWEN3.mapping(FrameGeometry(width=1280, height=800))
    system = QWEN3.system_prompt("tool-call", mapping, "desktop")
    assert system.startswith("You are a helpful assistant.\n\n# Tools\n") and json.dumps(function) in system
    # Qwen2.5-VL's tool is unchanged
    assert "triple_click" not in json.dumps(computer_use_function(1288, 812, "desktop", "qwen2.5-vl"))


@pytest.mark.parametrize("arguments, expected", [
    # QwenLM/Qwen3-VL cookbooks/mobile_agent.ipynb, the model's printed call (mobile_use -> computer_use,
    # click -> left_click)
    ({"action": "left_click", "coordinate": [447, 81]}, LeftClick(coordinate=(447, 81))),
    # written to the tool's schema (no published output uses these actions)
    ({"action": "triple_click", "coordinate": [500, 120]}, TripleClick(coordinate=(500, 120))),
    ({"action": "hscroll", "pixels": -300}, HScroll(pixels=-300)),
    ({"action": "hscroll", "coordinate": [500, 500], "pixels": 200}, HScroll(coordinate=(500, 500), pixels=200)),
    ({"action": "scroll", "pixels": -500}, Scroll(pixels=-500)),
    ({"action": "answer", "text": "The total is 42."}, Terminate(status="success", answer="The total is 42.")),
])
def test_qwen3_reads_its_own_actions(arguments, expected):
    answer = QWEN3.parse("Thought: I act.\n" + call(arguments), "tool-call", "desktop")
    assert answer.actions == [expected] and answer.thought == "Thought: I act."


def test_qwen25_is_not_offered_qwen3s_actions():
    for arguments in ({"action": "triple_click", "coordinate": [1, 2]}, {"action": "hscroll", "pixels": 3},
                      {"action": "answer", "text": "x"}):
        with pytest.raises(ParseError, match="unknown action"):
            QWEN25.parse(call(arguments), "tool-call", "desktop")
    with pytest.raises(ParseError, match="answer.coordinate: not a parameter of answer"):
        QWEN3.parse(call({"action": "answer", "text": "x", "coordinate": [1, 2]}), "tool-call", "desktop")
    assert list(offered_actions("browser", "qwen3-vl"))[-2:] == ["navigate", "back"]


def test_labels_are_written_in_qwen3s_words_and_read_back():
    actions = [TripleClick(coordinate=(10, 20)), HScroll(pixels=-40), Terminate(status="success", answer="42"),
               Terminate(status="failure")]
    text = QWEN3.format_answer(actions, "I act.", "tool-call", "desktop")
    assert '{"action": "answer", "text": "42"}' in text and '{"action": "terminate", "status": "failure"}' in text
    assert QWEN3.parse(text, "tool-call", "desktop").actions == actions
    with pytest.raises(ValueError, match="not an action the model is offered"):
        QWEN25.format_answer([TripleClick(coordinate=(1, 2))], "", "tool-call", "desktop")


def test_the_constraint_allows_qwen3s_actions_on_its_grid():
    import re

    mapping = QWEN3.mapping(FrameGeometry(width=1280, height=800))
    regex = QWEN3.answer_regex("tool-call", mapping, ["triple_click", "hscroll", "answer"], thought=False, env="desktop")
    for arguments in ({"action": "triple_click", "coordinate": [1000, 0]}, {"action": "hscroll", "pixels": -30},
                      {"action": "answer", "text": "Done"}):
        assert re.fullmatch(regex, call(arguments)), arguments
    assert not re.fullmatch(regex, call({"action": "triple_click", "coordinate": [1001, 0]}))


def test_timestamps_are_written_as_vllm_writes_them():
    # vLLM 0.32 Qwen3VLProcessingInfo._calculate_timestamps: pair k at the mean of frames 2k and 2k+1 / fps
    assert [timestamp_text(k, 1.0) for k in range(3)] == ["<0.5 seconds>", "<2.5 seconds>", "<4.5 seconds>"]
    assert [timestamp_text(k, 2.0) for k in (0, 1, 11)] == ["<0.2 seconds>", "<1.2 seconds>", "<11.2 seconds>"]
    assert timestamp_text(0, 0.5) == "<1.0 seconds>"
    assert QWEN3.video_texts(6, 1.0) == ["<0.5 seconds>", "<2.5 seconds>", "<4.5 seconds>"]
    assert get_family("qwen2.5-vl").video_texts(6, 1.0) == []
    # 2 outer markers, then per pair its own start/end around h*w/32^2 tokens
    assert QWEN3.video_tokens(6, 256, 448) == 2 + 3 * (8 * 14 + 2)


def test_the_clip_is_built_on_32_pixel_blocks_and_intro_states_its_clock():
    frames = [Observation(image=b"", t=100.0 + k * 0.5, geometry=FrameGeometry(width=1280, height=800)) for k in range(30)]
    clip = build_clip(frames, 115.0, VideoConfig(fps=1.0, history_seconds=10, token_budget=512), QWEN3.factor)
    assert clip is not None
    assert len(clip.frames) == 10 and clip.width % 32 == 0 and clip.height % 32 == 0
    intro = QWEN3.clip_intro("T0", "T9", 10, 1.0)
    assert "<t seconds>" in intro and "in seconds after T0" in intro
