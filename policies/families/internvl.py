"""InternVL2.5: dynamic 448-px tiling (the number of tiles decides the tokens), boxes on a 0-1000 grid.

Facts, from OpenGVLab's own code:
- Resize: ``dynamic_preprocess`` of the InternVL2.5 model cards / ``internvl_chat/internvl/train/dataset.py``
  (mirrored by vLLM ``transformers_utils/processors/internvl.py``: ``get_internvl_target_ratios``,
  ``find_closest_aspect_ratio``, ``calculate_internvl_targets``): the image is resized to the grid of
  448x448 tiles (i x j, 1 <= i*j <= max_dynamic_patch = 12) whose aspect ratio is closest, ties going to
  the larger grid when the image's area exceeds half of it; a 448x448 thumbnail is added when there is
  more than one tile. Each tile is 256 tokens ((448/14)^2 * downsample_ratio 0.5^2) between <img> and </img>.
  We send the image already at its tile grid's size, a fixed point of that rule.
- Coordinates: ``<ref>the button</ref><box>[[x1, y1, x2, y2]]</box>`` on a 0-1000 grid (InternVL2.5 model
  card, "Grounding"; ``internvl_chat/eval/refcoco`` divides by 1000), or the bare ``[[x1, y1, x2, y2]]``
  left when the tags, special tokens, are skipped in decoding. A box is answered as a click at its centre.
- No GUI action format of its own: the runtime's computer_use tool is offered, its points read on the grid.
- Video: frames as separate images ("Frame1: <image>" in the model card's ``load_video``), no absolute
  time; the runtime sends none.
"""

from __future__ import annotations

import re

from guiagent.policies.families.base import ModelFamily, tool_or_box
from guiagent.tools import FrameGeometry, ScreenMapping
from guiagent.tools.actions import EnvKind
from guiagent.tools.parsing import ParsedAnswer, Protocol

TILE = 448
TILE_TOKENS = 256
MAX_TILES = 12
BOX = re.compile(r"(?:<ref>.*?</ref>)?\s*<box>(?P<coords>.*?)</box>", re.DOTALL)
# <ref>, </ref>, <box>, </box> are special tokens of InternVL's tokenizer: decoded with special tokens
# skipped (vLLM's default, and InternVL's own ``chat``), the answer keeps only "[[x1, y1, x2, y2]]" - the
# form the authors' RefCOCO eval reads (``internvl_chat/eval/refcoco/evaluate_grounding.py``'s PATTERN).
BARE_BOX = re.compile(r"(?P<coords>\[\[[^\[\]]*\]\])")


def tile_grid(width: int, height: int, max_tiles: int = MAX_TILES, min_tiles: int = 1) -> tuple[int, int]:
    """(columns, rows) of 448-px tiles that InternVL's dynamic_preprocess picks for a width x height image."""
    ratios = sorted({(i, j) for n in range(min_tiles, max_tiles + 1) for i in range(1, n + 1) for j in range(1, n + 1)
                     if min_tiles <= i * j <= max_tiles}, key=lambda r: r[0] * r[1])
    aspect = width / height
    best, best_diff = (1, 1), float("inf")
    for cols, rows in ratios:
        diff = abs(aspect - cols / rows)
        if diff < best_diff:
            best, best_diff = (cols, rows), diff
        elif diff == best_diff and width * height > 0.5 * TILE * TILE * cols * rows:
            best = (cols, rows)
    return best


class InternVL25(ModelFamily):
    name = "internvl2.5"
    summary = "InternVL2.5 (InternVL2 / InternVL3 share its tiling and box form)"
    space = "relative-1000"
    video = "none"
    resize_rule = "dynamic 448-px tiles (max 12) + thumbnail"
    forms = "<ref>..</ref><box>[[x1,y1,x2,y2]]</box> on 0-1000; computer_use <tool_call>"
    ids = (r"internvl",)
    checked_against = ("qwen-agent 0.0.34 (the tool call); InternVL internvl_chat/eval/refcoco/evaluate_grounding.py "
                       "(boxes)")
    architectures = (r"InternVLChatModel", r"InternVLForConditionalGeneration", r"^internvl")
    serve = ("vllm serve OpenGVLab/InternVL2_5-8B --trust-remote-code --max-model-len 16384 "
             "--limit-mm-per-prompt '{\"image\": 2}'")

    def mapping(self, geometry: FrameGeometry, min_pixels: int | None = None, max_pixels: int | None = None) -> ScreenMapping:
        cols, rows = tile_grid(geometry.width, geometry.height)
        return geometry.resized_to(cols * TILE, rows * TILE, self.space)

    def image_tokens(self, mapping: ScreenMapping) -> int:
        tiles = (mapping.resized_width // TILE) * (mapping.resized_height // TILE)
        return (tiles + (1 if tiles > 1 else 0)) * TILE_TOKENS + 2

    def parse(self, text: str, protocol: Protocol, env: EnvKind) -> ParsedAnswer:
        return tool_or_box(text, protocol, BOX if "<box>" in text else BARE_BOX, "box", env, self.vocabulary)
