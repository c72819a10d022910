"""Images and video for the model: client-side smart_resize, the absolute-time clip, token prediction.

The screenshot is sent already at its smart-resized size, so the server leaves it as it is and the
coordinates the model answers in are the ones we mapped. The recent past is a clip resampled on a
fixed clock by holding the latest frame, so that frame k sits at real time ``t0 + k / fps``; vLLM
turns the fps we send into Qwen2.5-VL's ``second_per_grid_ts`` so temporal position ids follow time.
"""

from __future__ import annotations

import base64
import io
from collections import OrderedDict
from typing import Sequence

from PIL import Image
from pydantic import BaseModel, ConfigDict, Field, field_validator

from guiagent.tools import Observation, smart_resize
from guiagent.tools.geometry import IMAGE_FACTOR, MAX_PIXELS, MIN_PIXELS

TEMPORAL_PATCH = 2
# The per-frame limits of the server's video processor. Qwen2.5-VL's released processor config has no
# video section, so its videos get the image limits; a server configured otherwise needs these set to match.
VIDEO_MIN_PIXELS = MIN_PIXELS
VIDEO_MAX_PIXELS = MAX_PIXELS


def image_tokens(height: int, width: int, factor: int = IMAGE_FACTOR) -> int:
    """Visual tokens of an image already at a smart-resized size (plus vision start/end)."""
    return (height // factor) * (width // factor) + 2


def video_tokens(frames: int, height: int, width: int, factor: int = IMAGE_FACTOR) -> int:
    """Visual tokens of a clip of ``frames`` (even) frames at a smart-resized size (plus start/end)."""
    return (frames // TEMPORAL_PATCH) * (height // factor) * (width // factor) + 2


class VideoConfig(BaseModel):
    """How the recent past is shown to the model."""

    model_config = ConfigDict(extra="forbid")

    fps: float = Field(default=1.0, gt=0, le=2, description="Clip frame rate; 2/fps must be a whole number.")
    history_seconds: float = Field(default=30.0, ge=0, description="How far back the clip reaches; 0: no video.")
    max_frames: int = Field(default=64, ge=2)
    token_budget: int = Field(
        default=768, ge=8,
        description="Most visual tokens the clip may take (30 frames at 1 fps: ~250x140 px each at 1280x800).",
    )
    min_pixels: int = VIDEO_MIN_PIXELS
    max_pixels: int = VIDEO_MAX_PIXELS

    @field_validator("fps")
    @classmethod
    def _whole_grid_seconds(cls, v: float) -> float:
        # Some transformers versions truncate second_per_grid_t = 2/fps to an integer, which
        # collapses the time axis for other rates.
        if abs(2 / v - round(2 / v)) > 1e-9:
            raise ValueError(f"2/fps must be a whole number (2, 1, 2/3, 0.5, ...), got fps={v}")
        return v


class Clip(BaseModel):
    """A resampled clip: frame k is ``frames[k]`` held at time ``t0 + k / fps``."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    frames: list[Observation]
    t0: float
    fps: float
    width: int
    height: int
    factor: int = IMAGE_FACTOR

    @property
    def t_end(self) -> float:
        return self.t0 + (len(self.frames) - 1) / self.fps

    @property
    def tokens(self) -> int:
        return video_tokens(len(self.frames), self.height, self.width, self.factor)


def build_clip(history: Sequence[Observation], now: float, config: VideoConfig, factor: int = IMAGE_FACTOR) -> Clip | None:
    """Resample ``history`` (frames before ``now``) on the clip's clock; None if there is too little."""
    past = sorted((o for o in history if o.t < now), key=lambda o: o.t)
    if not past or config.history_seconds <= 0:
        return None
    period = 1 / config.fps
    # Ticks end one period before now and reach back at most history_seconds, not before the first frame.
    n = min(int(config.history_seconds * config.fps + 1e-9), config.max_frames)
    n = min(n, int((now - past[0].t) / period + 1e-9))
    n -= n % TEMPORAL_PATCH
    if n < TEMPORAL_PATCH:
        return None
    ticks = [now - (n - k) * period for k in range(n)]
    held, i = [], 0
    for tick in ticks:
        while i + 1 < len(past) and past[i + 1].t <= tick:
            i += 1
        held.append(past[i])
    geometry = past[-1].geometry
    height, width = _clip_size(geometry.height, geometry.width, n, config, factor)
    return Clip(frames=held, t0=ticks[0], fps=config.fps, width=width, height=height, factor=factor)


def _clip_size(height: int, width: int, frames: int, config: VideoConfig, factor: int = IMAGE_FACTOR) -> tuple[int, int]:
    """The largest smart-resized frame size whose clip fits the token budget."""
    per_frame_tokens = config.token_budget // (frames // TEMPORAL_PATCH)
    max_pixels = min(config.max_pixels, per_frame_tokens * factor * factor)
    max_pixels = max(max_pixels, config.min_pixels)
    size = smart_resize(height, width, factor=factor, min_pixels=config.min_pixels, max_pixels=max_pixels)
    # The server resizes each frame again within its own [min, max]; send a size it keeps as it is
    # (smart_resize's floor path can land under min_pixels, which the server would scale back up).
    for _ in range(4):
        again = smart_resize(*size, factor=factor, min_pixels=config.min_pixels, max_pixels=config.max_pixels)
        if again == size:
            break
        size = again
    return size


class Encoder:
    """Resizes and encodes frames, caching by frame and size (held frames repeat across steps)."""

    def __init__(self, capacity: int = 256) -> None:
        self._cache: OrderedDict[tuple[float, int, int, str], str] = OrderedDict()
        self.capacity = capacity

    def data_url(self, obs: Observation, width: int, height: int, fmt: str = "png") -> str:
        return f"data:image/{fmt};base64,{self.encode(obs, width, height, fmt)}"

    def encode(self, obs: Observation, width: int, height: int, fmt: str) -> str:
        key = (obs.t, width, height, fmt)
        if key in self._cache:
            self._cache.move_to_end(key)
            return self._cache[key]
        image = Image.open(io.BytesIO(obs.image)).convert("RGB")
        if image.size != (width, height):
            image = image.resize((width, height), Image.Resampling.BICUBIC)
        buf = io.BytesIO()
        if fmt == "jpeg":
            image.save(buf, "JPEG", quality=90)
        else:
            image.save(buf, "PNG", compress_level=1)
        encoded = base64.b64encode(buf.getvalue()).decode("ascii")
        self._cache[key] = encoded
        while len(self._cache) > self.capacity:
            self._cache.popitem(last=False)
        return encoded

    def video_url(self, clip: Clip) -> str:
        """The clip as vLLM's frame-list data URL: ``data:video/jpeg;base64,<jpeg>,<jpeg>,...``."""
        frames = ",".join(self.encode(o, clip.width, clip.height, "jpeg") for o in clip.frames)
        return f"data:video/jpeg;base64,{frames}"


