"""Screen geometry: Qwen's smart_resize and the mapping between coordinate spaces.

Three spaces:
- model space: where the model's points live, one of ``CoordinateSpace``: absolute pixels of the
  resized image the model sees (Qwen2.5-VL, UI-TARS-1.5, OpenCUA, Pixtral), or a relative grid over
  that image, 0-1000 (Qwen-VL, Qwen2-VL, InternVL2.5, Qwen3-VL);
- captured space: pixels of the frame as captured (device pixels);
- input space: what the env's input API takes (CSS pixels for Playwright, screen points for X),
  ``captured = (input - offset) * scale``.

This module is the single source of truth for those conversions; every recorded step stores the
``ScreenMapping`` that was used, so a label can be recomputed later for any resize.
"""

from __future__ import annotations

import math
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

IMAGE_FACTOR = 28
MIN_PIXELS = 4 * 28 * 28
MAX_PIXELS = 16384 * 28 * 28
MAX_RATIO = 200
GRID = 1000

CoordinateSpace = Literal["resized-pixels", "relative-1000"]
"""``resized-pixels``: ``[0, w] x [0, h]`` of the resized image; ``relative-1000``: ``[0, 1000]^2`` over it."""


def smart_resize(
    height: int,
    width: int,
    factor: int = IMAGE_FACTOR,
    min_pixels: int = MIN_PIXELS,
    max_pixels: int = MAX_PIXELS,
) -> tuple[int, int]:
    """``(height, width)`` resized as ``qwen_vl_utils.smart_resize`` does.

    Both sides become multiples of ``factor``, the area lands in ``[min_pixels, max_pixels]`` and
    the aspect ratio is kept as closely as possible. Same arguments, same order, same results;
    invalid input raises ValueError (qwen_vl_utils asserts or divides by zero there).
    """
    if height <= 0 or width <= 0:
        raise ValueError(f"height and width must be positive, got {height}x{width}")
    if max_pixels < min_pixels:
        raise ValueError(f"max_pixels ({max_pixels}) must be >= min_pixels ({min_pixels})")
    ratio = max(height, width) / min(height, width)
    if ratio > MAX_RATIO:
        raise ValueError(f"absolute aspect ratio must be smaller than {MAX_RATIO}, got {ratio}")
    # Python's round() (half to even) on purpose: that is what qwen_vl_utils does.
    h_bar = max(factor, round(height / factor) * factor)
    w_bar = max(factor, round(width / factor) * factor)
    if h_bar * w_bar > max_pixels:
        beta = math.sqrt((height * width) / max_pixels)
        h_bar = math.floor(height / beta / factor) * factor
        w_bar = math.floor(width / beta / factor) * factor
    elif h_bar * w_bar < min_pixels:
        beta = math.sqrt(min_pixels / (height * width))
        h_bar = math.ceil(height * beta / factor) * factor
        w_bar = math.ceil(width * beta / factor) * factor
    return h_bar, w_bar


def round_half_up(v: float) -> int:
    """Round to the nearest integer, halves upward (explicit, unlike Python's round)."""
    return math.floor(v + 0.5)


class CoordinateOutOfRange(ValueError):
    """A coordinate outside the frame it refers to."""


class FrameGeometry(BaseModel):
    """How a captured frame relates to the env's input space."""

    model_config = ConfigDict(frozen=True)

    width: int = Field(gt=0, description="Captured width in pixels.")
    height: int = Field(gt=0, description="Captured height in pixels.")
    scale: float = Field(default=1.0, gt=0, description="Captured pixels per input unit (device pixel ratio).")
    offset_x: float = Field(default=0.0, description="Input-space x of the frame's left edge (monitor offset).")
    offset_y: float = Field(default=0.0, description="Input-space y of the frame's top edge.")

    def captured_to_input(self, p: tuple[float, float]) -> tuple[float, float]:
        return (p[0] / self.scale + self.offset_x, p[1] / self.scale + self.offset_y)

    def input_to_captured(self, p: tuple[float, float]) -> tuple[float, float]:
        return ((p[0] - self.offset_x) * self.scale, (p[1] - self.offset_y) * self.scale)

    def for_model(
        self, min_pixels: int = MIN_PIXELS, max_pixels: int = MAX_PIXELS, factor: int = IMAGE_FACTOR,
        space: CoordinateSpace = "resized-pixels",
    ) -> ScreenMapping:
        """The mapping to the model space that smart_resize gives for these pixel limits."""
        h, w = smart_resize(self.height, self.width, factor=factor, min_pixels=min_pixels, max_pixels=max_pixels)
        return ScreenMapping(frame=self, resized_width=w, resized_height=h, min_pixels=min_pixels, max_pixels=max_pixels,
                             space=space)

    def resized_to(self, width: int, height: int, space: CoordinateSpace) -> ScreenMapping:
        """The mapping for an image the model sees at ``width`` x ``height`` (a family's own resize rule)."""
        return ScreenMapping(frame=self, resized_width=width, resized_height=height, min_pixels=0,
                             max_pixels=width * height, space=space)


class ScreenMapping(BaseModel):
    """A frame geometry plus the smart-resized size the model saw: model <-> captured <-> input."""

    model_config = ConfigDict(frozen=True)

    frame: FrameGeometry
    resized_width: int
    resized_height: int
    min_pixels: int = MIN_PIXELS
    max_pixels: int = MAX_PIXELS
    space: CoordinateSpace = "resized-pixels"

    @property
    def model_width(self) -> int:
        """The extent of the model's x axis: the resized width, or the relative grid's size."""
        return self.resized_width if self.space == "resized-pixels" else GRID

    @property
    def model_height(self) -> int:
        return self.resized_height if self.space == "resized-pixels" else GRID

    def model_to_captured(self, p: tuple[float, float]) -> tuple[float, float]:
        """Model space -> captured pixels (``x * W / w`` with w the space's extent), clamped into the frame.

        Raises CoordinateOutOfRange for a point beyond the space: the model answered outside the
        screen it was shown.
        """
        x, y = p
        mw, mh = self.model_width, self.model_height
        if not (0 <= x <= mw and 0 <= y <= mh):
            where = (f"the {mw}x{mh} screen" if self.space == "resized-pixels"
                     else f"the 0-{GRID} relative grid")
            raise CoordinateOutOfRange(f"coordinate [{x:g}, {y:g}] is outside {where}")
        f = self.frame
        cx = min(x * f.width / mw, f.width - 1)
        cy = min(y * f.height / mh, f.height - 1)
        return (cx, cy)

    def captured_to_model(self, p: tuple[float, float]) -> tuple[int, int]:
        """Captured pixels -> model space, rounded half up and clamped into the space."""
        f = self.frame
        mw, mh = self.model_width, self.model_height
        mx = round_half_up(p[0] * mw / f.width)
        my = round_half_up(p[1] * mh / f.height)
        return (min(max(mx, 0), mw - 1), min(max(my, 0), mh - 1))

    def model_to_input(self, p: tuple[float, float]) -> tuple[float, float]:
        """Model pixels -> the env's input space (unrounded; executors round as their API needs)."""
        return self.frame.captured_to_input(self.model_to_captured(p))

    def input_to_model(self, p: tuple[float, float]) -> tuple[int, int]:
        """The env's input space -> model pixels (for labels of scripted or human steps)."""
        return self.captured_to_model(self.frame.input_to_captured(p))
