"""The prompt matches what Qwen2.5-VL saw in training.

Template texts are compared with Qwen-Agent 0.0.34's own files (qwen_agent/llm/fncall_prompts/
nous_fncall_prompt.py and qwen_fncall_prompt.py, read from the installed package); the tool's shape
with shared/reference/qwen25vl-computer-use.md.
"""

import json
import re
from typing import cast

import pytest

from guiagent.policies.base import StepSummary
from guiagent.policies.prompts import NOUS_TEMPLATE, QWEN_TEMPLATE_EN, build_messages, system_prompt
from guiagent.tools.schema import computer_use_function, nous_tool_line, parameters, qwen_tool_description
from tests.reference_qwen_agent import load

nous = load("nous_fncall_prompt")
qwen = load("qwen_fncall_prompt")


def test_templates_are_qwen_agents():
    assert NOUS_TEMPLATE == nous["FN_CALL_TEMPLATE"]
    assert QWEN_TEMPLATE_EN == qwen["FN_CALL_TEMPLATE"]["en"]
    f = computer_use_function(2548, 1428, "desktop", "qwen2.5-vl")
    assert qwen_tool_description(f) == qwen["get_function_description"](f, lang="en")


def test_the_system_prompt_is_what_the_nous_prompt_builds():
    f = computer_use_function(2548, 1428, "desktop", "qwen2.5-vl")
    # NousFnCallPrompt.preprocess_fncall_messages: the system text + "\n\n" + the template
    expected = "You are a helpful assistant.\n\n" + nous["FN_CALL_TEMPLATE"].format(
        tool_descs=json.dumps({"type": "function", "function": f}, ensure_ascii=False)
    )
    assert system_prompt("tool-call", 2548, 1428, "desktop", "qwen2.5-vl") == expected
    qwen_expected = "You are a helpful assistant.\n\n" + qwen["FN_CALL_TEMPLATE"]["en"].format(
        tool_descs=qwen["get_function_description"](f, lang="en"), tool_names="computer_use"
    )
    assert system_prompt("function-result-return", 2548, 1428, "desktop", "qwen2.5-vl") == qwen_expected


def test_the_tool_is_the_trained_computer_use():
    f = computer_use_function(2548, 1428, "desktop", "qwen2.5-vl")
    assert list(f) == ["name_for_human", "name", "description", "parameters", "args_format"]
    assert "The screen's resolution is 2548x1428." in f["description"]  # the smart-resized size of 2560x1440
    props = parameters("desktop", "qwen2.5-vl")["properties"]
    assert list(props) == ["action", "keys", "text", "coordinate", "pixels", "time", "status"]
    assert props["action"]["enum"] == ["key", "type", "mouse_move", "left_click", "left_click_drag", "right_click",
                                      "middle_click", "double_click", "scroll", "wait", "terminate"]
    assert props["coordinate"]["description"].endswith("Required only by `action=mouse_move` and `action=left_click_drag`.")
    assert props["status"] == {"description": "The status of the task. Required only by `action=terminate`.",
                               "type": "string", "enum": ["success", "failure"]}
    assert props["pixels"]["type"] == "number" and props["keys"]["type"] == "array"
    assert parameters("desktop", "qwen2.5-vl")["required"] == ["action"]
    assert nous_tool_line(f).startswith('{"type": "function", "function": {"name_for_human": "computer_use"')


HISTORY = [
    StepSummary(index=0, t=1.0, thought="Open the menu.", raw="...", model_actions=[{"action": "left_click", "coordinate": [10, 20]}],
                results=["ok"]),
    StepSummary(index=1, t=2.0, raw="garbage", error="no <tool_call> found"),
]
MEDIA = [{"type": "image_url", "image_url": {"url": "data:image/png;base64,AA=="}}]


def test_the_first_step_is_one_user_turn_with_the_task_and_the_screen():
    # Qwen's computer-use cookbook: [system, user: [task text, screenshot]]; no two user turns in a row
    messages, extra = build_messages("tool-call", "SYS", "Do it.", [], MEDIA)
    assert messages == [{"role": "system", "content": "SYS"},
                        {"role": "user", "content": [{"type": "text", "text": "Do it."}, *MEDIA]}]
    assert extra == {}


