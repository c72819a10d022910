"""Qwen2-VL: factor 28 like Qwen2.5-VL, but points on a 0-1000 relative grid and video without absolute time.

Facts, from Qwen's own code and docs:
- Resize: transformers ``models/qwen2_vl/image_processing_qwen2_vl.py`` (``smart_resize``, patch_size 14,
  merge_size 2: factor 28; min_pixels 56*56, max_pixels 28*28*1280 in Qwen2-VL's preprocessor_config.json;
  we send the image already resized within the configured limits, so the server keeps it as it is).
- Coordinates: boxes on a 0-1000 grid, ``<|object_ref_start|>the button<|object_ref_end|><|box_start|>(x1,y1),(x2,y2)<|box_end|>``
  (QwenLM/Qwen2-VL README, "grounding"; the special tokens are in Qwen2-VL's tokenizer_config.json, so the
  request asks vLLM to keep special tokens in the text). A box is answered as a click at its centre.
- Agent form: the Qwen2-VL report ("Visual Agent", the FUNCTION/ARGS/RESULT/RETURN dialogue of Qwen-Agent)
  with coordinates on the same 0-1000 grid: the runtime's computer_use tool is offered, its points read on the grid.
- Video: Qwen2-VL's M-RoPE gives each temporal grid the next id regardless of fps (transformers
  ``Qwen2VLModel.get_rope_index`` has no ``second_per_grid_ts``): the clip's times are stated in text only.
"""

from __future__ import annotations

import re

from guiagent.policies.families.base import ModelFamily, tool_or_box
from guiagent.tools.actions import EnvKind
from guiagent.tools.parsing import ParsedAnswer, Protocol

BOX = re.compile(
    r"(?:<\|object_ref_start\|>.*?<\|object_ref_end\|>)?\s*<\|box_start\|>(?P<coords>.*?)<\|box_end\|>", re.DOTALL
)


class Qwen2VL(ModelFamily):
    name = "qwen2-vl"
    summary = "Qwen2-VL"
    space = "relative-1000"
    video = "frame-order"
    max_pixels = 28 * 28 * 1280
    forms = "<|box_start|>(x1,y1),(x2,y2)<|box_end|> on 0-1000; computer_use <tool_call>; ✿FUNCTION✿/✿ARGS✿"
    ids = (r"qwen2-vl", r"qwen2_vl")
    checked_against = "qwen-agent 0.0.34 (the tool call); its README's box form, / 1000"
    architectures = (r"Qwen2VLForConditionalGeneration", r"^qwen2_vl$")
    request_extras = {"skip_special_tokens": False}
    serve = ("vllm serve Qwen/Qwen2-VL-7B-Instruct --max-model-len 32768 --limit-mm-per-prompt "
             "'{\"image\": 2, \"video\": 1}' --gpu-memory-utilization 0.9")

    def parse(self, text: str, protocol: Protocol, env: EnvKind) -> ParsedAnswer:
        return tool_or_box(_drop_end(text), protocol, BOX, "box", env, self.vocabulary)


def _drop_end(text: str) -> str:
    return text.replace("<|im_end|>", "").replace("<|endoftext|>", "")
