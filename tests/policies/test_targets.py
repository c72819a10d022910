"""Targets in scripts: how they are written, checked and resolved (without a browser: the rules)."""

from pathlib import Path
from typing import cast

import pytest

from guiagent.policies.script import PLACEHOLDER, ScriptError, load_script
from guiagent.policies.targeting import Targeting
from guiagent.tools import DoubleClick, FrameGeometry, LeftClick, LeftClickDrag, Observation
from guiagent.tools.targets import Target, page_key


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "s.yaml"
    path.write_text(text)
    return path


def test_every_pointer_action_takes_targets_and_a_given_point_is_the_fallback(tmp_path):
    script = load_script(write(tmp_path, """
steps:
  - {action: left_click, target: {selector: "#go"}}
  - {action: double_click, target: {text: Open, exact: true}, coordinate: [5, 6]}
  - {action: mouse_move, target: {role: button, name: Save}, timeout: 9}
  - {action: left_click_drag, start_target: {selector: "#card"}, target: the Done column}
  - {action: scroll, target: {describe: the list}, pixels: -300}
"""))
    click, double, move, drag, scroll = script.steps
    assert click.targets["coordinate"] == Target(selector="#go") and click.action == LeftClick(coordinate=PLACEHOLDER)
    assert double.targets["coordinate"].fallback == (5, 6) and cast(DoubleClick, double.action).coordinate == (5, 6)
    assert move.targets["coordinate"].timeout == 9
    assert list(drag.targets) == ["start_coordinate", "coordinate"]
    assert drag.targets["coordinate"] == Target(describe="the Done column") and isinstance(drag.action, LeftClickDrag)
    assert scroll.targets["coordinate"].written() == {"describe": "the list"}


@pytest.mark.parametrize("step, message", [
    ("{action: type, text: x, target: {selector: a}}", "step 1: target: 'type' has no coordinate to point at"),
    ("{action: left_click, start_target: {selector: a}}", "'left_click' has no start_coordinate to point at"),
    ("{action: left_click, target: {selector: a, text: b}}", "a target takes one of selector, text, role (got selector, text)"),
    ("{action: left_click, target: {name: Save}}", "a target needs one of selector, text, role, describe"),
    ("{action: left_click, target: {text: Save, name: x}}", "name goes with role"),
    ("{action: left_click, target: [1, 2]}", "target: expected a mapping (selector, text, role, describe), got [1, 2]"),
    ("{action: left_click, target: {selector: a, colour: red}}", "target: colour: Extra inputs are not permitted"),
    ("{action: left_click, target: {selector: a}, timeout: 0}", "target: timeout: Input should be greater than 0"),
    ("{action: left_click, coordinate: [1, 1], timeout: 3}", "timeout: only a step with a target waits"),
])
def test_bad_targets_name_the_file_the_step_and_the_problem(tmp_path, step, message):
    path = write(tmp_path, f"steps:\n  - {step}\n")
    with pytest.raises(ScriptError) as info:
        load_script(path)
    assert str(path) in str(info.value) and message in str(info.value)


def test_page_keys_leave_out_the_port_so_a_local_server_may_move():
    assert page_key("http://127.0.0.1:8123/list") == page_key("http://127.0.0.1:9000/list") == "127.0.0.1/list"
    assert page_key("https://example.com/a?b=1") == "example.com/a?b=1"
    assert page_key(None) is None


def _observation() -> Observation:
    import io

    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (200, 100), "white").save(buf, "PNG")
    return Observation(image=buf.getvalue(), t=0.0, geometry=FrameGeometry(width=200, height=100), window="App")


def _no_model():
    raise AssertionError("no model call expected")


def test_a_dom_target_off_the_browser_is_a_clear_error_or_uses_its_fallback():
    targeting = Targeting(_no_model)
    action = LeftClick(coordinate=PLACEHOLDER)
    _, records, error = targeting.resolve_action(action, {"coordinate": Target(selector="#go")}, _observation(), None)
    assert error == "left_click: selector '#go' is a DOM target, for the browser env: use describe here"
    done, records, error = targeting.resolve_action(
        action, {"coordinate": Target(selector="#go", fallback=(7, 8))}, _observation(), None)
    assert error is None and cast(LeftClick, done).coordinate == (7, 8)
    reason = records[0].reason
    assert reason is not None
    assert records[0].source == "fallback" and "DOM target" in reason


def test_the_cache_modes_use_refresh_and_off(tmp_path):
    from guiagent.policies.action_cache import ActionCache, CacheEntry, CacheError, Signature

    path = tmp_path / "s.cache.json"
    entry = CacheEntry(describe="the Add button", point=(10, 20), signature=Signature(page="h/list", region="0" * 16))
    ActionCache(path).store(entry)
    hit = ActionCache(path).lookup("the Add button", "h/list")
    assert hit is not None and hit.point == (10, 20)
    assert ActionCache(path).lookup("the Add button", "h/other") is None
    assert ActionCache(path, "refresh").lookup("the Add button", "h/list") is None  # grounds again...
    off = ActionCache(path, "off")
    off.store(entry.model_copy(update={"point": (1, 1)}))
    assert off.lookup("the Add button", "h/list") is None
    hit = ActionCache(path).lookup("the Add button", "h/list")
    assert hit is not None and hit.point == (10, 20)
    refresh = ActionCache(path, "refresh")
    refresh.store(entry.model_copy(update={"point": (3, 4)}))  # ...and rewrites the file
    hit = ActionCache(path).lookup("the Add button", "h/list")
    assert hit is not None and hit.point == (3, 4)
    path.write_text("{not json")
    with pytest.raises(CacheError, match="unreadable .*--refresh-cache"):
        ActionCache(path)


def test_a_signature_tells_what_changed():
    from guiagent.policies.action_cache import Signature

    old = Signature(page="h/list", region="ffff000000000000", dom_path="html > body > button", dom_text="Add")
    assert old.differences(old) == []
    assert old.differences(old.model_copy(update={"region": "ffff00000000000f"})) == []  # within the distance
    moved = old.model_copy(update={"region": "00000000ffffffff", "dom_path": "html"})
    assert old.differences(moved) == ["region hash distance 48", "element 'html > body > button' -> 'html'"]


def test_the_grounding_request_is_one_computer_use_click_on_the_resized_screen():
    from guiagent.policies.grounding import Grounder
    from guiagent.policies.vlm import VLMConfig

    obs = _observation()
    messages, body, mapping = Grounder(VLMConfig(constrained=True)).request("the blue Save button", obs)
    assert "computer_use" in messages[0]["content"] and f"{mapping.resized_width}x{mapping.resized_height}" in messages[0]["content"]
    texts = [m["content"] if isinstance(m["content"], str) else " ".join(p.get("text", "") for p in m["content"]) for m in messages]
    assert "Click the blue Save button." in texts[-1] and len(messages) == 2  # no history, no video
    assert messages[-1]["content"][-1]["type"] == "image_url"
    regex = body["structured_outputs"]["regex"]
    assert regex.startswith("<tool_call>") and '"action": "left_click"' in regex and "type" not in regex
