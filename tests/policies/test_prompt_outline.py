"""The step's part of the prompt, recorded for the report: text kept, media as placeholders, no pixels."""

from __future__ import annotations

import io
import json

from PIL import Image

from guiagent.policies.media import VideoConfig, build_clip
from guiagent.policies.prompt_outline import outline
from guiagent.tools import FrameGeometry, Observation


def _frame(t: float) -> Observation:
    buf = io.BytesIO()
    Image.new("RGB", (320, 200), (int(t) % 256, 0, 0)).save(buf, "PNG")
    return Observation(image=buf.getvalue(), t=t, geometry=FrameGeometry(width=320, height=200))


def test_the_outline_keeps_text_and_replaces_media() -> None:
    clip = build_clip([_frame(1000.0 + k) for k in range(6)], 1006.0, VideoConfig(fps=1, history_seconds=6))
    assert clip is not None
    messages = [
        {"role": "system", "content": "the tool"},
        {"role": "user", "content": "the task"},
        {"role": "user", "content": [
            {"type": "text", "text": "The screen from A to B"},
            {"type": "video_url", "video_url": {"url": "data:video/jpeg;base64," + "A" * 50_000}},
            {"type": "text", "text": "The screen now:"},
            {"type": "image_url", "image_url": {"url": "data:image/png;base64," + "B" * 50_000}},
        ]},
    ]
    got = outline(messages, clip, (336, 196))
    assert got["messages"] == 3 and got["role"] == "user"
    assert got["parts"][0] == {"text": "The screen from A to B"}
    assert got["parts"][1]["video"] == {"frames": len(clip.frames), "fps": 1.0, "t0": clip.t0, "t_end": clip.t_end}
    assert got["parts"][3] == {"image": {"width": 336, "height": 196}}
    assert len(json.dumps(got)) < 1000  # no pixels in the record
