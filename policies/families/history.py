"""The multi-image history of families trained on it (UI-TARS-1.5, OpenCUA): which earlier screenshots are
shown, and the turns that carry them.

Both were trained with a sliding window of recent screenshots (UI-TARS-desktop keeps the last 5 images,
OpenCUA's agent 3 in total), which drops the oldest image at every step: the prompt then differs from the
previous step's right after the oldest shown image, so vLLM's prefix cache misses every later image. We move
the window ``block`` steps at a time instead: between moves each request extends the previous one byte for
byte, and the number of images shown stays within what the model was trained with (``most``, and at least
``most - block + 1`` once there are that many steps).
"""

from __future__ import annotations

from typing import Any

from guiagent.policies.base import StepSummary


def shown_steps(steps: int, most: int, block: int) -> range:
    """Positions (of ``steps`` earlier steps) whose screenshots are shown: at most ``most``, the last ones,
    the window's start on a multiple of ``block``."""
    if most <= 0 or steps <= 0:
        return range(steps, steps)
    start = max(0, steps - most)
    start = -(-start // block) * block  # up to the next block boundary
    return range(min(start, steps), steps)


def images_of(media: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The image parts of the current observation's media (the families that take no video and no text intro)."""
    return [p for p in media if p["type"] == "image_url"]


def error_note(step: StepSummary) -> list[dict[str, Any]]:
    """A text part telling the model why its step did not run (a format error, a refused action), or none.

    Neither family's trained turns have a slot for it; it goes at the start of the next user turn, before
    that turn's screenshot, so the turn stays the same at every later step."""
    if not step.error:
        return []
    return [{"type": "text", "text": f"Error: {step.error}\n"}]
