"""What an env returns: an observation of the screen, and the result of an action."""

from __future__ import annotations

import struct
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from guiagent.tools.geometry import FrameGeometry


class Observation(BaseModel):
    """One frame at native resolution, stamped with absolute time, plus what the env knows of it."""

    model_config = ConfigDict(frozen=True)

    image: bytes = Field(repr=False, description="The frame, encoded as ``image_format``.")
    image_format: str = "png"
    t: float = Field(description="Absolute wall-clock time of the capture (seconds since the epoch).")
    geometry: FrameGeometry
    url: str | None = None
    title: str | None = None
    window: str | None = Field(default=None, description="Active window title (desktop).")
    a11y: str | None = Field(default=None, description="The apps' accessibility tree, linearized (desktop with a11y).")


class ActionResult(BaseModel):
    """What executing one action did: ok, or a message that says what went wrong."""

    ok: bool
    message: str = ""
    data: dict[str, Any] = Field(default_factory=dict, description="Dialogs seen, downloads, new tabs, ...")

    @classmethod
    def success(cls, message: str = "", **data: Any) -> ActionResult:
        return cls(ok=True, message=message, data=data)

    @classmethod
    def failure(cls, message: str, **data: Any) -> ActionResult:
        return cls(ok=False, message=message, data=data)


def png_size(data: bytes) -> tuple[int, int]:
    """(width, height) read from a PNG header without decoding the image."""
    if data[:8] != b"\x89PNG\r\n\x1a\n" or data[12:16] != b"IHDR":
        raise ValueError("not a PNG image")
    width, height = struct.unpack(">II", data[16:24])
    return width, height
