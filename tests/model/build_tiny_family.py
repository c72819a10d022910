"""Build a tiny, randomly initialised Qwen2-VL or Qwen3-VL offline: config, tokenizer, processor, weights.

As build_tiny_qwen.py does for Qwen2.5-VL (its locally trained tokenizer and chat template are reused):
nothing is downloaded, the architecture is the family's own at toy sizes, the processor is the family's
real one (transformers), so vLLM serves and counts it like the released model.

    .venv-vllm/bin/python tests/model/build_tiny_family.py qwen2-vl|qwen3-vl OUT_DIR
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from build_tiny_qwen import CHAT_TEMPLATE, SPECIAL_TOKENS, build_tokenizer  # noqa: E402

MIN_PIXELS = {"qwen2-vl": 4 * 28 * 28, "qwen3-vl": 4 * 32 * 32}
MAX_PIXELS = {"qwen2-vl": 16384 * 28 * 28, "qwen3-vl": 16384 * 32 * 32}


def text_config(vocab: int, ids: dict, **extra) -> dict:
    return dict(vocab_size=vocab, hidden_size=256, intermediate_size=512, num_hidden_layers=2, num_attention_heads=4,
                num_key_value_heads=2, max_position_embeddings=32768, bos_token_id=ids["<|endoftext|>"],
                eos_token_id=ids["<|im_end|>"], pad_token_id=ids["<|endoftext|>"], tie_word_embeddings=False, **extra)


def build(family: str, out: Path) -> None:
    import torch
    from transformers.models.qwen2_vl.image_processing_pil_qwen2_vl import Qwen2VLImageProcessorPil

    out.mkdir(parents=True, exist_ok=True)
    tokenizer = build_tokenizer(out)
    ids = {t: tokenizer.convert_tokens_to_ids(t) for t in SPECIAL_TOKENS}
    vocab = (len(tokenizer) + 63) // 64 * 64
    marks = dict(image_token_id=ids["<|image_pad|>"], video_token_id=ids["<|video_pad|>"],
                 vision_start_token_id=ids["<|vision_start|>"], vision_end_token_id=ids["<|vision_end|>"])
    lo, hi = MIN_PIXELS[family], MAX_PIXELS[family]
    if family == "qwen2-vl":
        from transformers import Qwen2VLConfig, Qwen2VLForConditionalGeneration, Qwen2VLProcessor
        from transformers.models.qwen2_vl.video_processing_qwen2_vl import Qwen2VLVideoProcessor

        config = Qwen2VLConfig(
            text_config=text_config(vocab, ids, rope_parameters={"rope_type": "default", "mrope_section": [8, 12, 12],
                                                                 "rope_theta": 1000000.0}),
            vision_config=dict(depth=2, embed_dim=64, hidden_size=256, mlp_ratio=2, num_heads=2, patch_size=14,
                               spatial_merge_size=2, temporal_patch_size=2),
            **marks,
        )
        model_cls, processor_cls, patch = Qwen2VLForConditionalGeneration, Qwen2VLProcessor, 14
        video_processor = Qwen2VLVideoProcessor(min_pixels=lo, max_pixels=hi, patch_size=14, temporal_patch_size=2,
                                                merge_size=2)
    elif family == "qwen3-vl":
        from transformers import Qwen3VLConfig, Qwen3VLForConditionalGeneration, Qwen3VLProcessor
        from transformers.models.qwen3_vl.video_processing_qwen3_vl import Qwen3VLVideoProcessor

        config = Qwen3VLConfig(
            text_config=text_config(vocab, ids, head_dim=64, rope_parameters={
                "rope_type": "default", "mrope_section": [8, 12, 12], "mrope_interleaved": True, "rope_theta": 5000000.0}),
            vision_config=dict(depth=2, hidden_size=64, intermediate_size=128, num_heads=2, out_hidden_size=256,
                               patch_size=16, spatial_merge_size=2, temporal_patch_size=2, num_position_embeddings=256,
                               deepstack_visual_indexes=[1]),
            **marks,
        )
        model_cls, processor_cls, patch = Qwen3VLForConditionalGeneration, Qwen3VLProcessor, 16
        video_processor = Qwen3VLVideoProcessor(size={"shortest_edge": lo, "longest_edge": hi}, patch_size=16,
                                                temporal_patch_size=2, merge_size=2)
    else:
        raise SystemExit(f"unknown family {family!r}")
    torch.manual_seed(0)
    model = model_cls(config).to(torch.bfloat16)
    model.generation_config.eos_token_id = ids["<|im_end|>"]
    model.save_pretrained(out)
    image_processor = Qwen2VLImageProcessorPil(size={"shortest_edge": lo, "longest_edge": hi}, patch_size=patch,
                                               temporal_patch_size=2, merge_size=2)
    processor = processor_cls(image_processor=image_processor, tokenizer=tokenizer, video_processor=video_processor,
                              chat_template=CHAT_TEMPLATE)
    processor.save_pretrained(out)
    (out / "guiagent-tiny.json").write_text(json.dumps({"family": family, "special_tokens": ids, "vocab_size": vocab}))


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit("usage: build_tiny_family.py qwen2-vl|qwen3-vl OUT_DIR")
    build(sys.argv[1], Path(sys.argv[2]))
