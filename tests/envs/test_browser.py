"""The browser env against real Chromium (Debian's package through Playwright), at scale factors 1 and 2."""

import socket
from pathlib import Path

import pytest

from guiagent.envs import EnvError
from guiagent.envs.browser import BrowserConfig, BrowserEnv
from guiagent.tools import Check, parse_action


def act(env, **action):
    return env.execute(parse_action(action))


@pytest.fixture
def pad(browser, pages_url):
    browser.reset(pages_url + "/pad.html")
    return browser


def events(env, kind=None):
    evs = env.page.evaluate("window.events")
    return [e for e in evs if kind is None or e["type"] == kind]


def test_observation_is_at_device_pixels_with_geometry_and_time(pad):
    import time

    before = time.time()
    obs = pad.observe()
    scale = pad.config.device_scale_factor
    assert (obs.geometry.width, obs.geometry.height) == (1280 * scale, 800 * scale)
    assert obs.geometry.scale == scale
    assert obs.image[:8] == b"\x89PNG\r\n\x1a\n"
    assert before - 1 < obs.t < time.time()
    assert obs.url.endswith("/pad.html") and obs.title == "Pad"


@pytest.mark.parametrize("name, event, button, detail", [
    ("left_click", "click", 0, 1),
    ("double_click", "dblclick", 0, 2),
    ("triple_click", "click", 0, 3),
    ("right_click", "contextmenu", 2, 1),
    ("middle_click", "auxclick", 1, 1),
])
def test_clicks_land_on_the_css_pixel(pad, name, event, button, detail):
    result = act(pad, action=name, coordinate=[333, 222])
    assert result.ok, result.message
    hits = [e for e in events(pad, event) if e["detail"] == detail or event != "click"]
    assert hits, events(pad)
    assert (hits[-1]["x"], hits[-1]["y"], hits[-1]["button"], hits[-1]["target"]) == (333, 222, button, "target")


def test_a_model_space_click_lands_on_the_element_seen_in_the_frame(pad):
    obs = pad.observe()
    mapping = obs.geometry.for_model(max_pixels=1280 * 28 * 28)
    # the target's centre, measured in captured pixels of this very frame, then expressed in model space
    box = pad.page.evaluate("JSON.stringify(document.getElementById('target').getBoundingClientRect())")
    import json

    b = json.loads(box)
    center_captured = ((b["x"] + b["width"] / 2) * obs.geometry.scale, (b["y"] + b["height"] / 2) * obs.geometry.scale)
    model_point = mapping.captured_to_model(center_captured)
    click = parse_action({"action": "left_click", "coordinate": list(model_point)}).map_points(mapping.model_to_input)
    assert pad.execute(click).ok
    assert events(pad, "click")[-1]["target"] == "target"


def test_no_coordinate_clicks_where_the_pointer_is(pad):
    assert act(pad, action="mouse_move", coordinate=[350, 230]).ok
    assert pad.page.evaluate("window.lastMove") == [350, 230]
    assert act(pad, action="left_click").ok
    assert events(pad, "click")[-1]["target"] == "target"


def test_typing_key_combos_and_unicode(pad):
    assert act(pad, action="left_click", coordinate=[700, 116]).ok
    assert act(pad, action="type", text="naïve café 东京 ✓").ok
    assert pad.page.input_value("#field") == "naïve café 东京 ✓"
    assert act(pad, action="key", keys=["ctrl", "a"]).ok
    assert act(pad, action="key", keys=["BackSpace"]).ok
    assert pad.page.input_value("#field") == ""
    assert act(pad, action="key", keys="shift+a").ok
    assert pad.page.input_value("#field") == "A"
    assert act(pad, action="key", keys=["Return"]).ok
    last = pad.page.evaluate("window.keys")[-1]
    assert last["key"] == "Enter"
    assert act(pad, action="key", keys=["ctrl", "shift", "Page_Down"]).ok
    combo = pad.page.evaluate("window.keys")[-1]
    assert (combo["key"], combo["ctrl"], combo["shift"]) == ("PageDown", True, True)


def test_scroll_at_a_point_by_pixels(pad):
    assert pad.page.evaluate("window.scrollY") == 0
    assert act(pad, action="scroll", coordinate=[640, 400], pixels=-500).ok
    assert pad.page.evaluate("window.scrollY") == 500
    assert act(pad, action="scroll", direction="up", amount=200).ok
    assert pad.page.evaluate("window.scrollY") == 300


def test_hscroll_scrolls_sideways_positive_to_the_right(pad):
    # Qwen3-VL's hscroll: as pyautogui.hscroll, positive pixels scroll right
    pad.page.evaluate("document.body.style.width = '4000px'")
    assert act(pad, action="hscroll", coordinate=[640, 400], pixels=300).ok
    assert pad.page.evaluate("window.scrollX") == 300
    assert act(pad, action="hscroll", pixels=-100).ok
    assert pad.page.evaluate("window.scrollX") == 200


