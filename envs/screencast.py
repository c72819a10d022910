"""Frames Chromium paints between observations, from CDP's ``Page.startScreencast``.

Chromium sends a JPEG each time the page repaints (up to ~60 fps), stamped with the time it was
painted, and costs nothing while the page is still. We keep at most one frame per ``1/fps`` tick (the
latest), so a loading spinner or an animation during an action reaches the model's clip at the clip's
own rate. Frames arrive while Playwright is busy (acting, settling, checking, observing). A ``tap`` (a live
view's screen) gets every frame as it arrives, while someone watches; with ``fps`` 0 the tap is all it feeds,
and Chromium streams only while the tap watches.
"""

from __future__ import annotations

import base64
import io
import math
from collections import deque
from typing import TYPE_CHECKING, Any

from PIL import Image

from guiagent.envs.base import FrameTap
from guiagent.tools import FrameGeometry, Observation

if TYPE_CHECKING:
    from playwright.sync_api import BrowserContext, CDPSession, Page


class Screencast:
    """Streams the active tab's repaints into a bounded queue of timestamped frames."""

    def __init__(self, context: BrowserContext, fps: float, width: int, height: int, scale: float, capacity: int = 256,
                 tap: FrameTap | None = None) -> None:
        self.context, self.fps, self.tap = context, fps, tap
        self.width, self.height, self.scale = width, height, scale
        self.page: Page | None = None
        self._session: CDPSession | None = None
        self._frames: deque[Observation] = deque(maxlen=capacity)

    def follow(self, page: Page | None) -> None:
        """Stream from ``page`` (the env's active tab) from now on; with ``fps`` 0, only while the tap watches (so
        a watch that begins is seen at the env's next action or step, with the frame Chromium sends on starting)."""
        if page is None:
            return
        if self.fps <= 0 and not (self.tap is not None and self.tap.watching):
            self.stop()  # nobody keeps frames: Chromium takes none
            return
        if page is self.page:
            return
        self.stop()
        self.page = page
        self._session = self.context.new_cdp_session(page)
        self._session.on("Page.screencastFrame", self._on_frame)
        self._session.send("Page.startScreencast", {
            "format": "jpeg", "quality": 80, "everyNthFrame": 1,
            "maxWidth": round(self.width * self.scale), "maxHeight": round(self.height * self.scale),
        })

    def _on_frame(self, params: dict[str, Any]) -> None:
        if self._session is None:
            return  # stopped
        try:
            self._session.send("Page.screencastFrameAck", {"sessionId": params["sessionId"]})
        except Exception:
            return  # the tab went away
        meta = params.get("metadata", {})
        t = meta.get("timestamp")
        if t is None or (self.fps <= 0 and not (self.tap is not None and self.tap.watching)):
            return  # nothing keeps it: not even decoded
        data = base64.b64decode(params["data"])
        with Image.open(io.BytesIO(data)) as img:  # reads the header only
            width, height = img.size
        css_width = meta.get("deviceWidth") or self.width
        obs = Observation(image=data, image_format="jpeg", t=float(t),
                          geometry=FrameGeometry(width=width, height=height, scale=width / css_width))
        if self.tap is not None and self.tap.watching:
            self.tap.offer(obs)
        if self.fps <= 0:
            return
        if self._frames and math.floor(self._frames[-1].t * self.fps) == math.floor(obs.t * self.fps):
            self._frames[-1] = obs  # the same tick: keep the latest
        else:
            self._frames.append(obs)

    def drain(self) -> list[Observation]:
        frames = list(self._frames)
        self._frames.clear()
        return frames

    def stop(self) -> None:
        if self._session is not None:
            try:
                self._session.send("Page.stopScreencast")
                self._session.detach()
            except Exception:
                pass  # the tab (or the browser) is gone already
        self._session = None
        self.page = None
