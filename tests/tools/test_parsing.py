"""Both parsers on a corpus of realistic answers, hand-written from the formats' documentation."""

import json
from typing import cast

import pytest

from guiagent.tools import (
    DoubleClick,
    Key,
    LeftClick,
    LeftClickDrag,
    MouseMove,
    Navigate,
    Scroll,
    Terminate,
    Type,
    Wait,
)
from guiagent.tools.parsing import (
    ParseError,
    format_function_call,
    format_tool_call,
    parse_function_calls,
    parse_tool_calls,
)

TOOL_CALL_CORPUS = [
    # the cookbook's shape: a thought, then one call
    ('I need to open the settings menu.\n<tool_call>\n{"name": "computer_use", "arguments": {"action": "left_click", "coordinate": [1203, 34]}}\n</tool_call>',
     "I need to open the settings menu.", [LeftClick(coordinate=(1203, 34))]),
    # no thought, no newlines
    ('<tool_call>{"name": "computer_use", "arguments": {"action": "type", "text": "hello world"}}</tool_call>',
     "", [Type(text="hello world")]),
    # several calls in one answer
    ('Select all and delete.\n<tool_call>\n{"name": "computer_use", "arguments": {"action": "key", "keys": ["ctrl", "a"]}}\n</tool_call>\n'
     '<tool_call>\n{"name": "computer_use", "arguments": {"action": "key", "keys": ["BackSpace"]}}\n</tool_call>',
     "Select all and delete.", [Key(keys=["ctrl", "a"]), Key(keys=["BackSpace"])]),
    # numbers as strings and floats, extra whitespace, trailing text after the call
    ('<tool_call>\n  { "name" : "computer_use" , "arguments" : { "action" : "double_click", "coordinate" : ["412", 77.6] } }  \n</tool_call>\nDone for now.',
     "", [DoubleClick(coordinate=(412, 77.6))]),
    # a code fence inside the tags
    ('<tool_call>\n```json\n{"name": "computer_use", "arguments": {"action": "scroll", "coordinate": [640, 400], "pixels": -300}}\n```\n</tool_call>',
     "", [Scroll(coordinate=(640, 400), pixels=-300)]),
    # tags dropped, but the call in a code fence
    ('Scrolling down.\n```json\n{"name": "computer_use", "arguments": {"action": "scroll", "pixels": -5}}\n```',
     "Scrolling down.", [Scroll(pixels=-5)]),
    # unterminated last call (generation stopped at </tool_call>)
    ('<tool_call>\n{"name": "computer_use", "arguments": {"action": "wait", "time": 2}}', "", [Wait(time=2)]),
    # arguments double-encoded as a JSON string
    ('<tool_call>\n{"name": "computer_use", "arguments": "{\\"action\\": \\"mouse_move\\", \\"coordinate\\": [5, 6]}"}\n</tool_call>',
     "", [MouseMove(coordinate=(5, 6))]),
    ('The task is complete.\n<tool_call>\n{"name": "computer_use", "arguments": {"action": "terminate", "status": "success"}}\n</tool_call>',
     "The task is complete.", [Terminate(status="success")]),
    ('<tool_call>\n{"name": "computer_use", "arguments": {"action": "left_click_drag", "coordinate": [900, 300]}}\n</tool_call>',
     "", [LeftClickDrag(coordinate=(900, 300))]),
    # key combos written as one string, keys as Qwen writes them
    ('<tool_call>\n{"name": "computer_use", "arguments": {"action": "key", "keys": "ctrl+shift+t"}}\n</tool_call>',
     "", [Key(keys=["ctrl", "shift", "t"])]),
]

FRR_CORPUS = [
    # the continuation after "✿RETURN✿": starts with ": "
    (': I will click the search box.\n✿FUNCTION✿: computer_use\n✿ARGS✿: {"action": "left_click", "coordinate": [320, 88]}',
     "I will click the search box.", [LeftClick(coordinate=(320, 88))]),
    ('✿FUNCTION✿: computer_use\n✿ARGS✿: {"action": "type", "text": "naïve café"}\n✿RESULT✿',
     "", [Type(text="naïve café")]),
    # a trailing comment after the JSON (Qwen-Agent strips these too)
    ('✿FUNCTION✿: computer_use\n✿ARGS✿: {"action": "key", "keys": ["Return"]} <!-- submit -->',
     "", [Key(keys=["Return"])]),
    # parallel calls
    ('Two moves.\n✿FUNCTION✿: computer_use\n✿ARGS✿: {"action": "mouse_move", "coordinate": [1, 2]}\n'
     '✿FUNCTION✿: computer_use\n✿ARGS✿: {"action": "left_click", "coordinate": ["3", "4"]}',
     "Two moves.", [MouseMove(coordinate=(1, 2)), LeftClick(coordinate=(3, 4))]),
    ('✿FUNCTION✿: computer_use\n✿ARGS✿: ```json\n{"action": "terminate", "status": "failure"}\n```',
     "", [Terminate(status="failure")]),
]


