"""Pixtral 12B: native resolution in 16-px patches up to a 1024-px longest edge; points in its pixels.

Facts, from the processor code (transformers ``models/pixtral/image_processing_pixtral.py``
``get_resize_output_image_size`` and ``processing_pixtral.py`` ``replace_image_token``; mistral-common's
``ImageEncoder`` does the same): an image larger than ``longest_edge`` (1024 for Pixtral-12B) is scaled
down by ``max(h, w) / 1024`` (floored), then each side is rounded up to a multiple of the patch (16);
its tokens are ``[IMG]`` per patch, ``[IMG_BREAK]`` after each row, the last one ``[IMG_END]``:
``rows * (cols + 1)``. We send the image at that size, so the server keeps it.

Grounding: Pixtral has no documented coordinate convention. Our choice, tested: the runtime's
computer_use tool call (``<tool_call>{...}</tool_call>``) with points in absolute pixels of the image it
was sent, the same contract as Qwen2.5-VL.
"""

from __future__ import annotations

import math

from guiagent.policies.families.base import ModelFamily
from guiagent.tools import FrameGeometry, ScreenMapping

PATCH = 16
LONGEST_EDGE = 1024


def pixtral_size(width: int, height: int, longest_edge: int = LONGEST_EDGE, patch: int = PATCH) -> tuple[int, int]:
    """(width, height) the Pixtral image processor resizes a width x height image to."""
    ratio = max(height / longest_edge, width / longest_edge)
    if ratio > 1:
        height, width = int(math.floor(height / ratio)), int(math.floor(width / ratio))
    return ((width - 1) // patch + 1) * patch, ((height - 1) // patch + 1) * patch


class Pixtral(ModelFamily):
    name = "pixtral"
    summary = "Pixtral 12B (Mistral); no grounding convention of its own: pixels through the tool call"
    factor = PATCH
    video = "none"
    protocols = ("tool-call",)
    resize_rule = "native, 16-px patches, longest edge 1024"
    forms = "computer_use <tool_call> (our choice), points in the sent image's pixels"
    ids = (r"pixtral",)
    checked_against = "qwen-agent 0.0.34 (NousFnCallPrompt, BaseTool arguments); points: our choice"
    architectures = (r"PixtralForConditionalGeneration", r"LlavaForConditionalGeneration", r"^pixtral")
    serve = ("vllm serve mistralai/Pixtral-12B-2409 --tokenizer-mode mistral --config-format mistral "
             "--load-format mistral --max-model-len 32768 --limit-mm-per-prompt '{\"image\": 2}'")

    def mapping(self, geometry: FrameGeometry, min_pixels: int | None = None, max_pixels: int | None = None) -> ScreenMapping:
        return geometry.resized_to(*pixtral_size(geometry.width, geometry.height), self.space)

    def image_tokens(self, mapping: ScreenMapping) -> int:
        rows, cols = mapping.resized_height // PATCH, mapping.resized_width // PATCH
        return rows * (cols + 1)
