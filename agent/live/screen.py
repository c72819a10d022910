"""The live view's screen as it is now: the newest frame the runtime took (the browser's screencast, the desktop's
sampler), held in memory as it came (already encoded: it is served as those bytes, never encoded again).

The env offers frames on its own thread while ``watching``; the server reads the newest on its thread. Nobody
watching (no page holds the event stream open), the env is told so and keeps nothing for the view.
"""

from __future__ import annotations

import threading

from guiagent.tools import Observation

MEDIA_TYPES = {"jpeg": "image/jpeg", "jpg": "image/jpeg", "png": "image/png", "webp": "image/webp"}


class LiveScreen:
    """The newest frame and its number (``seq`` grows with every frame kept); a ``FrameTap`` for the env."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._frame: Observation | None = None
        self._viewers = 0
        self.seq = 0

    @property
    def watching(self) -> bool:
        return self._viewers > 0

    def offer(self, frame: Observation) -> None:
        with self._lock:
            self._frame, self.seq = frame, self.seq + 1

    def viewer(self, joined: bool) -> None:
        """A page opened (``joined``) or closed its event stream."""
        with self._lock:
            self._viewers += 1 if joined else -1
            if not self._viewers:
                self._frame = None  # what a later viewer sees is taken after it came

    def newest(self) -> tuple[int, Observation | None]:
        with self._lock:
            return self.seq, self._frame

    def media_type(self, frame: Observation) -> str:
        return MEDIA_TYPES.get(frame.image_format, "application/octet-stream")
