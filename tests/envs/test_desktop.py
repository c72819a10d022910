"""The desktop env on a real X server (Xvfb started here) with a real Tk window, driven through XTest."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import cast

import pytest

from guiagent.envs import EnvError
from guiagent.envs.desktop import DesktopConfig, DesktopEnv
from guiagent.tools import Check, LeftClick, Observation, parse_action

PROBE = Path(__file__).resolve().parents[1] / "apps" / "probe_app.py"


def wait_state(path: Path, predicate, timeout: float = 5.0) -> dict:
    deadline = time.monotonic() + timeout
    state: dict = {}
    while time.monotonic() < deadline:
        try:
            state = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError):
            state = {}
        if state and predicate(state):
            return state
        time.sleep(0.05)
    raise AssertionError(f"app state never satisfied the condition: {state}")


class Viewer:
    """A live view's screen as the env sees it (a FrameTap): frames offered while ``watching``."""

    def __init__(self) -> None:
        self.watching = False
        self.frames: list[Observation] = []

    def offer(self, frame: Observation) -> None:
        self.frames.append(frame)


@pytest.fixture(scope="module")
def viewer() -> Viewer:
    return Viewer()


@pytest.fixture(scope="module")
def probe(tmp_path_factory, viewer):
    state = tmp_path_factory.mktemp("probe") / "state.json"
    env = DesktopEnv(DesktopConfig(xvfb="1280x800x24", launch=f"{sys.executable} {PROBE} {state} Probe", window="^Probe$"))
    assert env.tap_frames(viewer)  # no sample_fps: the sampler runs for the viewer alone, grabbing only while watched
    env.reset()
    wait_state(state, lambda s: True)
    yield env, state
    env.close()


def act(env, **action):
    result = env.execute(parse_action(action))
    assert result.ok, result.message
    return result


def test_observation_is_native_with_time_and_window(probe):
    env, _ = probe
    before = time.time()
    obs = env.observe()
    assert (obs.geometry.width, obs.geometry.height, obs.geometry.scale) == (1280, 800, 1.0)
    assert (obs.geometry.offset_x, obs.geometry.offset_y) == (0, 0)
    assert obs.image[:8] == b"\x89PNG\r\n\x1a\n" and before - 1 < obs.t <= time.time()


def test_clicks_of_each_button_land_on_the_widget(probe):
    env, state = probe
    act(env, action="left_click", coordinate=[160, 120])
    wait_state(state, lambda s: s["button_clicks"] >= 1)
    n = len(json.loads(state.read_text())["presses"])
    act(env, action="right_click", coordinate=[700, 200])
    act(env, action="middle_click", coordinate=[710, 210])
    s = wait_state(state, lambda s: len(s["presses"]) >= n + 2)
    assert s["presses"][n:n + 2] == [{"button": 3, "x": 700, "y": 200}, {"button": 2, "x": 710, "y": 210}]


def test_double_and_triple_clicks(probe):
    env, state = probe
    act(env, action="double_click", coordinate=[800, 300])
    wait_state(state, lambda s: s["doubles"] >= 1)
    act(env, action="triple_click", coordinate=[800, 400])
    wait_state(state, lambda s: s["triples"] >= 1)


def test_typing_unicode_and_key_combos(probe):
    env, state = probe
    act(env, action="left_click", coordinate=[300, 216])
    act(env, action="type", text="plain ASCII, ok")
    wait_state(state, lambda s: s["text"] == "plain ASCII, ok")
    act(env, action="key", keys=["ctrl", "a"])  # a Tk Entry's emacs binding: to the line start
    act(env, action="type", text="X")
    wait_state(state, lambda s: s["text"] == "Xplain ASCII, ok")
    act(env, action="key", keys="shift+End")  # select to the end ...
    act(env, action="key", keys=["BackSpace"])  # ... delete the selection ...
    wait_state(state, lambda s: s["text"] == "X")
    act(env, action="key", keys=["BackSpace"])  # ... and the X
    wait_state(state, lambda s: s["text"] == "")
    act(env, action="type", text="naïve café 东京")  # not what pyautogui.write can type: xdotool does
    wait_state(state, lambda s: s["text"] == "naïve café 东京")
    act(env, action="key", keys=["shift", "Home"])
    act(env, action="key", keys=["Delete"])
    wait_state(state, lambda s: s["text"] == "")
    keys = json.loads(state.read_text())["keys"]
    assert any(k["keysym"] == "a" and k["state"] & 4 for k in keys)  # ctrl held
    assert any(k["keysym"] == "Home" and k["state"] & 1 for k in keys)  # shift held


