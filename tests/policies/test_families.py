"""Each model family's parser on outputs its authors published, and what each profile promises.

Every sample names its source. Where no published output of the runtime's own tool exists for a family,
the sample says what was adapted (the mobile tool's call renamed to the desktop tool).
"""

from __future__ import annotations

from typing import cast

import pytest

from guiagent.policies.families import FAMILIES, get_family, propose_family
from guiagent.policies.families.internvl import tile_grid
from guiagent.policies.families.pixtral import pixtral_size
from guiagent.tools import (
    CoordinateOutOfRange,
    DoubleClick,
    FrameGeometry,
    Key,
    LeftClick,
    LeftClickDrag,
    MouseMove,
    Scroll,
    Terminate,
    Type,
    Wait,
)
from guiagent.tools.parsing import ParseError

# QwenLM/Qwen2.5-VL cookbooks/mobile_agent.ipynb, the model's printed output (mobile_use -> computer_use,
# click -> left_click: the desktop tool of the same cookbook's computer_use.ipynb).
QWEN25_MOBILE = '<tool_call>\n{"name": "mobile_use", "arguments": {"action": "click", "coordinate": [639, 1095]}}\n</tool_call>\n'
# QwenLM/Qwen3-VL cookbooks/mobile_agent.ipynb, the model's printed output (points on the 0-999 grid there).
QWEN3_MOBILE = (
    "Thought: To search for Musk in X, I need to click on the search bar at the top of the screen. This will allow "
    "me to type in the search query.\nAction: \"I tapped on the search bar to begin searching for Musk.\"\n<tool_call>\n"
    '{"name": "mobile_use", "arguments": {"action": "click", "coordinate": [447, 81]}}\n</tool_call>\n'
)


def desktop(text: str) -> str:
    return text.replace('"mobile_use"', '"computer_use"').replace('"click"', '"left_click"')


def test_qwen25vl_reads_the_cookbooks_call_in_resized_pixels():
    family = get_family("qwen2.5-vl")
    with pytest.raises(ParseError, match="unknown function 'mobile_use'"):
        family.parse(QWEN25_MOBILE, "tool-call", "desktop")  # the mobile tool is not the runtime's
    answer = family.parse(desktop(QWEN25_MOBILE), "tool-call", "desktop")
    assert answer.actions == [LeftClick(coordinate=(639, 1095))]
    mapping = family.mapping(FrameGeometry(width=1092, height=2408))
    assert (mapping.resized_width, mapping.resized_height) == (1092, 2408)  # the cookbook's stated resolution
    assert mapping.model_to_captured((639, 1095)) == (639, 1095)


def test_qwen3vl_reads_the_cookbooks_call_on_the_relative_grid():
    family = get_family("qwen3-vl")
    answer = family.parse(desktop(QWEN3_MOBILE), "tool-call", "desktop")
    assert answer.actions == [LeftClick(coordinate=(447, 81))]
    assert answer.thought.startswith("Thought: To search for Musk")
    mapping = family.mapping(FrameGeometry(width=1440, height=3120))  # the cookbook's screenshot
    assert mapping.space == "relative-1000" and mapping.resized_width % 32 == 0
    x, y = mapping.model_to_captured((447, 81))
    assert (round(x), round(y)) == (644, 253)  # 447/1000*1440, 81/1000*3120
    with pytest.raises(CoordinateOutOfRange, match="outside the 0-1000 relative grid"):
        mapping.model_to_captured((1001, 5))
    assert "The screen's resolution is 1000x1000." in family.system_prompt("tool-call", mapping, "desktop")


def test_qwen2vl_reads_its_grounding_box_as_a_click_at_the_centre():
    # OS-Copilot/OS-Atlas-Base-7B (a Qwen2-VL checkpoint) model card: the printed output
    sample = "<|object_ref_start|>language switch<|object_ref_end|><|box_start|>(576,12),(592,42)<|box_end|><|im_end|>"
    family = get_family("qwen2-vl")
    answer = family.parse(sample, "tool-call", "desktop")
    assert answer.actions == [LeftClick(coordinate=(584, 27))]
    assert family.request_extras == {"skip_special_tokens": False}  # else vLLM strips <|box_start|>
    # the computer_use tool still works, its point on the grid
    assert family.parse(desktop(QWEN25_MOBILE).replace("1095", "995"), "tool-call", "desktop").actions == [LeftClick(coordinate=(639, 995))]
    mapping = family.mapping(FrameGeometry(width=1280, height=800))
    assert mapping.model_to_captured((500, 500)) == (640, 400)


