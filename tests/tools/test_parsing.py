"""Both parsers on a corpus of realistic answers, hand-written from the formats' documentation."""

import pytest

from guiagent.tools import DoubleClick, Key, LeftClick, LeftClickDrag, MouseMove, Scroll, Terminate, TripleClick, Type, Wait
from guiagent.tools.parsing import ParseError, format_function_call, format_tool_call, parse_function_calls, parse_tool_calls

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
    # an action the model was not shown, but that the vocabulary has
    ('<tool_call>\n{"name": "computer_use", "arguments": {"action": "triple_click", "coordinate": [10, 10]}}\n</tool_call>',
     "", [TripleClick(coordinate=(10, 10))]),
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
    parsed = parse_tool_calls(text)
    assert (parsed.thought, parsed.actions) == (thought, actions)


@pytest.mark.parametrize("text, thought, actions", FRR_CORPUS)
def test_function_result_return_corpus(text, thought, actions):
    parsed = parse_function_calls(text)
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
        parse_tool_calls(text)
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
        parse_function_calls(text)
    assert message in str(info.value)


@pytest.mark.parametrize("action", [LeftClick(coordinate=(1, 2)), Key(keys=["ctrl", "c"]), Type(text="東京"), Wait(time=1.5),
                                    Scroll(coordinate=(3, 4), pixels=-2), Terminate(status="success")])
def test_what_the_formatters_write_the_parsers_read(action):
    assert parse_tool_calls(format_tool_call(action)).actions == [action]
    assert parse_function_calls(format_function_call(action)).actions == [action]
