import random

import pytest

from guiagent.tools.geometry import (
    MAX_PIXELS,
    MIN_PIXELS,
    CoordinateOutOfRange,
    FrameGeometry,
    smart_resize,
)
from tests.reference_qwen_vl_utils import load_reference_smart_resize

reference = load_reference_smart_resize()


def _outcome(fn, *args):
    try:
        return fn(*args)
    except Exception:  # qwen_vl_utils raises AssertionError/ValueError/ZeroDivisionError; we raise ValueError
        return "error"


def _cases():
    rng = random.Random(1234)
    limits = [(MIN_PIXELS, MAX_PIXELS), (256 * 28 * 28, 1280 * 28 * 28), (3136, 1003520), (3136, 3136), (50000, 40000)]
    for _ in range(4000):
        h, w = rng.randint(1, 8000), rng.randint(1, 8000)
        yield (h, w, 28, *rng.choice(limits))
    for h, w in [(1, 199), (1, 200), (1, 201), (200, 1), (201, 1), (10000, 50), (50, 10000), (1, 1), (27, 29),
                 (1440, 2560), (800, 1280), (1600, 2560), (1080, 1920), (2160, 3840), (0, 10), (10, 0), (14, 14)]:
        for mn, mx in limits:
            yield (h, w, 28, mn, mx)
    for factor in (14, 28, 32):
        yield (rng.randint(1, 3000), rng.randint(1, 3000), factor, MIN_PIXELS, MAX_PIXELS)


def test_smart_resize_matches_qwen_vl_utils_everywhere():
    cases = list(_cases())
    mismatches = [(c, reference(*c), smart_resize(*c)) for c in cases if _outcome(reference, *c) != _outcome(smart_resize, *c)]
    assert len(cases) > 4000
    assert mismatches == []


def test_smart_resize_known_sizes():
    assert smart_resize(1440, 2560) == (1428, 2548)  # the reference's example
    assert smart_resize(800, 1280) == (812, 1288)
    h, w = smart_resize(2160, 3840, max_pixels=1280 * 28 * 28)
    assert h % 28 == 0 and w % 28 == 0 and h * w <= 1280 * 28 * 28


@pytest.mark.parametrize("args, match", [
    ((0, 100), "positive"),
    ((100, -1), "positive"),
    ((1, 300), "aspect ratio"),
    ((100, 100, 28, 5000, 4000), "max_pixels"),
])
def test_smart_resize_rejects_bad_input_with_a_reason(args, match):
    with pytest.raises(ValueError, match=match):
        smart_resize(*args)


GEOMETRIES = [
    FrameGeometry(width=1280, height=800),
    FrameGeometry(width=2560, height=1600, scale=2.0),
    FrameGeometry(width=1920, height=1200, scale=1.5),
    FrameGeometry(width=1920, height=1080, offset_x=1920, offset_y=0),  # a second monitor
    FrameGeometry(width=3840, height=2160, scale=2.0, offset_x=-1920, offset_y=200),
]


@pytest.mark.parametrize("geometry", GEOMETRIES, ids=lambda g: f"{g.width}x{g.height}@{g.scale}+{g.offset_x}")
@pytest.mark.parametrize("max_pixels", [MAX_PIXELS, 1280 * 28 * 28, 256 * 28 * 28])
def test_model_to_input_to_model_round_trips_exactly(geometry, max_pixels):
    mapping = geometry.for_model(max_pixels=max_pixels)
    rng = random.Random(7)
    for _ in range(500):
        p = (rng.randrange(mapping.resized_width), rng.randrange(mapping.resized_height))
        assert mapping.input_to_model(mapping.model_to_input(p)) == p


@pytest.mark.parametrize("geometry", GEOMETRIES, ids=lambda g: f"{g.width}x{g.height}@{g.scale}+{g.offset_x}")
def test_input_to_model_to_input_is_within_half_a_model_pixel(geometry):
    mapping = geometry.for_model(max_pixels=1280 * 28 * 28)
    rng = random.Random(8)
    # one model pixel, in input units, along each axis
    step_x = geometry.width / mapping.resized_width / geometry.scale
    step_y = geometry.height / mapping.resized_height / geometry.scale
    for _ in range(500):
        cx, cy = rng.uniform(0, geometry.width - 1), rng.uniform(0, geometry.height - 1)
        p = geometry.captured_to_input((cx, cy))
        back = mapping.model_to_input(mapping.input_to_model(p))
        assert abs(back[0] - p[0]) <= step_x / 2 + 1e-9
        assert abs(back[1] - p[1]) <= step_y / 2 + 1e-9


def test_mapping_is_the_reference_formula_and_adds_the_offset():
    g = FrameGeometry(width=2560, height=1440, scale=2.0, offset_x=100, offset_y=50)
    m = g.for_model()
    assert (m.resized_width, m.resized_height) == (2548, 1428)
    x, y = m.model_to_captured((1274, 714))
    assert x == pytest.approx(1274 * 2560 / 2548) and y == pytest.approx(714 * 1440 / 1428)
    assert m.model_to_input((1274, 714)) == pytest.approx((x / 2 + 100, y / 2 + 50))


def test_points_beyond_the_model_screen_are_rejected_and_the_edge_is_clamped():
    m = FrameGeometry(width=1280, height=800).for_model()
    with pytest.raises(CoordinateOutOfRange, match=r"\[1289, 10\] is outside the 1288x812 screen"):
        m.model_to_input((1289, 10))
    assert m.model_to_captured((1288, 812)) == (1279, 799)


def test_rounding_is_half_up():
    m = FrameGeometry(width=100, height=100).for_model(min_pixels=28 * 28 * 4, max_pixels=28 * 28 * 4)
    assert (m.resized_width, m.resized_height) == (56, 56)
    # captured 25 -> 25 * 56 / 100 = 14.0; captured 24.10714... -> 13.5 exactly -> 14 (half up, not to even)
    assert m.captured_to_model((13.5 * 100 / 56, 25)) == (14, 14)