@pytest.mark.parametrize("text, thought, actions", TOOL_CALL_CORPUS)
def test_tool_call_corpus(text, thought, actions):
    parsed = parse_tool_calls(text, "desktop", "qwen2.5-vl")
    assert (parsed.thought, parsed.actions) == (thought, actions)


@pytest.mark.parametrize("text, thought, actions", FRR_CORPUS)
def test_function_result_return_corpus(text, thought, actions):
    parsed = parse_function_calls(text, "desktop", "qwen2.5-vl")
    assert (parsed.thought, parsed.actions) == (thought, actions)


@pytest.mark.parametrize("text, message", [
    ("", "empty answer"),
    ("I would click the OK button.", "no <tool_call> found"),
    ('<tool_call>\n{"name": "browser", "arguments": {}}\n</tool_call>', "unknown function 'browser'"),
    ('<tool_call>\n{"name": "computer_use"}\n</tool_call>', 'no "arguments"'),
    ('<tool_call>\n{"name": "computer_use", "arguments": {"action": "left_click", "coordinate": [12, }}\n</tool_call>', "invalid JSON"),
    ('<tool_call>\n{"name": "computer_use", "arguments": {"action": "fly"}}\n</tool_call>', "unknown action 'fly'"),
    ('<tool_call>\n{"name": "computer_use", "arguments": {"action": "key", "keys": ["hyperkey"]}}\n</tool_call>', "unknown key name 'hyperkey'"),
    ('<tool_call>\n[1, 2]\n</tool_call>', "no JSON object found"),
    ('ok\n<tool_call>{"name": "computer_use", "arguments": {"action": "wait", "time": 1}}</tool_call>\n<tool_call>{"name": "computer_use", "arguments": {"action": "scroll"}}</tool_call>',
     "tool call 2: scroll.pixels: Field required"),
])
def test_tool_call_errors_say_what_was_wrong(text, message):
    with pytest.raises(ParseError) as info:
        parse_tool_calls(text, "desktop", "qwen2.5-vl")
    assert message in str(info.value)


@pytest.mark.parametrize("text, message", [
    ("", "empty answer"),
    ("The page is loaded.", "no ✿FUNCTION✿ call found"),
    ("✿FUNCTION✿: computer_use\n", "✿FUNCTION✿ without ✿ARGS✿"),
    ('✿FUNCTION✿: code_interpreter\n✿ARGS✿: {"code": "1"}', "unknown function 'code_interpreter'"),
    ('✿FUNCTION✿: computer_use\n✿ARGS✿: {"action": "left_click", "coordinate": [-4, 2]}', "left_click.coordinate.0"),
])
def test_function_call_errors_say_what_was_wrong(text, message):
    with pytest.raises(ParseError) as info:
        parse_function_calls(text, "desktop", "qwen2.5-vl")
    assert message in str(info.value)


@pytest.mark.parametrize("action", [LeftClick(coordinate=(1, 2)), Key(keys=["ctrl", "c"]), Type(text="東京"), Wait(time=1.5),
                                    Scroll(coordinate=(3, 4), pixels=-2), Terminate(status="success")])
def test_what_the_formatters_write_the_parsers_read(action):
    assert parse_tool_calls(format_tool_call(action, "desktop", "qwen2.5-vl"), "desktop", "qwen2.5-vl").actions == [action]
    assert parse_function_calls(format_function_call(action, "desktop", "qwen2.5-vl"), "desktop", "qwen2.5-vl").actions == [action]


def _call(arguments: str, extra: str = "") -> str:
    return f'<tool_call>\n{{"name": "computer_use"{extra}, "arguments": {arguments}}}\n</tool_call>'


