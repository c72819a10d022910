"""Selector, text and role targets resolved in real Chromium (DPR 1 and 2): the visible element's centre."""

import pytest

from guiagent.tools.targets import Target, TargetError


@pytest.fixture
def page(browser, pages_url):
    browser.reset(pages_url + "/targets.html")
    browser.page.evaluate("window.scrollTo(0, 0)")
    return browser


@pytest.mark.parametrize("target, point, selector", [
    ({"selector": "#go"}, (550, 220), "#go"),
    ({"text": "Go on", "exact": True}, (550, 220), "#go"),  # the hidden twin is skipped
    ({"role": "button", "name": "Go on"}, (550, 220), "#go"),
    ({"role": "textbox", "name": "E-mail"}, (300, 110), "#email"),
    ({"role": "button", "name": "✕"}, (740, 320), 'button[title="Remove the second row"]'),
])
def test_dom_targets_resolve_to_the_visible_centre_in_css_pixels(page, target, point, selector):
    found = page.locate(Target(**target))
    assert found.point == point
    assert found.element.selector == selector


def test_a_target_below_the_fold_is_scrolled_into_view(page):
    found = page.locate(Target(selector="#far"))
    assert 0 <= found.point[1] < 800 and page.page.evaluate("window.scrollY") > 1000
    assert page.element_at(found.point).selector == "#far"


def test_a_target_under_a_fixed_bar_is_scrolled_clear_of_it(page):
    page.page.evaluate("window.scrollTo(0, 1975)")  # #far's top 25 px hide under the 60 px header
    found = page.locate(Target(selector="#far"))
    assert page.element_at(found.point).selector == "#far"


@pytest.mark.parametrize("target, message", [
    ({"selector": "#nowhere", "timeout": 0.3}, "selector '#nowhere' matched no visible element within 0.3s"),
    ({"selector": "#[bad", "timeout": 0.3}, "selector '#[bad': "),
    ({"role": "button", "name": "Nothing like it", "timeout": 0.3}, "role button 'Nothing like it' matched no visible element"),
])
def test_a_target_not_found_is_one_clear_sentence(page, target, message):
    with pytest.raises(TargetError) as info:
        page.locate(Target(**target))
    assert str(info.value).startswith(message) and "\n" not in str(info.value)


def test_element_at_names_the_control_under_a_point(page):
    bold = page.element_at((110, 408))
    assert bold.tag == "b" and bold.text == "Plain" and bold.path.endswith("body > p > b")
    assert page.element_at((200, 408)).text == "Plain text here"
    field = page.element_at((300, 110))
    assert (field.tag, field.role, field.name, field.selector) == ("input", "textbox", "E-mail", "#email")
    assert page.element_at((950, 30)).tag == "header"  # the bar covers #under there


def test_the_text_recorded_is_what_shows_not_script_source(page):
    page.page.set_content("<!doctype html><html><head><script>var headScript = 1;</script></head><body style='margin:0'>"
                          "<p style='margin:0'>Hello " + "word " * 40 + "</p><script>console.log('inline source')</script>"
                          "<p hidden>hidden words</p></body></html>")
    root = page.element_at((600, 700))  # below the body: the html element itself
    assert root.tag == "html" and root.text.startswith("Hello word") and len(root.text) <= 80
    assert "Script" not in root.text and "console" not in (root.name or "") and "hidden" not in root.text


def test_pointer_actions_record_the_element_they_hit(page):
    from guiagent.tools import parse_action

    result = page.execute(parse_action({"action": "left_click", "coordinate": [550, 220]}))
    assert result.data["elements"]["coordinate"]["selector"] == "#go"
