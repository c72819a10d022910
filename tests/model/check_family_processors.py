"""Token counts of images by the families' own processor code, run in the vLLM venv (transformers, vLLM).

- Pixtral: transformers' PixtralProcessor (its image processor and its [IMG]/[IMG_BREAK]/[IMG_END]
  expansion) with a tokenizer trained here that holds those tokens; nothing is downloaded.
- InternVL2.5: vLLM's own port of InternVL's dynamic_preprocess (``vllm/transformers_utils/processors/
  internvl.py``): the tile count for an image, with the thumbnail, as vLLM serves InternVLChatModel.

    .venv-vllm/bin/python tests/model/check_family_processors.py W1xH1 W2xH2 ...
prints one JSON line: {"pixtral": {"WxH": [tokens, width, height]}, "internvl": {"WxH": [tiles, width, height]}}
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from build_tiny_qwen import build_tokenizer  # noqa: E402


def pixtral(sizes: list[tuple[int, int]]) -> dict[str, list[int]]:
    from PIL import Image
    from transformers import PixtralImageProcessor, PixtralProcessor

    tokenizer = build_tokenizer(Path("."))
    tokenizer.add_tokens(["[IMG]", "[IMG_BREAK]", "[IMG_END]"], special_tokens=True)
    processor = PixtralProcessor(image_processor=PixtralImageProcessor(size={"longest_edge": 1024}, patch_size=16),
                                 tokenizer=tokenizer, patch_size=16, spatial_merge_size=1)
    marks = {tokenizer.convert_tokens_to_ids(t) for t in ("[IMG]", "[IMG_BREAK]", "[IMG_END]")}
    out = {}
    for w, h in sizes:
        batch = processor(text="[IMG]", images=[Image.new("RGB", (w, h), (10, 20, 30))], return_tensors="pt")
        tokens = sum(1 for t in batch["input_ids"][0].tolist() if t in marks)
        height, width = (int(v) for v in batch["image_sizes"][0])
        out[f"{w}x{h}"] = [tokens, width, height]
    return out


def internvl(sizes: list[tuple[int, int]]) -> dict[str, list[int]]:
    from vllm.transformers_utils.processors.internvl import calculate_internvl_targets, get_internvl_target_ratios

    ratios = get_internvl_target_ratios(1, 12)  # InternVL2.5's max_dynamic_patch
    out = {}
    for w, h in sizes:
        blocks, width, height = calculate_internvl_targets(orig_width=w, orig_height=h, target_ratios=ratios,
                                                           image_size=448, use_thumbnail=True)
        out[f"{w}x{h}"] = [blocks, width, height]
    return out


if __name__ == "__main__":
    sizes = [(int(w), int(h)) for w, h in (arg.split("x") for arg in sys.argv[1:])]
    print(json.dumps({"pixtral": pixtral(sizes), "internvl": internvl(sizes)}))
