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
- Output form: the computer_use tool call in Qwen-Agent's nous prompt, with Qwen3-VL's own tool
  (``cookbooks/utils/agent_function_call.py`` ``ComputerUse``): Qwen2.5-VL's actions plus ``triple_click``,
  ``hscroll`` and ``answer`` (``text``), its own action texts, and the function sent as name, description
  and parameters only (the system message ``computer_use.ipynb`` prints); ``tools.schema`` writes it from
  the action models (vocabulary ``qwen3-vl``). ``answer`` ends the task with that answer (our Terminate);
  ``hscroll`` scrolls sideways, positive to the right as ``pyautogui.hscroll`` (the tool only says
  "mapped to regular scroll").
- Video: no absolute-time M-RoPE; the processor writes each temporal patch's (frame pair's) time as text
  before its tokens. vLLM 0.32 (``model_executor/models/qwen3_vl.py``, ``Qwen3VLMultiModalProcessor``):
  a ``data:video/jpeg`` frame list is not resampled (``do_sample_frames`` false: every frame we send is
  kept, ``frames_indices`` 0..n-1, metadata fps = the request's ``media_io_kwargs`` fps);
  ``_calculate_timestamps`` gives pair k the mean of its two frames' ``index / fps`` (clip-relative
  seconds); ``get_video_repl`` writes, per pair, ``f"<{t:.1f} seconds>"`` (each tokenized on its own)
  then ``<|vision_start|>``, h*w/32^2 ``<|video_pad|>``, ``<|vision_end|>``. With transformers >= 5.10
  (``_expands_only_video_token``) the chat template's outer ``<|vision_start|>..<|vision_end|>`` stay
  around all of it: 2 + pairs * (h*w/32^2 + 2) vision tokens plus the timestamp texts' tokens.
  Frames are resized by ``Qwen3VLVideoProcessor`` (its ``smart_resize`` over frames x h x w, factor 32,
  temporal factor 2): a clip whose frames are already multiples of 32 within its limits is kept as sent.
  The prompt states the clip's absolute start, so the model can read each timestamp as a wall-clock time.
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
    vocabulary = "qwen3-vl"
    forms = "computer_use <tool_call> on 0-1000 (+ triple_click, hscroll, answer); ✿FUNCTION✿/✿ARGS✿"
    ids = (r"qwen3-vl", r"qwen3_vl")
    checked_against = ("qwen-agent 0.0.34 (NousFnCallPrompt / QwenFnCallPrompt, BaseTool arguments) + the Qwen3-VL "
                       "cookbook's actions, x / 1000 * width")
    architectures = (r"Qwen3VLForConditionalGeneration", r"Qwen3VLMoeForConditionalGeneration", r"^qwen3_vl")
    serve = ("vllm serve Qwen/Qwen3-VL-8B-Instruct --max-model-len 32768 --limit-mm-per-prompt "
             "'{\"image\": 2, \"video\": 1}' --mm-processor-cache-gb 4 --gpu-memory-utilization 0.9")

    def video_tokens(self, frames: int, height: int, width: int) -> int:
        # the template's outer start/end, then per frame pair its own <|vision_start|>..<|vision_end|>
        return 2 + (frames // 2) * ((height // self.factor) * (width // self.factor) + 2)

    def video_texts(self, frames: int, fps: float) -> list[str]:
        return [timestamp_text(k, fps) for k in range(frames // 2)]

    def clip_intro(self, t0: str, t_end: str, frames: int, fps: float) -> str:
        return (f"\nThe screen from {t0} to {t_end}: {frames} frames at {fps:g} fps; each <t seconds> "
                f"is the time of the frames after it, in seconds after {t0}.\n")


def timestamp_text(pair: int, fps: float) -> str:
    """Frame pair ``pair``'s time as vLLM writes it: the mean of its frames' ``index / fps``, one decimal
    (computed in the same order, so the float rounds the same way: 0.25 s is written ``<0.2 seconds>``)."""
    first, second = 2 * pair, 2 * pair + 1
    return f"<{(first / fps + second / fps) / 2:.1f} seconds>"
