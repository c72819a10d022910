from typing import cast

import pytest

from guiagent.tools import (
    ACTIONS_BY_NAME,
    ActionError,
    Key,
    LeftClick,
    LeftClickDrag,
    Scroll,
    dump_action,
    parse_action,
)
from guiagent.tools.keys import canonical_key, split_combo


@pytest.mark.parametrize("data, message", [
    ({"action": "left_click", "coordinate": [-5, 10]}, "left_click.coordinate.0: Input should be greater than or equal to 0 (got -5)"),
    ({"action": "left_click", "coordinate": ["abc", 10]}, "left_click.coordinate.0: Input should be a valid number"),
    ({"action": "left_click", "coordinate": [1, 2, 3]}, "left_click.coordinate"),
    ({"action": "key", "keys": ["ctrl", "hyper"]}, "key.keys: unknown key name 'hyper'"),
    ({"action": "key", "keys": []}, "key.keys: List should have at least 1 item"),
    ({"action": "type", "text": ""}, "type.text: String should have at least 1 character (got '')"),
    ({"action": "navigate", "url": "file:///etc/passwd"}, "navigate.url: url must be an absolute http(s) URL (got 'file:///etc/passwd')"),
    ({"action": "navigate", "url": "javascript:alert(1)"}, "navigate.url"),
    ({"action": "mouse_move"}, "mouse_move.coordinate: Field required"),
    ({"action": "terminate", "status": "maybe"}, "terminate.status: Input should be 'success' or 'failure' (got 'maybe')"),
    ({"action": "scroll", "pixels": 0}, "scroll.pixels: pixels must not be 0"),
    ({"action": "left_click", "coordinate": [1, 2], "button": "left"}, "left_click.button: Extra inputs are not permitted"),
    ({"action": "fly"}, "action: unknown action 'fly'"),
    ({"coordinate": [1, 2]}, "action: missing"),
    ("left_click", "an action must be an object"),
])
def test_invalid_actions_name_the_field_and_the_value(data, message):
    with pytest.raises(ActionError) as info:
        parse_action(data)
    assert message in str(info.value)


def test_numbers_as_strings_and_floats_are_accepted():
    a = cast(LeftClick, parse_action({"action": "left_click", "coordinate": ["100", 200.5]}))
    assert a.coordinate == (100.0, 200.5)
    assert dump_action(a) == {"action": "left_click", "coordinate": [100, 200.5]}


@pytest.mark.parametrize("raw, canonical", [
    ("ctrl", "ctrl"), ("Control", "ctrl"), ("cmd", "super"), ("win", "super"), ("enter", "Return"),
    ("Return", "Return"), ("esc", "Escape"), ("PageDown", "Page_Down"), ("page_down", "Page_Down"),
    ("Page_Down", "Page_Down"), ("f5", "F5"), ("F12", "F12"), ("ArrowLeft", "Left"), ("a", "a"), ("A", "A"),
    ("minus", "-"), ("space", "space"), ("BackSpace", "BackSpace"), ("backspace", "BackSpace"),
])
def test_key_names_as_qwen_and_xdotool_write_them(raw, canonical):
    assert canonical_key(raw) == canonical


def test_key_combos_given_as_strings_are_split():
    assert split_combo("ctrl+shift+t") == ["ctrl", "shift", "t"]
    assert split_combo("ctrl++") == ["ctrl", "+"]
    assert split_combo("+") == ["+"]
    assert cast(Key, parse_action({"action": "key", "keys": "ctrl+a"})).keys == ["ctrl", "a"]


def test_scroll_accepts_direction_and_amount():
    assert cast(Scroll, parse_action({"action": "scroll", "direction": "down", "amount": 300})).pixels == -300
    assert cast(Scroll, parse_action({"action": "scroll", "direction": "up", "amount": 120, "coordinate": [5, 5]})).pixels == 120
    with pytest.raises(ActionError, match="direction must be 'up' or 'down'"):
        parse_action({"action": "scroll", "direction": "sideways", "amount": 3})


SAMPLES = [
    {"action": "key", "keys": ["ctrl", "c"]}, {"action": "type", "text": "naïve café 东京"},
    {"action": "mouse_move", "coordinate": [1, 2]}, {"action": "left_click", "coordinate": [3, 4]},
    {"action": "left_click"}, {"action": "right_click", "coordinate": [5, 6]},
    {"action": "middle_click", "coordinate": [5, 6]}, {"action": "double_click", "coordinate": [7, 8]},
    {"action": "triple_click", "coordinate": [9, 10]}, {"action": "left_click_drag", "coordinate": [11, 12]},
    {"action": "left_click_drag", "start_coordinate": [1, 1], "coordinate": [11, 12]},
    {"action": "scroll", "coordinate": [1, 1], "pixels": -5}, {"action": "hscroll", "pixels": 40},
    {"action": "wait", "time": 2.5},
    {"action": "terminate", "status": "success", "answer": "42"}, {"action": "navigate", "url": "https://example.com/a"},
    {"action": "back"}, {"action": "call_user"},
]


def test_every_action_round_trips_through_its_recorded_form():
    # Qwen3-VL's answer is read as the terminate it means, and recorded as one
    assert {s["action"] for s in SAMPLES} | {"answer"} == set(ACTIONS_BY_NAME)
    assert dump_action(parse_action({"action": "answer", "text": "42"})) == {
        "action": "terminate", "status": "success", "answer": "42"}
    for sample in SAMPLES:
        action = parse_action(sample)
        assert dump_action(action) == sample
        assert parse_action(dump_action(action)) == action


def test_map_points_moves_every_coordinate_and_nothing_else():
    drag = LeftClickDrag(start_coordinate=(10, 20), coordinate=(30, 40))
    moved = drag.map_points(lambda p: (p[0] * 2, p[1] + 1))
    assert moved == LeftClickDrag(start_coordinate=(20, 21), coordinate=(60, 41))
    assert LeftClick().map_points(lambda p: (0, 0)) == LeftClick()
    assert Scroll(pixels=-3).points() == {}
    assert Key(keys=["a"]).points() == {}
