"""Qwen2.5-VL: the runtime's reference family (today's behaviour, the default).

Facts, from Qwen's own code:
- Resize: ``qwen_vl_utils.smart_resize`` (QwenLM/Qwen2.5-VL, ``qwen-vl-utils/src/qwen_vl_utils/vision_process.py``):
  factor 28 (patch 14 x merge 2), min 4*28*28, max 16384*28*28 pixels; one token per 28x28 block, plus
  <|vision_start|> and <|vision_end|> (transformers ``Qwen2VLImageProcessor``, ``Qwen2_5_VLProcessor``).
- Coordinates: absolute pixels of the resized image (Qwen2.5-VL cookbook ``computer_use.ipynb``: the tool's
  "screen's resolution" is the smart-resized size and points are drawn on the resized image).
- Output forms: the ``computer_use`` tool call of ``cookbooks/utils/agent_function_call.py`` in Qwen-Agent's
  nous prompt (``<tool_call>``), or Qwen-Agent's FUNCTION/ARGS/RESULT/RETURN prompt; see
  shared/reference/qwen25vl-computer-use.md.
- Video: vLLM turns the request's fps into ``second_per_grid_ts``, so temporal position ids follow
  absolute time (transformers ``Qwen2_5_VLModel.get_rope_index``, ``tokens_per_second``).
"""

from __future__ import annotations

from guiagent.policies.families.base import ModelFamily


class Qwen25VL(ModelFamily):
    name = "qwen2.5-vl"
    summary = "Qwen2.5-VL (and checkpoints fine-tuned from it that keep its tool call)"
    ids = (r"qwen2\.5-vl", r"qwen2_5_vl", r"qwen25vl")
    architectures = (r"Qwen2_5_VLForConditionalGeneration", r"qwen2_5_vl")
    serve = ("vllm serve Qwen/Qwen2.5-VL-7B-Instruct --max-model-len 32768 --limit-mm-per-prompt "
             "'{\"image\": 2, \"video\": 1}' --mm-processor-cache-gb 4 --gpu-memory-utilization 0.9")
