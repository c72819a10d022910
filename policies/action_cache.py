"""The action cache: points the model grounded, kept with a signature of what they were grounded on.

A script's ``describe`` target costs a model call the first time; the point is stored with the page it
was found on (URL without the port, or the window title on the desktop), a perceptual hash of the
region around it and of the element's crop, and, in the browser, the DOM path and text of the element
there. A later run whose screen gives the same signature at that point uses it with no model call; a
changed signature (or a failed ``expect`` after the cached action) grounds again and updates the entry.
"""

from __future__ import annotations

import concurrent.futures
import io
import json
import time
from pathlib import Path
from typing import Literal

from PIL import Image
from pydantic import BaseModel, Field, ValidationError

from guiagent.tools import Observation
from guiagent.tools.actions import Point
from guiagent.tools.extras import need
from guiagent.tools.files import write_atomic
from guiagent.tools.targets import ElementInfo

CACHE_VERSION = 1
REGION = 64  # side of the hashed region around a point, in the env's input units (CSS pixels)
MAX_DISTANCE = 10  # bits (of 64) two perceptual hashes may differ by and still match

CacheMode = Literal["use", "refresh", "off"]


class CacheError(ValueError):
    """A cache file that cannot be read or written; the message names it."""


class Signature(BaseModel):
    """What a point was grounded on."""

    page: str | None = Field(default=None, description="URL without the port (browser) or window title (desktop).")
    region: str = Field(description="Perceptual hash (hex) of the region around the point.")
    element: str | None = Field(default=None, description="Perceptual hash of the element's crop (browser).")
    dom_path: str | None = None
    dom_text: str | None = None

    def differences(self, now: Signature) -> list[str]:
        """What changed between this (cached) signature and ``now``; empty when they match."""
        imagehash = need("imagehash", "media", "the action cache of describe targets")

        changed = []
        if self.page != now.page:
            changed.append(f"page {self.page!r} -> {now.page!r}")
        for name in ("region", "element"):
            old, new = getattr(self, name), getattr(now, name)
            if (old is None) != (new is None):
                changed.append(f"{name} hash missing on one side")
            elif old is not None and new is not None:
                distance = imagehash.hex_to_hash(old) - imagehash.hex_to_hash(new)
                if distance > MAX_DISTANCE:
                    changed.append(f"{name} hash distance {distance}")
        if self.dom_path != now.dom_path:
            changed.append(f"element {self.dom_path!r} -> {now.dom_path!r}")
        elif self.dom_text != now.dom_text:
            changed.append(f"element text {self.dom_text!r} -> {now.dom_text!r}")
        return changed


class CacheEntry(BaseModel):
    describe: str
    point: Point = Field(description="In the env's input space.")
    signature: Signature
    model: str | None = None
    grounded_at: float = Field(default_factory=time.time)


class CacheFile(BaseModel):
    version: int = CACHE_VERSION
    entries: dict[str, CacheEntry] = Field(default_factory=dict)


_decoder = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="decode")


def _decode(data: bytes) -> Image.Image:
    return Image.open(io.BytesIO(data)).convert("L")


class Screen:
    """An observation decoded once, for hashing regions of it. ``prefetch`` decodes it in the background
    (Pillow lets go of the GIL), so that the decode overlaps the browser's answer about the point."""

    def __init__(self, observation: Observation, prefetch: bool = False) -> None:
        self.observation = observation
        self._image: concurrent.futures.Future[Image.Image] | None = None
        if prefetch:
            self._image = _decoder.submit(_decode, observation.image)

    @property
    def image(self) -> Image.Image:
        if self._image is None:
            self._image = _decoder.submit(_decode, self.observation.image)
        return self._image.result()

    def hash_box(self, x: float, y: float, w: float, h: float) -> str | None:
        """Perceptual hash of a box given in input units, clipped to the frame (None if nothing is left)."""
        imagehash = need("imagehash", "media", "the action cache of describe targets")

        g = self.observation.geometry
        left, top = g.input_to_captured((x, y))
        right, bottom = g.input_to_captured((x + w, y + h))
        box = (max(0, int(left)), max(0, int(top)), min(g.width, int(right)), min(g.height, int(bottom)))
        if box[2] - box[0] < 4 or box[3] - box[1] < 4:
            return None
        return str(imagehash.phash(self.image.crop(box)))

    def signature(self, point: tuple[float, float], element: ElementInfo | None) -> Signature:
        o = self.observation
        half = REGION / 2
        region = self.hash_box(point[0] - half, point[1] - half, REGION, REGION) or "0" * 16
        return Signature(
            page=page_of(o), region=region,
            element=self.hash_box(*element.rect) if element is not None else None,
            dom_path=element.path if element is not None else None,
            dom_text=element.text if element is not None else None,
        )


def page_of(observation: Observation) -> str | None:
    from guiagent.tools.targets import page_key

    return page_key(observation.url) if observation.url else observation.window


def entry_key(describe: str, page: str | None) -> str:
    return f"{page or '-'} | {describe}"


class ActionCache:
    """A JSON file of grounded points. ``mode``: use it, refresh (ground everything again), or off."""

    def __init__(self, path: Path, mode: CacheMode = "use") -> None:
        self.path, self.mode = path, mode
        self.data = CacheFile()
        self.write_error: str | None = None
        if mode == "use" and path.exists():
            try:
                self.data = CacheFile.model_validate_json(path.read_text())
            except (OSError, ValidationError, ValueError) as exc:
                raise CacheError(f"action cache {path} is unreadable ({_first(exc)}): delete it or run with --refresh-cache") from None

    def lookup(self, describe: str, page: str | None) -> CacheEntry | None:
        if self.mode != "use":
            return None
        return self.data.entries.get(entry_key(describe, page))

    def store(self, entry: CacheEntry) -> None:
        """Keep an entry and write the file (atomically) at once, so a killed run keeps what it paid for."""
        if self.mode == "off":
            return
        self.data.entries[entry_key(entry.describe, entry.signature.page)] = entry
        try:
            write_atomic(self.path, json.dumps(self.data.model_dump(mode="json"), indent=1, ensure_ascii=False))
        except OSError as exc:  # the run goes on; the next run grounds this target again
            self.write_error = f"cannot write the action cache {self.path}: {exc.strerror}"


def default_cache_path(script: Path) -> Path:
    """``login.yaml`` -> ``login.cache.json`` beside it."""
    return script.with_name(script.stem + ".cache.json")


def _first(exc: Exception) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]