def test_typing_many_distinct_characters_and_capitals(probe):
    env, state = probe
    act(env, action="left_click", coordinate=[300, 216])
    act(env, action="key", keys=["ctrl", "a"])
    act(env, action="key", keys="shift+End")
    act(env, action="key", keys=["Delete"])
    wait_state(state, lambda s: s["text"] == "")
    text = "Élan ÅßØ " + "".join(chr(0x4E00 + 37 * i) for i in range(80)) + " Ωmega"  # keycodes kept, not recycled
    act(env, action="type", text=text)
    wait_state(state, lambda s: s["text"] == text)
    act(env, action="type", text=" é东É")  # characters mapped before type again
    wait_state(state, lambda s: s["text"] == text + " é东É")


def test_a_live_view_gets_the_screen_only_while_it_watches(probe, viewer):
    env, state = probe
    act(env, action="left_click", coordinate=[300, 216])
    act(env, action="type", text="unseen")
    assert viewer.frames == []  # nobody watched: nothing was grabbed or encoded for the view
    viewer.watching = True
    try:
        act(env, action="type", text="seen")
        deadline = time.monotonic() + 30
        while not viewer.frames and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        viewer.watching = False
    assert viewer.frames and viewer.frames[-1].image_format == "jpeg" and viewer.frames[-1].geometry.width == 1280
    assert env.drain_frames() == []  # the view's frames are not the model's (no sample_fps)


def test_scroll_at_a_point(probe):
    env, state = probe
    act(env, action="scroll", coordinate=[900, 500], pixels=-150)  # down: 3 wheel clicks at 50 px each
    s = wait_state(state, lambda s: len(s["wheel"]) >= 3)
    assert all(w == {"button": 5, "x": 900, "y": 500} for w in s["wheel"][-3:])
    act(env, action="scroll", coordinate=[900, 500], pixels=40)
    s = wait_state(state, lambda s: s["wheel"][-1]["button"] == 4)


def test_hscroll_at_a_point(probe):
    # Qwen3-VL's hscroll, positive to the right as pyautogui.hscroll: X button 7, two clicks of 50 px
    env, state = probe
    act(env, action="hscroll", coordinate=[900, 500], pixels=100)
    s = wait_state(state, lambda s: sum(1 for w in s["wheel"] if w.get("horizontal")) >= 2)
    assert [w for w in s["wheel"] if w.get("horizontal")][-2:] == [{"button": 5, "x": 900, "y": 500, "horizontal": True}] * 2


def test_drag_holds_the_button(probe):
    env, state = probe
    act(env, action="left_click_drag", start_coordinate=[650, 150], coordinate=[1100, 600])
    s = wait_state(state, lambda s: s["drags"] and s["drags"][-1].get("to") == [1100, 600])
    assert s["drags"][-1]["from"] == [650, 150]


def test_bad_actions_give_clear_errors(probe):
    env, _ = probe
    off = env.execute(parse_action({"action": "left_click", "coordinate": [1500, 10]}))
    assert not off.ok and off.message == "left_click: coordinate [1500, 10] is off the screen"
    browser_only = env.execute(parse_action({"action": "navigate", "url": "https://example.com"}))
    assert not browser_only.ok and "browser-only" in browser_only.message
    unknown_key = env.execute(parse_action({"action": "key", "keys": ["F24", "é"]}))
    assert not unknown_key.ok and "key 'é' is not supported on the desktop" in unknown_key.message
    asks = env.execute(parse_action({"action": "call_user"}))  # the loop's to answer, not the desktop's
    assert not asks.ok and asks.message.startswith("call_user asks a person for help")


def test_a_named_key_the_keyboard_lacks_is_pressed(probe):
    """F13-F24 are on no key of Xvfb's keymap: XTest presses them on a spare keycode (pyautogui skipped them)."""
    env, state = probe
    act(env, action="left_click", coordinate=[300, 216])
    act(env, action="key", keys=["F24"])
    act(env, action="key", keys=["ctrl", "F13"])
    s = wait_state(state, lambda s: any(k["keysym"] == "F13" for k in s["keys"]))
    assert any(k["keysym"] == "F24" for k in s["keys"])
    assert any(k["keysym"] == "F13" and k["state"] & 4 for k in s["keys"])  # ctrl held