def _rendered(messages) -> str:
    """The prompt text as Qwen's chat template lays it out (media as placeholders)."""
    out = ""
    for m in messages:
        parts = [m["content"]] if isinstance(m["content"], str) else [
            p["text"] if p["type"] == "text" else f"<{p['type']}>" for p in m["content"]]
        out += f"<|im_start|>{m['role']}\n{''.join(parts)}<|im_end|>\n"
    return out


def test_tool_call_history_is_stable_text_and_the_screen_comes_last():
    messages, extra = build_messages("tool-call", "SYS", "Do it.", HISTORY, MEDIA)
    roles = [m["role"] for m in messages]
    assert roles == ["system", "user", "assistant", "user", "assistant", "user"]
    assert all(a != b or a != "user" for a, b in zip(roles, roles[1:], strict=False))  # never two user turns in a row
    assert messages[2]["content"] == (
        'Open the menu.\n<tool_call>\n{"name": "computer_use", "arguments": {"action": "left_click", "coordinate": [10, 20]}}\n</tool_call>'
    )
    assert messages[3]["content"] == "<tool_response>\nok\n</tool_response>"
    assert messages[4]["content"] == "garbage"  # what the model said, verbatim, when it did not parse
    # the newest screen is inside the last tool response (Qwen-Agent's NousFnCallPrompt puts a
    # function result's images between "<tool_response>\n" and "\n</tool_response>")
    assert messages[5]["content"] == [{"type": "text", "text": "<tool_response>\nError: no <tool_call> found"}, *MEDIA,
                                      {"type": "text", "text": "\n</tool_response>"}]
    assert extra == {}
    # everything before the media is the next step's prompt, byte for byte (vLLM's prefix cache)
    for before, after in [([], HISTORY[:1]), (HISTORY[:1], HISTORY), (HISTORY, [*HISTORY, HISTORY[0]])]:
        now = _rendered(build_messages("tool-call", "SYS", "Do it.", before, MEDIA)[0])
        nxt = _rendered(build_messages("tool-call", "SYS", "Do it.", after, MEDIA)[0])
        assert nxt.startswith(now[: now.index("<image_url>")])


def test_function_result_return_dialogue_continues_the_assistant_turn():
    first, extra = build_messages("function-result-return", "SYS", "Do it.", [], MEDIA)
    assert first[-1] == {"role": "user", "content": [{"type": "text", "text": "Do it."}, *MEDIA]}
    assert extra == {"stop": ["✿RESULT✿", "✿RETURN✿"]}
    messages, extra = build_messages("function-result-return", "SYS", "Do it.", HISTORY, MEDIA)
    assert extra["continue_final_message"] is True and extra["add_generation_prompt"] is False
    turn = messages[-1]
    assert turn["role"] == "assistant"
    text = turn["content"][0]["text"]
    assert text == (
        'Open the menu.\n✿FUNCTION✿: computer_use\n✿ARGS✿: {"action": "left_click", "coordinate": [10, 20]}\n✿RESULT✿: ok'
        "\n✿RETURN✿: garbage\n✿RESULT✿: "
    )
    assert turn["content"][1:-1] == MEDIA  # the newest screen is the latest RESULT
    assert turn["content"][-1] == {"type": "text", "text": "Error: no <tool_call> found\n✿RETURN✿"}
    assert re.search(r"✿RETURN✿$", turn["content"][-1]["text"])  # generation continues after it


def test_the_constraint_offers_what_the_episode_offers():
    from guiagent.policies.constrained import answer_regex
    from guiagent.tools import Navigate
    from guiagent.tools.parsing import parse_tool_calls

    regex = answer_regex("tool-call", 1000, 700, ["navigate", "back"], env="browser", vocabulary="qwen2.5-vl")
    navigate = '<tool_call>\n{"name": "computer_use", "arguments": {"action": "navigate", "url": "https://evil.com/x"}}\n</tool_call>'
    assert re.fullmatch(regex, navigate) and cast(Navigate, parse_tool_calls(navigate, "browser", "qwen2.5-vl").actions[0]).url == "https://evil.com/x"
    assert not re.fullmatch(regex, navigate.replace("evil.com", "127.0.0.1"))
    with pytest.raises(ValueError, match="cannot constrain to navigate: not offered in a desktop episode"):
        answer_regex("tool-call", 1000, 700, ["navigate"], env="desktop", vocabulary="qwen2.5-vl")