def test_drag_holds_the_button_from_start_to_end(pad):
    assert act(pad, action="left_click_drag", start_coordinate=[130, 430], coordinate=[800, 480]).ok
    assert pad.page.evaluate("window.drag") == {"from": [130, 430], "to": [800, 480]}


def test_drag_without_start_begins_at_the_pointer(pad):
    assert act(pad, action="mouse_move", coordinate=[120, 420]).ok
    assert act(pad, action="left_click_drag", coordinate=[750, 400]).ok
    assert pad.page.evaluate("window.drag") == {"from": [120, 420], "to": [750, 400]}


def test_a_link_to_a_new_tab_moves_the_env_there(pad):
    result = act(pad, action="left_click", coordinate=[30, 708])
    assert result.ok, result.message
    obs = pad.observe()
    assert obs.url.endswith("/second.html") and obs.title == "Second"
    assert pad.check(Check(text="Second page", timeout=2)).ok


def test_dialogs_are_accepted_and_reported(pad):
    result = act(pad, action="left_click", coordinate=[410, 710])
    assert result.data["dialogs"] == [{"type": "alert", "message": "hello", "handled": "accepted"}]
    assert "alert dialog 'hello' was accepted" in result.message
    result = act(pad, action="left_click", coordinate=[510, 710])
    assert result.data["dialogs"][0]["type"] == "confirm"
    assert pad.page.evaluate("window.confirmed") is True
    result = act(pad, action="left_click", coordinate=[610, 710])
    assert result.data["dialogs"][0]["type"] == "prompt"
    assert pad.page.evaluate("window.prompted") == ""


def test_downloads_land_in_the_downloads_folder(pad):
    result = act(pad, action="left_click", coordinate=[215, 708])
    assert result.ok, result.message
    (download,) = result.data["downloads"]
    assert Path(download["path"]).read_text() == "guiagent download test\n"
    assert Path(download["path"]).parent == Path(pad.config.downloads_dir)


def test_navigate_and_back(pad, pages_url):
    assert act(pad, action="navigate", url=pages_url + "/second.html").ok
    assert pad.observe().title == "Second"
    assert act(pad, action="back").ok
    assert pad.observe().title == "Pad"


def test_bad_actions_give_clear_errors_and_the_env_goes_on(pad):
    outside = act(pad, action="left_click", coordinate=[5000, 10])
    assert not outside.ok
    assert outside.message == "left_click: coordinate [5000, 10] is outside the 1280x800 viewport"
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    dead = act(pad, action="navigate", url=f"http://127.0.0.1:{port}/nothing")
    assert not dead.ok and "navigate failed" in dead.message and "ERR_CONNECTION_REFUSED" in dead.message
    assert pad.observe().geometry.width > 0  # still usable
    asks = act(pad, action="call_user")  # the model asking a person: the loop's to answer, not the browser's
    assert not asks.ok and asks.message == "call_user asks a person for help: the episode's loop answers it, a computer cannot run it"


def test_checks_hold_or_say_why_not(pad, pages_url):
    pad.reset(pages_url + "/slow.html")
    assert pad.check(Check(text="appeared late", timeout=3)).ok
    assert pad.check(Check(url=r"/slow\.html$", selector="#late", js="document.title === 'Slow'")).ok
    failed = pad.check(Check(text="never there", timeout=0.3))
    assert not failed.ok and failed.message.startswith("check text 'never there' failed within 0.3s")
    wrong_url = pad.check(Check(url="/elsewhere", timeout=0.2))
    assert "does not match '/elsewhere'" in wrong_url.message
    # a js condition is polled (not read once): one that comes true later holds, one that never does says so
    pad.evaluate("setTimeout(() => { window.__late = 1; }, 200)")
    assert pad.check(Check(js="window.__late === 1", timeout=10)).ok
    never = pad.check(Check(js="window.__never === 1", timeout=0.3))
    assert not never.ok and never.message.startswith("check js 'window.__never === 1' failed within 0.3s")


def test_a_crashed_browser_is_an_env_error_and_close_is_idempotent(pages_url):
    env = BrowserEnv(BrowserConfig())
    env.reset(pages_url + "/pad.html")
    assert env._browser is not None
    env._browser.close()  # what a crash looks like from here: the connection is gone
    with pytest.raises(EnvError, match="the browser is gone"):
        env.observe()
    with pytest.raises(EnvError, match="the browser is gone"):
        env.execute(parse_action({"action": "left_click", "coordinate": [1, 1]}))
    env.close()
    env.close()


def test_a_missing_chromium_is_named():
    env = BrowserEnv(BrowserConfig(executable_path="/nonexistent/chromium"))
    with pytest.raises(EnvError, match="Chromium not found at '/nonexistent/chromium'"):
        env.reset()