def test_qwenvl_reads_ref_box_on_its_grid_and_sees_448_squares():
    # QwenLM/Qwen-VL README, the grounding examples' printed answers
    family = get_family("qwen-vl")
    assert family.parse("<ref>击掌</ref><box>(536,509),(588,602)</box>", "tool-call", "desktop").actions == [
        LeftClick(coordinate=(562, 555.5))]
    caption = ("<ref> Woman</ref><box>(451,379),(731,806)</box> and<ref> her dog</ref><box>(219,424),(576,896)</box> "
               "playing on the beach")
    assert family.parse(caption, "tool-call", "desktop").actions == [LeftClick(coordinate=(591, 592.5))]  # the first box
    mapping = family.mapping(FrameGeometry(width=1920, height=1080))
    assert (mapping.resized_width, mapping.resized_height) == (448, 448) and family.image_tokens(mapping) == 258


def test_internvl_reads_its_box_and_tiles_like_dynamic_preprocess():
    # the form InternVL2.5's model card documents for grounding answers: <ref>..</ref><box>[[x1, y1, x2, y2]]</box>
    family = get_family("internvl2.5")
    answer = family.parse("The button is <ref>Sign in</ref><box>[[100, 200, 300, 400]]</box>", "tool-call", "desktop")
    assert answer.actions == [LeftClick(coordinate=(200, 300))] and answer.thought == "The button is"
    # the same answer decoded with special tokens skipped (vLLM's default; InternVL's own chat() too): the tags
    # are gone, the box stays - the form InternVL's RefCOCO eval (evaluate_grounding.py) reads
    answer = family.parse("The button is Sign in[[100, 200, 300, 400]]", "tool-call", "desktop")
    assert answer.actions == [LeftClick(coordinate=(200, 300))] and answer.thought == "The button is Sign in"
    with pytest.raises(ParseError):
        family.parse("The button is at [100, 200]", "tool-call", "desktop")  # one bracket: not a box, not a tool call
    assert tile_grid(1280, 800) == (3, 2) and tile_grid(448, 448) == (1, 1) and tile_grid(1920, 1080) == (4, 2)
    mapping = family.mapping(FrameGeometry(width=1280, height=800))
    assert (mapping.resized_width, mapping.resized_height) == (1344, 896)
    assert family.image_tokens(mapping) == (6 + 1) * 256 + 2  # six tiles and the thumbnail
    # a tiled size is a fixed point of the rule (what we send is what the server tiles)
    assert tile_grid(1344, 896) == (3, 2)


def test_pixtral_sizes_like_its_processor_and_reads_pixels_through_the_tool_call():
    # No published grounding convention: our choice is the computer_use call in the sent image's pixels.
    assert pixtral_size(1280, 800) == (1024, 640) and pixtral_size(1000, 700) == (1008, 704)
    family = get_family("pixtral")
    mapping = family.mapping(FrameGeometry(width=1280, height=800, scale=1))
    assert family.image_tokens(mapping) == 40 * (64 + 1)
    call = '<tool_call>\n{"name": "computer_use", "arguments": {"action": "left_click", "coordinate": [512, 320]}}\n</tool_call>'
    coordinate = cast(LeftClick, family.parse(call, "tool-call", "desktop").actions[0]).coordinate
    assert coordinate is not None
    assert mapping.model_to_captured(coordinate) == (640, 400)