def test_the_fail_safe_refuses_actions_while_the_mouse_is_in_a_corner(tmp_path):
    env = DesktopEnv(DesktopConfig(xvfb="640x480", failsafe=True))
    try:
        env.reset()
        act(env, action="mouse_move", coordinate=[0, 0])  # the move itself starts away from a corner
        refused = env.execute(parse_action({"action": "left_click", "coordinate": [10, 10]}))
        assert not refused.ok and "fail-safe: the mouse is in a corner of the screen" in refused.message
        assert env.execute(parse_action({"action": "wait", "time": 0})).ok
    finally:
        env.close()


def test_window_checks(probe):
    env, _ = probe
    assert env.check(Check(window="^Probe$", timeout=1)).ok
    missing = env.check(Check(window="^Nope$", timeout=0.2))
    assert not missing.ok and "'Probe'" in missing.message
    assert not env.check(Check(text="x", timeout=0.1)).ok


def test_a_click_from_monitor_two_lands_on_the_widget(tmp_path):
    state = tmp_path / "state.json"
    env = DesktopEnv(DesktopConfig(xvfb="2560x800x24", xvfb_monitors=2, monitor=2,
                                   launch=f"{sys.executable} {PROBE} {state} Right 1280x800+1280+0", window="^Right$"))
    try:
        env.reset()
        obs = env.observe()
        assert (obs.geometry.width, obs.geometry.offset_x) == (1280, 1280)
        mapping = obs.geometry.for_model(max_pixels=1280 * 28 * 28)
        # the Press button's centre, in pixels of the monitor-2 frame, as the model would give it
        model_point = mapping.captured_to_model((160, 120))
        model_click = parse_action({"action": "left_click", "coordinate": list(model_point)})
        click = cast(LeftClick, model_click.map_points(mapping.model_to_input))
        assert env.execute(click).ok
        wait_state(state, lambda s: s["button_clicks"] == 1)
    finally:
        env.close()


def test_no_display_and_a_dead_server_are_clear(tmp_path, monkeypatch):
    monkeypatch.delenv("DISPLAY", raising=False)
    with pytest.raises(EnvError, match="no X display: set DISPLAY, or pass --xvfb"):
        DesktopEnv().reset()
    env = DesktopEnv(DesktopConfig(xvfb="640x480"))
    env.reset()
    assert env._session is not None
    env._session.xvfb.stop()
    with pytest.raises(EnvError, match="is gone"):
        env.observe()
    env.close()
    env.close()


def test_a_launch_that_dies_is_reported(tmp_path):
    env = DesktopEnv(DesktopConfig(xvfb="640x480", launch=f"{sys.executable} -c 'import sys; sys.exit(3)'"))
    with pytest.raises(EnvError, match="exited with code 3 before its window appeared"):
        env.reset()
    env.close()


def test_the_browser_path_does_not_import_x_libraries():
    import subprocess

    code = "import agent.cli, agent.runner, envs.browser, sys; print(sorted(m for m in ('mss', 'Xlib') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env={"PATH": "/usr/bin:/bin"})
    assert out.stdout.strip() == "[]", out.stderr


def test_the_sampler_keeps_frames_that_changed_between_observations(tmp_path):
    import io

    from PIL import Image, ImageChops

    state = tmp_path / "state.json"
    env = DesktopEnv(DesktopConfig(xvfb="1280x800x24", sample_fps=5,
                                   launch=f"{sys.executable} {PROBE} {state} Probe", window="^Probe$"))
    try:
        env.reset()
        wait_state(state, lambda s: True)
        time.sleep(0.5)
        env.drain_frames()
        act(env, action="wait", time=1)
        assert env.drain_frames() == []  # a still screen adds nothing
        empty = Image.open(io.BytesIO(env.observe().image)).convert("RGB").crop((100, 200, 500, 232))
        before = time.time()
        act(env, action="left_click", coordinate=[300, 216])
        act(env, action="type", text="sampled")
        act(env, action="wait", time=0.5)
        frames = env.drain_frames()
        assert frames and [f.t for f in frames] == sorted(f.t for f in frames)
        assert before < frames[0].t and frames[-1].t < time.time()
        last = Image.open(io.BytesIO(frames[-1].image))
        assert last.format == "JPEG" and last.size == (1280, 800)
        assert frames[-1].geometry.width == 1280
        typed = last.convert("RGB").crop((100, 200, 500, 232))
        assert ImageChops.difference(empty, typed).getbbox() is not None  # the typing is in the frame
    finally:
        env.close()
    assert env.drain_frames() == []
