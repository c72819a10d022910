"""A perfect answer in each family's coordinate space clicks within half a model unit of its target,
on a real Chromium page at device scale factor 1 and 2 (the `browser` fixture)."""

from __future__ import annotations

import json
from typing import cast

import pytest

from guiagent.policies.families import FAMILIES, get_family
from guiagent.tools import LeftClick, parse_action

# target boxes in CSS pixels (left, top, width, height): odd places, one at the right/bottom edge
TARGETS = [(301, 203, 7, 5), (17.5, 640.25, 9, 9), (1270, 790, 10, 10)]


@pytest.fixture
def pad(browser, pages_url):
    browser.reset(pages_url + "/pad.html")
    return browser


@pytest.mark.parametrize("name", list(FAMILIES))
def test_a_perfect_answer_clicks_within_half_a_model_unit(pad, name):
    family = get_family(name)
    for left, top, width, height in TARGETS:
        pad.page.evaluate(
            "([l, t, w, h]) => Object.assign(document.getElementById('target').style,"
            " {left: l + 'px', top: t + 'px', width: w + 'px', height: h + 'px'})", [left, top, width, height])
        obs = pad.observe()
        mapping = family.mapping(obs.geometry)
        box = json.loads(pad.page.evaluate("JSON.stringify(document.getElementById('target').getBoundingClientRect())"))
        centre = (box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)  # CSS pixels
        # the model's perfect answer: the centre in its own space, as the whole number it writes
        answer = mapping.input_to_model(centre)
        assert 0 <= answer[0] <= mapping.model_width and 0 <= answer[1] <= mapping.model_height
        model_click = parse_action({"action": "left_click", "coordinate": list(answer)})
        click = cast(LeftClick, model_click.map_points(mapping.model_to_input))
        unit_x = obs.geometry.width / obs.geometry.scale / mapping.model_width  # CSS pixels per model unit
        unit_y = obs.geometry.height / obs.geometry.scale / mapping.model_height
        assert click.coordinate is not None
        x, y = click.coordinate
        assert abs(x - centre[0]) <= unit_x / 2 + 1e-6 and abs(y - centre[1]) <= unit_y / 2 + 1e-6, (name, answer, click)
        assert pad.execute(click).ok
        hit = pad.page.evaluate("window.events.filter(e => e.type === 'click').at(-1)")
        assert hit["target"] == "target", (name, answer, click.coordinate, centre)
