"""The live view's screen as it is now: the newest frame the runtime took (the browser's screencast, the desktop's
sampler), held in memory as it came (already encoded: it is served as those bytes, never encoded again).

The env offers frames on its own thread while ``watching``; the server reads the newest on its thread. Nobody
watching (no page holds the event stream open), the env is told so and keeps nothing for the view.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from guiagent.tools import Observation

MEDIA_TYPES = {"jpeg": "image/jpeg", "jpg": "image/jpeg", "png": "image/png", "webp": "image/webp"}


class LiveScreen:
    """The newest frame and its number (``seq`` grows with every frame kept); a ``FrameTap`` for the env.

    Each viewer subscribes a waker, called (on the env's thread) when a frame comes: the view waits for frames
    instead of polling for them."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._frame: Observation | None = None
        self._wakers: list[Callable[[], None]] = []
        self.seq = 0

    @property
    def watching(self) -> bool:
        return bool(self._wakers)

    def offer(self, frame: Observation) -> None:
        with self._lock:
            self._frame, self.seq = frame, self.seq + 1
            wakers = list(self._wakers)
        for wake in wakers:
            wake()

    def subscribe(self, wake: Callable[[], None], joined: bool = True) -> None:
        """A page opened (``joined``) or closed its event stream; ``wake`` hears of each new frame meanwhile."""
        with self._lock:
            if joined:
                self._wakers.append(wake)
            else:
                self._wakers.remove(wake)
            if not self._wakers:
                self._frame = None  # what a later viewer sees is taken after it came

    def newest(self) -> tuple[int, Observation | None]:
        with self._lock:
            return self.seq, self._frame

    def media_type(self, frame: Observation) -> str:
        return MEDIA_TYPES.get(frame.image_format, "application/octet-stream")