@pytest.mark.parametrize("sample, expected", [
    # bytedance/UI-TARS README "Usage"
    ("Thought: Click the button\nAction: click(start_box='(100,200)')", [LeftClick(coordinate=(100, 200))]),
    # bytedance/UI-TARS README_coordinates.md
    ("Thought: xxx\nAction: click(start_box='(197,525)')", [LeftClick(coordinate=(197, 525))]),
    # bytedance/UI-TARS data/training_example.json, an assistant turn
    ("Action: click(start_box='<|box_start|>(495,30)<|box_end|>')", [LeftClick(coordinate=(495, 30))]),
    # bytedance/UI-TARS codes/tests/action_parser_test.py (the newer <point> form)
    ("Thought: test\nAction: click(point='<point>200 300</point>')", [LeftClick(coordinate=(200, 300))]),
    # the action space of codes/ui_tars/prompt.py COMPUTER_USE_DOUBAO, one of each
    ("Thought: t\nAction: left_double(point='<point>10 20</point>')", [DoubleClick(coordinate=(10, 20))]),
    ("Thought: t\nAction: drag(start_point='<point>1 2</point>', end_point='<point>30 40</point>')",
     [LeftClickDrag(start_coordinate=(1, 2), coordinate=(30, 40))]),
    ("Thought: t\nAction: hotkey(key='ctrl c')", [Key(keys=["ctrl", "c"])]),
    ("Thought: t\nAction: type(content='hello\\n')", [Type(text="hello"), Key(keys=["enter"])]),
    ("Thought: t\nAction: scroll(point='<point>5 6</point>', direction='down')", [Scroll(coordinate=(5, 6), pixels=-500)]),
    ("Thought: t\nAction: wait()", [Wait(time=5)]),
    ("Thought: t\nAction: finished(content='42')", [Terminate(status="success", answer="42")]),
])
def test_uitars_reads_its_published_forms(sample, expected):
    assert get_family("ui-tars-1.5").parse(sample, "tool-call", "desktop").actions == expected


def test_uitars_thought_and_errors():
    family = get_family("ui-tars-1.5")
    assert family.parse("Thought: Click the button\nAction: click(start_box='(100,200)')", "tool-call", "desktop").thought == "Click the button"
    with pytest.raises(ParseError, match='no "Action:" found'):
        family.parse("Thought: I am thinking", "tool-call", "desktop")
    with pytest.raises(ParseError, match="unknown action 'explode'"):
        family.parse("Action: explode()", "tool-call", "desktop")
    with pytest.raises(ParseError, match="only literal arguments"):
        family.parse("Action: click(start_box=__import__('os').system('true'))", "tool-call", "desktop")
    mapping = family.mapping(FrameGeometry(width=1920, height=1080))
    assert mapping.min_pixels == 100 * 28 * 28 and (mapping.resized_width, mapping.resized_height) == (1932, 1092)


@pytest.mark.parametrize("code, expected", [
    # xlang-ai/OpenCUA evaluation/agentnetbench/sample_data/*.json, the recorded "action" of steps
    ("pyautogui.click(x=0.018, y=0.095)", [LeftClick(coordinate=(0.018, 0.095))]),
    ("pyautogui.moveTo(x=0.328, y=0.4697)\npyautogui.dragTo(x=0.5025, y=0.6039, button='left')",
     [MouseMove(coordinate=(0.328, 0.4697)), LeftClickDrag(coordinate=(0.5025, 0.6039))]),
    ("pyautogui.write(message='SPOTIFY')\npyautogui.press(keys=['enter'])", [Type(text="SPOTIFY"), Key(keys=["enter"])]),
    ("pyautogui.hotkey(keys=['ctrl', 'c'])", [Key(keys=["ctrl", "c"])]),
    ("computer.terminate(status='success')", [Terminate(status="success")]),
])
def test_opencua_reads_its_published_code_as_data(code, expected):
    # in its answer form (L2_RESPONSE_TEMPLATE of agent/opencua.py)
    answer = f"## Thought:\nI act.\n\n## Action:\nDo it.\n\n## Code:\n```python\n{code}\n```\n"
    parsed = get_family("opencua").parse(answer, "tool-call", "desktop")
    assert parsed.actions == expected and parsed.thought == "I act."


def test_opencua_scroll_reads_its_position_after_the_clicks():
    family = get_family("opencua")
    for code in ("pyautogui.scroll(-5, 100, 200)", "pyautogui.scroll(-5, x=100, y=200)"):
        assert family.parse(f"## Code:\n```python\n{code}\n```", "tool-call", "desktop").actions == [
            Scroll(coordinate=(100, 200), pixels=-500)]


