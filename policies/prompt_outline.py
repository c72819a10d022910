"""What a step sent the model, small enough to record with every step: the step's own part of the prompt.

Everything before the last message is the system prompt, the task and earlier steps, which the trajectory
holds already; the last message is what changed (the clip's times, the results, the screen). It is kept
as text, with each image or video replaced by a placeholder that says its size, frames and times.
"""

from __future__ import annotations

from typing import Any

from guiagent.policies.media import Clip

MAX_TEXT = 4000  # characters of one text part kept (the rest is the history, recorded elsewhere)


def outline(messages: list[dict[str, Any]], clip: Clip | None, image_size: tuple[int, int]) -> dict[str, Any]:
    """``{"messages": n, "role": ..., "parts": [{"text"} | {"image": {...}} | {"video": {...}}]}``."""
    last = messages[-1]
    content = last["content"]
    parts: list[dict[str, Any]] = []
    for part in [{"type": "text", "text": content}] if isinstance(content, str) else content:
        kind = part.get("type")
        if kind == "text":
            text = part["text"]
            parts.append({"text": text if len(text) <= MAX_TEXT else "…" + text[-MAX_TEXT:]})
        elif kind == "image_url":
            parts.append({"image": {"width": image_size[0], "height": image_size[1]}})
        elif kind == "video_url" and clip is not None:
            parts.append({"video": {"frames": len(clip.frames), "fps": clip.fps, "t0": clip.t0, "t_end": clip.t_end}})
    return {"messages": len(messages), "role": last["role"], "parts": parts}
