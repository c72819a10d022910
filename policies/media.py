"""Images and video for the model: client-side smart_resize, the absolute-time clip, token prediction.

The screenshot is sent already at its smart-resized size, so the server leaves it as it is and the
coordinates the model answers in are the ones we mapped. The recent past is a clip resampled on a
fixed clock by holding the latest frame, so that frame k sits at real time ``t0 + k / fps``; vLLM
turns the fps we send into Qwen2.5-VL's ``second_per_grid_ts`` so temporal position ids follow time.
"""

from __future__ import annotations

import base64
import io
import struct
import zlib
from collections import OrderedDict
from collections.abc import Sequence

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


def clip_length(config: VideoConfig) -> int:
    """Frames in a full clip (even): the horizon at the clip's rate, within max_frames."""
    n = min(int(config.history_seconds * config.fps + 1e-9), config.max_frames)
    return n - n % TEMPORAL_PATCH


def clip_frame_size(height: int, width: int, config: VideoConfig, factor: int = IMAGE_FACTOR) -> tuple[int, int] | None:
    """(height, width) of every clip frame of a screen this size; None when the config shows no video.

    Sized for a full clip, so it does not change as the clip grows: each frame is encoded once.
    """
    n = clip_length(config)
    return _clip_size(height, width, n, config, factor) if n >= TEMPORAL_PATCH else None


def build_clip(history: Sequence[Observation], now: float, config: VideoConfig, factor: int = IMAGE_FACTOR) -> Clip | None:
    """Resample ``history`` (frames before ``now``) on the clip's clock; None if there is too little."""
    past = sorted((o for o in history if o.t < now), key=lambda o: o.t)
    if not past or config.history_seconds <= 0:
        return None
    period = 1 / config.fps
    # Ticks end one period before now and reach back at most history_seconds, not before the first frame.
    n = min(clip_length(config), int((now - past[0].t) / period + 1e-9))
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
    height, width = clip_frame_size(geometry.height, geometry.width, config, factor)  # type: ignore[misc]
    return Clip(frames=held, t0=ticks[0], fps=config.fps, width=width, height=height, factor=factor)


def _clip_size(height: int, width: int, frames: int, config: VideoConfig, factor: int = IMAGE_FACTOR) -> tuple[int, int]:
    """The largest smart-resized frame size whose clip of ``frames`` frames fits the token budget."""
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


def _decode(data: bytes, size: tuple[int, int]) -> Image.Image:
    """The frame as RGB; a JPEG is decoded at the smallest DCT scale still at least ``size`` (width, height)."""
    image = Image.open(io.BytesIO(data))
    if image.format == "JPEG":
        image.draft("RGB", size)
    if image.mode == "RGB":  # Chromium's PNGs and JPEGs are RGB already: convert() would copy every pixel
        image.load()
        return image
    return image.convert("RGB")


def _resize(image: Image.Image, width: int, height: int) -> Image.Image:
    if image.size == (width, height):
        return image
    w0, h0 = image.size
    if 0 <= width - w0 < IMAGE_FACTOR and 0 <= height - h0 < IMAGE_FACTOR:
        # smart_resize only rounded each side up to whole patches (1280x800 -> 1288x812): repeating a few
        # rows and columns keeps the mapping's scale and every pixel sharp, at ~1/20 of a bicubic pass.
        return image.resize((width, height), Image.Resampling.NEAREST)
    return image.resize((width, height), Image.Resampling.BICUBIC, reducing_gap=2.0)


def _b64(image: Image.Image, fmt: str) -> str:
    if fmt == "png" and image.mode == "RGB":
        return base64.b64encode(_png_rgb(image)).decode("ascii")
    buf = io.BytesIO()
    if fmt == "jpeg":
        image.save(buf, "JPEG", quality=90)
    else:
        image.save(buf, "PNG", compress_level=1)
    return base64.b64encode(buf.getvalue()).decode("ascii")


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def _png_rgb(image: Image.Image) -> bytes:
    """An RGB image as a PNG without row filters, deflated at level 1: the same pixels as Pillow's
    ``save(compress_level=1)`` and about as many bytes on screenshots, at ~2/3 of its CPU (Pillow tries
    every filter on every row; flat UI screenshots gain little from them)."""
    width, height = image.size
    stride, pixels = width * 3, memoryview(image.tobytes())
    rows = b"".join(b"\x00" + pixels[i : i + stride] for i in range(0, stride * height, stride))  # filter 0: none
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)  # 8-bit RGB, deflate, no interlace
    return (b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", header)
            + _png_chunk(b"IDAT", zlib.compress(rows, 1)) + _png_chunk(b"IEND", b""))


class Encoder:
    """Decodes each frame once: the screenshot becomes a PNG at the model's size, and every frame a JPEG
    at the clip's fixed size, kept for the steps whose clip holds it again."""

    def __init__(self, capacity: int = 256, screens: int = 8) -> None:
        self._clip_frames: OrderedDict[tuple[float, int, int], str] = OrderedDict()
        # the current screenshot, and the earlier ones a family shows again (UI-TARS, OpenCUA)
        self._screens: OrderedDict[tuple[float, int, int], str] = OrderedDict()
        self.capacity, self.screens = capacity, screens

    def image_url(self, obs: Observation, width: int, height: int, clip_size: tuple[int, int] | None = None) -> str:
        """The screenshot at (width, height) as a PNG data URL; with ``clip_size`` (height, width) its clip
        frame is made from the same decode, for the steps that show it in their clip. The same screenshot
        gives the same bytes at every step that shows it (vLLM's cache keys images by their bytes)."""
        key = (obs.t, width, height)
        encoded = self._screens.get(key)
        if encoded is None:
            image = _decode(obs.image, (width, height))
            if clip_size is not None:
                self._clip_frame(obs, clip_size[1], clip_size[0], image)
            encoded = self._screens[key] = _b64(_resize(image, width, height), "png")
            while len(self._screens) > self.screens:
                self._screens.popitem(last=False)
        else:
            self._screens.move_to_end(key)
        return f"data:image/png;base64,{encoded}"

    def video_url(self, clip: Clip) -> str:
        """The clip as vLLM's frame-list data URL: ``data:video/jpeg;base64,<jpeg>,<jpeg>,...``."""
        frames = ",".join(self._clip_frame(o, clip.width, clip.height) for o in clip.frames)
        return f"data:video/jpeg;base64,{frames}"

    def _clip_frame(self, obs: Observation, width: int, height: int, image: Image.Image | None = None) -> str:
        key = (obs.t, width, height)
        if key in self._clip_frames:
            self._clip_frames.move_to_end(key)
            return self._clip_frames[key]
        image = image if image is not None else _decode(obs.image, (width, height))
        encoded = self._clip_frames[key] = _b64(_resize(image, width, height), "jpeg")
        while len(self._clip_frames) > self.capacity:
            self._clip_frames.popitem(last=False)
        return encoded
