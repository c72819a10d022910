"""The absolute-time clip: resampled on a fixed clock by holding the latest frame, sized to a budget."""

import pytest
from pydantic import ValidationError

from guiagent.policies.media import VideoConfig, build_clip, image_tokens, video_tokens
from guiagent.tools import FrameGeometry, Observation, smart_resize


def frame(t: float, w: int = 1280, h: int = 800) -> Observation:
    return Observation(image=b"", t=t, geometry=FrameGeometry(width=w, height=h))


def test_frame_k_is_the_latest_frame_at_t0_plus_k_over_fps():
    history = [frame(t) for t in (100.0, 101.3, 104.9, 105.0, 109.2)]
    clip = build_clip(history, now=110.0, config=VideoConfig(fps=1.0, history_seconds=10))
    assert clip is not None
    assert clip.t0 == 100.0 and clip.fps == 1.0 and len(clip.frames) == 10
    ticks = [clip.t0 + k / clip.fps for k in range(len(clip.frames))]
    for tick, held in zip(ticks, clip.frames, strict=True):
        assert held.t == max(o.t for o in history if o.t <= tick)
    assert [o.t for o in clip.frames] == [100.0, 100.0, 101.3, 101.3, 101.3, 105.0, 105.0, 105.0, 105.0, 105.0]


def test_the_clip_has_an_even_number_of_frames_and_never_reaches_before_the_first():
    history = [frame(t) for t in (100.0, 102.0)]
    clip = build_clip(history, now=107.5, config=VideoConfig(fps=1.0, history_seconds=30))
    assert clip is not None
    assert len(clip.frames) == 6 and clip.t0 == 101.5  # 7 ticks fit after 100.0; the oldest is dropped
    assert build_clip([frame(100.0)], now=100.9, config=VideoConfig()) is None
    assert build_clip([], now=5.0, config=VideoConfig()) is None
    assert build_clip(history, now=110, config=VideoConfig(history_seconds=0)) is None


@pytest.mark.parametrize("fps, frames", [(2.0, 20), (1.0, 10), (2 / 3, 6), (0.5, 4)])
def test_fps_sets_how_many_frames_cover_the_horizon(fps, frames):
    history = [frame(90 + k * 0.25) for k in range(80)]
    clip = build_clip(history, now=110.0, config=VideoConfig(fps=fps, history_seconds=10, token_budget=100000))
    assert clip is not None
    assert len(clip.frames) == frames


def test_frame_size_fits_the_token_budget_and_is_a_smart_resize_fixed_point():
    history = [frame(90 + k) for k in range(30)]
    config = VideoConfig(fps=1.0, history_seconds=30, token_budget=3000)
    clip = build_clip(history, now=120.0, config=config)
    assert clip is not None
    assert clip.tokens <= 3000 + 2
    assert smart_resize(clip.height, clip.width, min_pixels=config.min_pixels, max_pixels=config.max_pixels) == (clip.height, clip.width)
    tiny_budget = build_clip(history, now=120.0, config=VideoConfig(history_seconds=30, token_budget=100))
    assert tiny_budget is not None
    assert tiny_budget.height * tiny_budget.width >= VideoConfig().min_pixels  # never below the server's floor


def test_token_formulas():
    assert image_tokens(812, 1288) == 29 * 46 + 2
    assert video_tokens(30, 476, 784) == 15 * 17 * 28 + 2


def test_rates_whose_grid_seconds_are_fractional_are_refused():
    for fps in (0.7, 1.5, 0.3):
        with pytest.raises(ValidationError, match="2/fps must be a whole number"):
            VideoConfig(fps=fps)
    with pytest.raises(ValidationError):
        VideoConfig(fps=4)


def test_clip_frames_keep_one_size_as_the_clip_grows_so_each_is_encoded_once():
    config = VideoConfig(fps=1.0, history_seconds=30)
    sizes = {(c.width, c.height) for c in (build_clip([frame(100.0 + k) for k in range(n)], 100.0 + n, config) for n in range(2, 40)) if c}
    assert len(sizes) == 1
    full = build_clip([frame(100.0 + k) for k in range(40)], 140.0, config)
    assert full is not None
    assert len(full.frames) == 30 and full.tokens <= config.token_budget + 2


@pytest.mark.parametrize("mode", ["RGB", "RGBA"])
def test_the_model_image_keeps_the_screenshots_pixels(mode):
    """The screenshot sent to the model (padded to whole patches) shows the captured pixels, whatever the PNG's mode."""
    import base64
    import io

    from PIL import Image

    from guiagent.policies.media import Encoder

    src = Image.new("RGB", (64, 40))
    src.putdata([(x * 4, y * 6, (x + y) % 256) for y in range(40) for x in range(64)])
    buf = io.BytesIO()
    src.convert(mode).save(buf, "PNG")
    obs = Observation(image=buf.getvalue(), t=1.0, geometry=FrameGeometry(width=64, height=40))
    url = Encoder().image_url(obs, 84, 56)
    sent = Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1])))
    assert sent.mode == "RGB" and sent.size == (84, 56)
    # padding repeats rows and columns: every captured pixel (all distinct here) is sent, and nothing else
    assert {c for _, c in sent.getcolors(10_000) or []} == {c for _, c in src.getcolors(10_000) or []}
    assert sent.getpixel((0, 0)) == src.getpixel((0, 0)) and sent.getpixel((83, 55)) == src.getpixel((63, 39))
