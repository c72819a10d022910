"""Qwen-VL (the first one): a fixed 448x448 input and boxes on a [0, 1000) grid.

Facts, from Qwen's own code:
- Resize: QwenLM/Qwen-VL ``visual.py`` (``VisionTransformer.__init__``: ``image_size=448``, transforms
  ``Resize((448, 448), interpolation=BICUBIC)``): every image becomes 448x448, aspect ratio not kept,
  and the Resampler (``n_queries=256``) makes it 256 tokens between ``<img>`` and ``</img>``.
- Coordinates: ``<ref>the button</ref><box>(x1,y1),(x2,y2)</box>`` on [0, 1000) over the image
  (QwenLM/Qwen-VL README "Grounding"; ``tokenization_qwen.py`` ``_fetch_all_box`` divides by 1000).
  A box is answered as a click at its centre.
- No tool format of its own for GUI actions: the runtime's computer_use tool is offered, points on the grid.
- Video: none. vLLM removed ``QwenVLForConditionalGeneration`` in 0.23 (vllm ``model_executor/models/registry.py``,
  the removed-models table), so it is served by transformers or an older vLLM (0.22 or before).
"""

from __future__ import annotations

import re

from guiagent.policies.families.base import ModelFamily, tool_or_box
from guiagent.tools import FrameGeometry, ScreenMapping
from guiagent.tools.actions import EnvKind
from guiagent.tools.parsing import ParsedAnswer, Protocol

SIZE = 448
TOKENS = 256
BOX = re.compile(r"(?:<ref>.*?</ref>)?\s*<box>(?P<coords>.*?)</box>", re.DOTALL)


class QwenVL(ModelFamily):
    name = "qwen-vl"
    summary = "Qwen-VL / Qwen-VL-Chat (2023)"
    space = "relative-1000"
    video = "none"
    resize_rule = "fixed 448x448"
    forms = "<ref>..</ref><box>(x1,y1),(x2,y2)</box> on [0,1000); computer_use <tool_call>"
    ids = (r"qwen-vl(?!-?\d)", r"qwen-vl-chat")
    checked_against = "qwen-agent 0.0.34 (the tool call); Qwen-VL eval_mm/evaluate_grounding.py (boxes)"
    deliberate = {
        **ModelFamily.deliberate,
        "grid-999": "Qwen-VL's RefCOCO eval (eval_mm/evaluate_grounding.py) divides a box by 999; its README says "
                    "[0, 1000) and we divide by 1000: the two differ by up to 0.1% of the screen (2 px at 1920).",
    }
    architectures = (r"QWenLMHeadModel",)
    serve = ("vllm serve Qwen/Qwen-VL-Chat --trust-remote-code --max-model-len 8192 "
             "--limit-mm-per-prompt '{\"image\": 2}'  # vLLM <= 0.22 (removed in 0.23)")

    def mapping(self, geometry: FrameGeometry, min_pixels: int | None = None, max_pixels: int | None = None) -> ScreenMapping:
        return geometry.resized_to(SIZE, SIZE, self.space)

    def image_tokens(self, mapping: ScreenMapping) -> int:
        return TOKENS + 2  # the Resampler's queries, between <img> and </img>

    def parse(self, text: str, protocol: Protocol, env: EnvKind) -> ParsedAnswer:
        return tool_or_box(text, protocol, BOX, "box", env, self.vocabulary)