def test_opencua_never_runs_code():
    family = get_family("opencua")
    for evil in ("import os\nos.system('touch /tmp/x')", "pyautogui.click(x=__import__('os').getpid(), y=1)",
                 "x = 5", "exec('1')"):
        with pytest.raises(ParseError):
            family.parse(f"## Code:\n```python\n{evil}\n```", "tool-call", "desktop")
    with pytest.raises(ParseError, match="no code found"):
        family.parse("## Thought:\nnothing to do", "tool-call", "desktop")


@pytest.mark.parametrize("name", list(FAMILIES))
def test_every_family_writes_labels_its_parser_reads_back(name):
    family = get_family(name)
    actions = [LeftClick(coordinate=(120, 340)), Key(keys=["ctrl", "a"]), Type(text="hi")]
    text = family.format_answer(actions, "Sign in.", family.protocols[0], "desktop")
    assert family.parse(text, family.protocols[0], "desktop").actions == actions
    assert family.serve_line().startswith("vllm serve")


@pytest.mark.parametrize("model_id, config, expected", [
    ("Qwen/Qwen2.5-VL-7B-Instruct", None, "qwen2.5-vl"),
    ("Qwen/Qwen2-VL-7B-Instruct", None, "qwen2-vl"),
    ("Qwen/Qwen-VL-Chat", None, "qwen-vl"),
    ("OpenGVLab/InternVL2_5-8B", None, "internvl2.5"),
    ("mistralai/Pixtral-12B-2409", None, "pixtral"),
    ("Qwen/Qwen3-VL-8B-Instruct", None, "qwen3-vl"),
    ("ByteDance-Seed/UI-TARS-1.5-7B", None, "ui-tars-1.5"),
    ("xlangai/OpenCUA-7B", None, "opencua"),
    ("my-model", {"architectures": ["Qwen3VLForConditionalGeneration"]}, "qwen3-vl"),
    ("served", {"model_type": "qwen2_5_vl"}, "qwen2.5-vl"),
])
def test_a_family_is_proposed_from_the_model_id_and_config(model_id, config, expected):
    family = propose_family(model_id, config)
    assert family is not None and family.name == expected
    assert propose_family("no-idea", {"architectures": ["LlamaForCausalLM"]}) is None


@pytest.mark.parametrize("name", list(FAMILIES))
def test_a_point_outside_the_familys_space_is_a_format_error(name):
    family = get_family(name)
    mapping = family.mapping(FrameGeometry(width=1280, height=800))
    beyond = (mapping.model_width + 1, 10)
    text = family.format_answer([LeftClick(coordinate=beyond)], "Out.", family.protocols[0], "desktop")
    action = family.parse(text, family.protocols[0], "desktop").actions[0]
    with pytest.raises(CoordinateOutOfRange):
        action.map_points(mapping.model_to_input)
    with pytest.raises(ParseError):  # negative numbers never make an action
        family.parse(text.replace(str(beyond[0]), f"-{beyond[0]}"), family.protocols[0], "desktop")


def test_the_cli_offers_every_family_by_name():
    from typing import get_args

    from guiagent.agent.cli import FamilyName

    assert get_args(FamilyName) == tuple(FAMILIES)


def test_the_public_functions_take_the_family():
    from guiagent.policies.answer import actions_from_answer, mapping_for
    from guiagent.policies.dialect import Dialect
    from guiagent.tools import Observation

    obs = Observation(image=b"", t=1.0, geometry=FrameGeometry(width=2560, height=1600, scale=2.0))
    mapping = mapping_for(obs, family="qwen3-vl")
    assert mapping.space == "relative-1000" and mapping.resized_width % 32 == 0
    tars = mapping_for(obs, family="ui-tars-1.5")
    answer = actions_from_answer("Thought: t\nAction: click(start_box='(1274,798)')", tars,
                                 Dialect.of("ui-tars-1.5", "tool-call", "desktop"))
    assert (tars.resized_width, tars.resized_height) == (2548, 1596)
    assert cast(LeftClick, answer.actions[0]).coordinate == pytest.approx((640, 400), abs=0.5)  # the centre, in CSS pixels
