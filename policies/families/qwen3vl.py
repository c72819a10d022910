"""Qwen3-VL: factor 32, points on a 0-1000 relative grid, video with timestamps in text.

Facts, from Qwen's own code:
- Resize: transformers ``models/qwen3_vl`` (``Qwen3VLProcessor`` with ``Qwen2VLImageProcessor``,
  patch_size 16, merge_size 2: factor 32); the cookbooks call ``smart_resize(..., factor=32)``
  (QwenLM/Qwen3-VL ``cookbooks/computer_use.ipynb``). Tokens: one per 32x32 block plus start/end.
- Coordinates: relative, 0-1000 (QwenLM/Qwen3-VL README: "relative coordinates ranging from 0 to 1000").
  The computer-use cookbook builds its tool with ``ComputerUse(cfg={"display_width_px": 1000,
  "display_height_px": 1000})`` and maps a point back as ``x / 1000 * width``; the mobile-agent cookbook
  (``cookbooks/mobile_agent.ipynb``) states 999x999 and divides by 999 (issue QwenLM/Qwen3-VL#1859). We
  follow the computer-use cookbook: the prompt states 1000x1000, points in [0, 1000], x / 1000 * width
  (the two differ by 0.1% of the screen, about one pixel at 1280).
- Output form: the computer_use tool call in Qwen-Agent's nous prompt, as for Qwen2.5-VL.
- Video: Qwen3-VL's processor writes each frame pair's timestamp as text (``<t seconds>``) before its
  tokens (transformers ``Qwen3VLProcessor``, ``_calculate_timestamps``), from the fps we send: clip-relative
  seconds, so the prompt states the clip's absolute start. Those timestamp texts are prompt text, not
  counted in the predicted visual tokens.
"""

from __future__ import annotations

from guiagent.policies.families.base import ModelFamily


class Qwen3VL(ModelFamily):
    name = "qwen3-vl"
    summary = "Qwen3-VL (dense and MoE)"
    space = "relative-1000"
    factor = 32
    min_pixels = 4 * 32 * 32
    max_pixels = 16384 * 32 * 32
    resize_rule = "smart_resize, factor 32"
    video_note = "yes, a timestamp text per frame pair"
    forms = "computer_use <tool_call> on 0-1000; ✿FUNCTION✿/✿ARGS✿"
    ids = (r"qwen3-vl", r"qwen3_vl")
    architectures = (r"Qwen3VLForConditionalGeneration", r"Qwen3VLMoeForConditionalGeneration", r"^qwen3_vl")
    serve = ("vllm serve Qwen/Qwen3-VL-8B-Instruct --max-model-len 32768 --limit-mm-per-prompt "
             "'{\"image\": 2, \"video\": 1}' --mm-processor-cache-gb 4 --gpu-memory-utilization 0.9")

    def video_tokens(self, frames: int, height: int, width: int) -> int:
        # each frame pair has its own <|vision_start|>..<|vision_end|> after its timestamp text
        return (frames // 2) * ((height // self.factor) * (width // self.factor) + 2)