# What crashed the episode before (issue 9), and the bounds on what enters: each is a ParseError now.
@pytest.mark.parametrize("text, message", [
    ("I click\udcc1 it." + _call('{"action": "left_click", "coordinate": [1, 2]}'), "lone surrogate '\\udcc1' at character 7"),
    (_call('{"action": "type", "text": "a\\udcc1"}'), "type.text: Input should be a valid string"),
    (_call('{"action": "wait", "time": 1, "x": ' + "[" * 1000 + "]" * 1000 + "}"), "JSON nested too deeply"),
    (_call('{"action": "left_click", "coordinate": ' + "[" * 900 + "]" * 900 + "}"), "left_click.coordinate"),
    (_call('{"action": "wait", "time": 1}', ', "id": ' + "9" * 5000), "a number with too many digits"),
    (_call('{"action": "wait", "time": 1' + "5" * 4000 + "}"), "wait.time: Input should be a valid number (got 1555"),
    (_call('{"action": "left_click", "coordinate": [1' + "5" * 40000 + ".5, 2]}"), "coordinate.0: Input should be a finite number"),
    (_call('{"action": "wait", "time": NaN}'), "NaN is not a JSON number"),
    (_call('{"action": ["left_click"], "coordinate": [1, 2]}'), "action: must be a string naming the action, got ['left_click']"),
    (_call('{"action": {"left_click": 1}}'), "action: must be a string naming the action"),
    (_call('{"action": "scroll", "pixels": 20000000000000000000}'), "scroll.pixels: Input should be less than or equal to 100000"),
    (_call('{"action": "left_click", "coordinate": [1e300, 5]}'), "left_click.coordinate.0: Input should be less than or equal to 100000"),
    (_call('{"action": "wait", "time": 1e400}'), "wait.time"),
    (_call('{"action": "type", "text": "' + "a" * 10_001 + '"}'), "type.text: String should have at most 10000 characters (got 'aaaa"),
    (_call('{"action": "key", "keys": "' + "+".join("a" * 17) + '"}'), "key.keys: List should have at most 16 items"),
    ("".join(_call('{"action": "wait", "time": 0}') for _ in range(17)), "more than 16 calls in one answer (17)"),
    ("x" * 65_537, "the answer is 65537 characters long; at most 65536 are read"),
    # the parser accepts what the tool schema offers the model, and nothing else
    (_call('{"action": "triple_click", "coordinate": [10, 10]}'), "action: unknown action 'triple_click' (expected one of key, type,"),
    (_call('{"action": "navigate", "url": "https://example.com"}'), "unknown action 'navigate'"),
    (_call('{"action": "back"}'), "unknown action 'back'"),
    (_call('{"action": "terminate", "status": "success", "answer": "42"}'), "terminate.answer: not a parameter of terminate (its parameters: status)"),
    (_call('{"action": "left_click_drag", "start_coordinate": [1, 1], "coordinate": [5, 5]}'), "left_click_drag.start_coordinate: not a parameter"),
    (_call('{"action": "scroll", "direction": "down", "amount": 3}'), "scroll.direction: not a parameter of scroll (its parameters: coordinate, pixels)"),
])
def test_what_crashed_or_was_unbounded_is_a_parse_error(text, message):
    with pytest.raises(ParseError) as info:
        parse_tool_calls(text, "desktop", "qwen2.5-vl")
    assert message in str(info.value)
    assert len(str(info.value)) < 600  # the message goes back to the model: it names, it does not echo


@pytest.mark.parametrize("text, message", [
    ("✿FUNCTION✿: computer_use\n✿ARGS✿: {\"action\": \"back\"}", "unknown action 'back'"),
    ("✿FUNCTION✿: computer_use\n✿ARGS✿: {\"action\": \"wait\", \"time\": 1}\n" * 17, "more than 16 calls in one answer (17)"),
    ("✿FUNCTION✿: computer_use\n✿ARGS✿: {\"action\": \"wait\", \"time\": " + "1" * 4301 + "}", "too many digits"),
    ("✿FUNCTION✿: computer_use\n✿ARGS✿: " + "{\"a\": " * 1990 + "1" + "}" * 1990, "nested too deeply"),
    ("\udcc1", "lone surrogate"),
])
def test_function_call_bounds(text, message):
    with pytest.raises(ParseError) as info:
        parse_function_calls(text, "desktop", "qwen2.5-vl")
    assert message in str(info.value)


