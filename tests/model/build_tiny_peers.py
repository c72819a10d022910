"""Build a tiny, randomly initialised InternVL2.5 or Pixtral in Hugging Face format, offline.

As build_tiny_qwen.py does for Qwen2.5-VL: nothing is downloaded, the architecture is the family's
own at toy sizes, the processor is its real one (transformers), so vLLM serves and counts it like the
released model. The byte-level tokenizer trained there is reused, with the family's own image tokens.

- ``internvl2.5``: ``InternVLForConditionalGeneration`` (the HF port of InternVL2.5/3, served by vLLM's
  InternS1 code): InternViT (448-px tiles, patch 14, pixel shuffle 0.5 -> 256 tokens a tile), a Qwen2
  text model, ``InternVLProcessor`` with ``GotOcr2ImageProcessor`` tiling up to 12 tiles plus a thumbnail,
  an image being ``<img>`` + 256 x tiles ``<IMG_CONTEXT>`` + ``</img>``. ChatML turns, as InternVL2.5/3.
- ``pixtral``: ``LlavaForConditionalGeneration`` with a Pixtral vision tower (the layout of
  mistral-community/pixtral-12b): native resolution in 16-px patches up to a 1024-px edge, a Mistral
  text model, ``PixtralProcessor`` writing ``[IMG]`` per patch, ``[IMG_BREAK]`` per row, ``[IMG_END]``.
  Mistral ``[INST]`` turns.

    .venv-vllm/bin/python tests/model/build_tiny_peers.py internvl2.5|pixtral OUT_DIR
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from build_tiny_qwen import build_tokenizer  # noqa: E402

INTERNVL_TOKENS = {"start_image_token": "<img>", "end_image_token": "</img>", "context_image_token": "<IMG_CONTEXT>",
                   "video_token": "<video>"}
PIXTRAL_TOKENS = ["<s>", "</s>", "[INST]", "[/INST]", "[IMG]", "[IMG_BREAK]", "[IMG_END]"]

# ChatML, as InternVL2.5 (internlm2 / Qwen2.5 chat) is trained; an image is the processor's placeholder.
INTERNVL_TEMPLATE = (
    "{% for message in messages %}{% if loop.first and message['role'] != 'system' %}"
    "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n{% endif %}"
    "<|im_start|>{{ message['role'] }}\n{% if message['content'] is string %}{{ message['content'] }}"
    "{% else %}{% for content in message['content'] %}"
    "{% if content['type'] == 'image' or 'image' in content or 'image_url' in content %}<IMG_CONTEXT>"
    "{% elif content['type'] == 'video' or 'video' in content %}<video>"
    "{% elif 'text' in content %}{{ content['text'] }}{% endif %}{% endfor %}{% endif %}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)

# Mistral's [INST] turns (mistral-community/pixtral-12b's template, less its role-order checks; the
# system message opens the first user turn so every step's prompt starts the same).
PIXTRAL_TEMPLATE = (
    "{{ bos_token }}{% set system = namespace(text='') %}"
    "{% for message in messages %}{% if message['role'] == 'system' %}"
    "{% set system.text = message['content'] if message['content'] is string else message['content'][0]['text'] %}"
    "{% elif message['role'] == 'user' %}[INST]{% if system.text %}{{ system.text }}\n\n{% set system.text = '' %}{% endif %}"
    "{% if message['content'] is string %}{{ message['content'] }}{% else %}{% for content in message['content'] %}"
    "{% if content['type'] == 'image' or 'image' in content or 'image_url' in content %}[IMG]"
    "{% elif 'text' in content %}{{ content['text'] }}{% endif %}{% endfor %}{% endif %}[/INST]"
    "{% else %}{{ message['content'] }}{{ eos_token }}{% endif %}{% endfor %}"
)


def text_config(vocab: int, bos: int, eos: int, pad: int, **extra) -> dict:
    return dict(vocab_size=vocab, hidden_size=256, intermediate_size=512, num_hidden_layers=2, num_attention_heads=4,
                num_key_value_heads=2, max_position_embeddings=32768, bos_token_id=bos, eos_token_id=eos,
                pad_token_id=pad, tie_word_embeddings=False, **extra)


def build_internvl(out: Path) -> dict:
    import torch
    from transformers import (
        GotOcr2ImageProcessor,
        InternVLConfig,
        InternVLForConditionalGeneration,
        InternVLProcessor,
        PreTrainedTokenizerFast,
    )
    from transformers.models.internvl.video_processing_internvl import InternVLVideoProcessor

    base = build_tokenizer(out)
    base.add_tokens(list(INTERNVL_TOKENS.values()), special_tokens=True)
    # The released tokenizers name these tokens (tokenizer_config's extra_special_tokens); InternVLProcessor reads them.
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=base.backend_tokenizer, eos_token="<|im_end|>",
                                        pad_token="<|endoftext|>", model_max_length=32768,
                                        extra_special_tokens=INTERNVL_TOKENS, chat_template=INTERNVL_TEMPLATE)
    ids = {t: tokenizer.convert_tokens_to_ids(t) for t in ["<|endoftext|>", "<|im_end|>", *INTERNVL_TOKENS.values()]}
    vocab = (len(tokenizer) + 63) // 64 * 64
    config = InternVLConfig(
        vision_config=dict(hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=2,
                           image_size=448, patch_size=14, norm_type="layer_norm", use_qk_norm=False),
        text_config=text_config(vocab, ids["<|endoftext|>"], ids["<|im_end|>"], ids["<|endoftext|>"],
                                model_type="qwen2", architectures=["Qwen2ForCausalLM"],
                                rope_parameters={"rope_type": "default", "rope_theta": 1000000.0}),
        image_token_id=ids["<IMG_CONTEXT>"], image_seq_length=256, downsample_ratio=0.5, vision_feature_layer=-1,
        vision_feature_select_strategy="default", tie_word_embeddings=False,
    )
    torch.manual_seed(0)
    model = InternVLForConditionalGeneration(config).to(torch.bfloat16)
    model.generation_config.eos_token_id = ids["<|im_end|>"]
    model.save_pretrained(out)
    mean, std = [0.485, 0.456, 0.406], [0.229, 0.224, 0.225]  # ImageNet's, as InternVL's build_transform
    image_processor = GotOcr2ImageProcessor(size={"height": 448, "width": 448}, crop_to_patches=True, min_patches=1,
                                            max_patches=12, image_mean=mean, image_std=std)
    video_processor = InternVLVideoProcessor(size={"height": 448, "width": 448}, image_mean=mean, image_std=std)
    processor = InternVLProcessor(image_processor=image_processor, tokenizer=tokenizer, video_processor=video_processor,
                                  image_seq_length=256, chat_template=INTERNVL_TEMPLATE)
    processor.save_pretrained(out)
    return {"special_tokens": ids, "vocab_size": vocab}


def build_pixtral(out: Path) -> dict:
    import torch
    from transformers import LlavaConfig, LlavaForConditionalGeneration, PixtralImageProcessor, PixtralProcessor

    tokenizer = build_tokenizer(out)
    tokenizer.add_tokens(PIXTRAL_TOKENS, special_tokens=True)
    tokenizer.bos_token, tokenizer.eos_token = "<s>", "</s>"
    tokenizer.chat_template = PIXTRAL_TEMPLATE
    ids = {t: tokenizer.convert_tokens_to_ids(t) for t in ["<|endoftext|>", *PIXTRAL_TOKENS]}
    vocab = (len(tokenizer) + 63) // 64 * 64
    config = LlavaConfig(
        vision_config=dict(model_type="pixtral", hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                           num_attention_heads=2, image_size=1024, patch_size=16, hidden_act="gelu",
                           rope_parameters={"rope_type": "default", "rope_theta": 10000.0}),
        text_config=text_config(vocab, ids["<s>"], ids["</s>"], ids["<|endoftext|>"], model_type="mistral",
                                architectures=["MistralForCausalLM"], sliding_window=None,
                                rope_parameters={"rope_type": "default", "rope_theta": 1000000000.0}),
        image_token_index=ids["[IMG]"], projector_hidden_act="gelu", vision_feature_layer=-1,
        vision_feature_select_strategy="full", multimodal_projector_bias=True, tie_word_embeddings=False,
    )
    torch.manual_seed(0)
    model = LlavaForConditionalGeneration(config).to(torch.bfloat16)
    model.generation_config.eos_token_id = ids["</s>"]
    model.save_pretrained(out)
    image_processor = PixtralImageProcessor(size={"longest_edge": 1024}, patch_size=16)
    processor = PixtralProcessor(image_processor=image_processor, tokenizer=tokenizer, patch_size=16,
                                 spatial_merge_size=1, chat_template=PIXTRAL_TEMPLATE)
    processor.save_pretrained(out)
    return {"special_tokens": ids, "vocab_size": vocab}


BUILDERS = {"internvl2.5": build_internvl, "pixtral": build_pixtral}


def build(family: str, out: Path) -> None:
    if family not in BUILDERS:
        raise SystemExit(f"unknown family {family!r} (one of {', '.join(BUILDERS)})")
    out.mkdir(parents=True, exist_ok=True)
    facts = BUILDERS[family](out)
    (out / "guiagent-tiny.json").write_text(json.dumps({"family": family, **facts}))


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit("usage: build_tiny_peers.py internvl2.5|pixtral OUT_DIR")
    build(sys.argv[1], Path(sys.argv[2]))
