"""Frames of an X11 screen between observations, grabbed by a background thread (the desktop's screencast).

Every ``1/fps`` the thread grabs the monitor with its own mss connection (a grab is ~1 ms) and keeps
the frame only when the pixels changed since the last grab, so a still screen costs no encoding and
adds nothing to the model's clip; a changed one is JPEG-encoded and stamped with absolute time. A ``tap`` (a live
view's screen) gets each kept frame too; one with ``keep`` False feeds the tap alone, and grabs only while it watches.
"""

from __future__ import annotations

import io
import threading
import time
from collections import deque

from guiagent.envs.base import FrameTap
from guiagent.tools import FrameGeometry, Observation


class ScreenSampler:
    """Samples monitor ``monitor`` of X display ``display`` at ``fps`` until ``stop()``."""

    def __init__(self, display: str, monitor: int, fps: float, capacity: int = 256, tap: FrameTap | None = None,
                 keep: bool = True) -> None:
        self.display, self.monitor, self.fps, self.tap, self.keep = display, monitor, fps, tap, keep
        self._frames: deque[Observation] = deque(maxlen=capacity)
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="guiagent-screen-sampler", daemon=True)

    def start(self) -> ScreenSampler:
        self._thread.start()
        return self

    def drain(self) -> list[Observation]:
        with self._lock:
            frames = list(self._frames)
            self._frames.clear()
        return frames

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)

    def _run(self) -> None:
        import mss

        try:
            sct = mss.MSS(display=self.display)
        except Exception:
            return  # the display is gone; observe() says so
        try:
            self._sample(sct)
        finally:
            try:
                sct.close()
            except Exception:
                pass  # a connection the server closed (mss raises when it disconnects it)

    def _sample(self, sct) -> None:
        try:
            monitor = sct.monitors[self.monitor]
        except Exception:
            return  # the X server went away; observe() says so
        geometry = FrameGeometry(width=monitor["width"], height=monitor["height"],
                                 offset_x=monitor["left"], offset_y=monitor["top"])
        last: bytes | None = None
        next_tick = time.monotonic()
        while not self._stop.wait(max(0.0, next_tick - time.monotonic())):
            next_tick = max(next_tick + 1 / self.fps, time.monotonic())
            watched = self.tap is not None and self.tap.watching
            if not (self.keep or watched):
                last = None  # the first grab once someone watches is shown
                continue
            try:
                t0 = time.time()
                shot = sct.grab(monitor)
                t = (t0 + time.time()) / 2
            except Exception:
                return  # the X server went away; observe() says so
            raw = bytes(shot.raw)
            if raw == last:
                continue
            last = raw
            obs = Observation(image=_jpeg(shot), image_format="jpeg", t=t, geometry=geometry)
            if watched and self.tap is not None:
                self.tap.offer(obs)
            if self.keep:
                with self._lock:
                    self._frames.append(obs)


def shot_image(shot):
    """An mss screenshot as a PIL image (no copy of the pixels)."""
    from PIL import Image

    return Image.frombuffer("RGB", shot.size, shot.rgb, "raw", "RGB", 0, 1)


def _jpeg(shot) -> bytes:
    buf = io.BytesIO()
    shot_image(shot).save(buf, "JPEG", quality=80)
    return buf.getvalue()