@pytest.mark.parametrize("env", ["desktop", "browser"])
def test_the_parser_accepts_exactly_the_schema_the_model_is_shown(env):
    from guiagent.tools.actions import ACTIONS_BY_NAME, shown_fields
    from guiagent.tools.schema import parameters

    props = parameters(env, "qwen2.5-vl")["properties"]
    offered = set(props["action"]["enum"])
    for name, action_type in ACTIONS_BY_NAME.items():
        text = _call(json.dumps({"action": name}))
        try:
            parse_tool_calls(text, env, "qwen2.5-vl")
        except ParseError as exc:
            assert (name in offered) == ("unknown action" not in str(exc)), (name, str(exc))
        for field in action_type.model_fields:
            if field == "action" or name not in offered:
                continue
            try:
                parse_tool_calls(_call(json.dumps({"action": name, field: None})), env, "qwen2.5-vl")
            except ParseError as exc:
                assert (field in props) == ("not a parameter" not in str(exc)), (name, field, str(exc))
            assert (field in shown_fields(action_type)) == (field in props)


def test_a_browser_episode_offers_navigate_and_back_and_the_desktop_keeps_the_trained_vocabulary():
    from guiagent.tools.actions import MODEL_ACTIONS
    from guiagent.tools.schema import computer_use_function

    desktop, browser = computer_use_function(1000, 700, "desktop", "qwen2.5-vl"), computer_use_function(1000, 700, "browser", "qwen2.5-vl")
    trained = ["key", "type", "mouse_move", "left_click", "left_click_drag", "right_click", "middle_click",
               "double_click", "scroll", "wait", "terminate"]
    assert desktop["parameters"]["properties"]["action"]["enum"] == list(MODEL_ACTIONS) == trained
    assert "navigate" not in desktop["description"] and "url" not in desktop["parameters"]["properties"]
    assert browser["parameters"]["properties"]["action"]["enum"] == [*trained, "navigate", "back"]
    assert "`navigate` and `back`" in browser["description"]
    assert "Required only by `action=navigate`" in browser["parameters"]["properties"]["url"]["description"]
    navigate = _call('{"action": "navigate", "url": "https://example.com/a"}')
    assert cast(Navigate, parse_tool_calls(navigate, "browser", "qwen2.5-vl").actions[0]).url == "https://example.com/a"
    assert parse_function_calls("✿FUNCTION✿: computer_use\n✿ARGS✿: {\"action\": \"back\"}", "browser", "qwen2.5-vl").actions[0].action == "back"
    for env in ("desktop", "browser"):  # triple_click is offered nowhere
        with pytest.raises(ParseError, match="unknown action 'triple_click'"):
            parse_tool_calls(_call('{"action": "triple_click", "coordinate": [1, 1]}'), env, "qwen2.5-vl")
    with pytest.raises(ParseError, match="navigate.url: url must be an absolute http"):
        parse_tool_calls(_call('{"action": "navigate", "url": "file:///etc/passwd"}'), "browser", "qwen2.5-vl")


def test_many_fences_parse_as_one_pass():
    # 48 KB of repeated fences took 1.7 s with the old regex; bench/fuzz.py times the worst cases
    text = "```json\n{" * 6000
    with pytest.raises(ParseError, match="more than 16 calls"):
        parse_tool_calls(text, "desktop", "qwen2.5-vl")
    with pytest.raises(ParseError, match="invalid JSON"):
        parse_tool_calls("```json\n{" + "```\n" * 12000, "desktop", "qwen2.5-vl")
    fenced = "Scroll.\n```json\n" + '{"name": "computer_use", "arguments": {"action": "scroll", "pixels": -5}}' + "\n```\n```\nnot json\n```"
    assert parse_tool_calls(fenced, "desktop", "qwen2.5-vl").actions == [Scroll(pixels=-5)]


def test_the_formatters_write_only_what_the_model_is_offered():
    from guiagent.tools import Navigate, TripleClick

    # what the export writes as a training label must be an answer the parser accepts
    assert parse_tool_calls(format_tool_call(Terminate(status="success", answer="42"), "desktop", "qwen2.5-vl"), "desktop", "qwen2.5-vl").actions == [Terminate(status="success")]
    assert "start_coordinate" not in format_function_call(LeftClickDrag(start_coordinate=(1, 1), coordinate=(5, 5)), "desktop", "qwen2.5-vl")
    for action in (TripleClick(coordinate=(1, 2)), Navigate(url="https://example.com")):
        with pytest.raises(ValueError, match="not an action the model is offered in a desktop episode"):
            format_tool_call(action, "desktop", "qwen2.5-vl")
    # a browser episode offers navigate: its label parses back there
    navigate = Navigate(url="https://example.com")
    assert parse_tool_calls(format_tool_call(navigate, "browser", "qwen2.5-vl"), "browser", "qwen2.5-vl").actions == [navigate]
    assert parse_function_calls(format_function_call(navigate, "browser", "qwen2.5-vl"), "browser", "qwen2.5-vl").actions == [navigate]
