"""An episode watched from another process (``guiagent watch``, ``batch --live``): the mark a watch server keeps in
the folder it serves, and the live frame the episode's process writes meanwhile.

A server with a page open keeps a mark (``.live-watched.<pid>``) in its folder, its mtime refreshed every REFRESH_S,
and removes it when its last page leaves; a mark older than STALE_S (a killed server's) counts for nothing. An
episode's process looks for a mark in its folder and up to ABOVE folders above (a batch's root) once every LOOK_S,
from a small thread; while there is one it taps its env's frames and keeps the newest in LIVE_FRAME (written whole:
a temporary file, then ``os.replace``; at most one every MIN_GAP_S; the bytes as the env took them), and deletes it
when the marks go and at the episode's end. Nobody watching, nothing is taken or written. LIVE_FRAME is no part of
the trajectory (nothing that reads one looks at it).
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from pathlib import Path

from guiagent.tools import Observation
from guiagent.tools.files import write_atomic

MARK_PREFIX = ".live-watched"
LIVE_FRAME = ".live-frame"
REFRESH_S = 2.0
STALE_S = 10.0
LOOK_S = 1.0
MIN_GAP_S = 0.25
ABOVE = 3
"""An episode of a batch lies at episodes/TASK/ or episodes/TASK/seed-N/ under the batch's root."""


def watched(folder: Path, now: float | None = None) -> bool:
    """Whether a live (not stale) watch mark lies in ``folder``."""
    now = time.time() if now is None else now
    try:
        with os.scandir(folder) as entries:
            for entry in entries:
                if entry.name.startswith(MARK_PREFIX) and now - entry.stat().st_mtime < STALE_S:
                    return True
    except OSError:
        pass
    return False


class WatchMark:
    """A watch server's mark in ``root``: there while at least one page holds its event stream open."""

    def __init__(self, root: Path) -> None:
        self.path = root / f"{MARK_PREFIX}.{os.getpid()}"
        self._lock = threading.Lock()
        self._viewers = 0
        self._touched = 0.0

    def join(self) -> None:
        with self._lock:
            self._viewers += 1
            self._touch()

    def refresh(self) -> None:
        """Keep the mark fresh (called as the event streams loop; a stat-free check of the clock)."""
        with self._lock:
            if self._viewers and time.monotonic() - self._touched >= REFRESH_S:
                self._touch()

    def leave(self) -> None:
        with self._lock:
            self._viewers -= 1
            if not self._viewers:
                self.path.unlink(missing_ok=True)

    def _touch(self) -> None:
        with contextlib.suppress(OSError):  # a folder that went away: nothing to mark
            self.path.touch()
            self._touched = time.monotonic()


class FolderTap:
    """A ``FrameTap`` writing the newest frame into the episode folder ``folder`` while a watch mark is there."""

    def __init__(self, folder: Path, above: int = ABOVE) -> None:
        self.folder = folder
        self.path = folder / LIVE_FRAME
        self._places = [folder, *list(folder.parents)[:above]]
        self._watching = False
        self._lock = threading.Lock()
        self._pending: Observation | None = None
        self._written = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._look, name="live frame", daemon=True)

    def start(self) -> FolderTap:
        self._clear()  # a killed process's leftover (a resume)
        self._thread.start()
        return self

    @property
    def watching(self) -> bool:
        return self._watching

    def offer(self, frame: Observation) -> None:
        if not self._watching:
            return
        with self._lock:
            if time.monotonic() - self._written < MIN_GAP_S:
                self._pending = frame  # written by the next look, unless a newer one comes first
                return
            self._write(frame)

    def close(self) -> None:
        """At the episode's end: stop looking and delete the live frame."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(5)
        self._watching = False
        with self._lock:
            self._clear()

    def _look(self) -> None:
        while not self._stop.wait(LOOK_S / 4 if self._pending is not None else LOOK_S):
            now = time.time()
            seen = any(watched(place, now) for place in self._places)
            with self._lock:
                if seen and self._pending is not None and time.monotonic() - self._written >= MIN_GAP_S:
                    self._write(self._pending)
                if self._watching and not seen:
                    self._clear()
                self._watching = seen

    def _write(self, frame: Observation) -> None:
        self._pending = None
        try:
            write_atomic(self.path, frame.image)
        except OSError:
            return
        self._written = time.monotonic()

    def _clear(self) -> None:
        self._pending = None
        self.path.unlink(missing_ok=True)
