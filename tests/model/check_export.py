"""Render exported samples with the real Qwen2.5-VL processor (the tiny offline model's AutoProcessor)
and count tokens. Run with the vLLM venv's Python (it has transformers and torch):

    python check_export.py MODEL_DIR EXPORT_DIR FORMAT MIN_PIXELS MAX_PIXELS

Prints JSON: per sample the images listed, the <image> placeholders, the vision blocks and image-pad
tokens the processor produced, and the tokens expected from smart_resize of each image.
"""

import json
import math
import sys
from pathlib import Path

from PIL import Image
from transformers import AutoProcessor


def smart_resize(h, w, factor=28, min_pixels=3136, max_pixels=12845056):
    h_bar, w_bar = max(factor, round(h / factor) * factor), max(factor, round(w / factor) * factor)
    if h_bar * w_bar > max_pixels:
        beta = math.sqrt(h * w / max_pixels)
        h_bar, w_bar = math.floor(h / beta / factor) * factor, math.floor(w / beta / factor) * factor
    elif h_bar * w_bar < min_pixels:
        beta = math.sqrt(min_pixels / (h * w))
        h_bar, w_bar = math.ceil(h * beta / factor) * factor, math.ceil(w * beta / factor) * factor
    return h_bar, w_bar


def samples(export: Path, fmt: str):
    """(messages as role/text with <image>, image paths) from each trainer's own file."""
    if fmt == "llamafactory":
        for row in json.loads((export / "data.json").read_text()):
            yield [(m["role"], m["content"]) for m in row["messages"]], row["images"]
    elif fmt == "swift":
        for line in (export / "data.jsonl").read_text().splitlines():
            row = json.loads(line)
            yield [(m["role"], m["content"]) for m in row["messages"]], row["images"]
    elif fmt == "qwenvl":
        for row in json.loads((export / "data.json").read_text()):
            images = row["image"] if isinstance(row["image"], list) else [row["image"]]
            roles = {"human": "user", "gpt": "assistant"}
            yield [(roles[c["from"]], c["value"]) for c in row["conversations"]], images
    elif fmt == "trl":  # data.parquet, as rows dumped to JSON by the caller (this venv has no pyarrow)
        for row in json.loads((export / "data.parquet.json").read_text()):
            messages = [(m["role"], "".join("<image>" if p["type"] == "image" else p["text"] for p in m["content"]))
                        for m in row["messages"]]
            yield messages, [i["path"] for i in row["images"]]


def main() -> None:
    model, export, fmt, min_pixels, max_pixels = sys.argv[1], Path(sys.argv[2]), sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
    processor = AutoProcessor.from_pretrained(model)
    processor.image_processor.min_pixels = min_pixels
    processor.image_processor.max_pixels = max_pixels
    processor.image_processor.size = {"shortest_edge": min_pixels, "longest_edge": max_pixels}
    tok = processor.tokenizer
    pad, start = tok.convert_tokens_to_ids("<|image_pad|>"), tok.convert_tokens_to_ids("<|vision_start|>")
    report = []
    for messages, image_paths in samples(export, fmt):
        chat = []
        for role, text in messages:
            pieces = text.split("<image>")
            content = []
            for k, piece in enumerate(pieces):
                if piece:
                    content.append({"type": "text", "text": piece})
                if k < len(pieces) - 1:
                    content.append({"type": "image"})
            chat.append({"role": role, "content": content})
        prompt = processor.apply_chat_template(chat, tokenize=False)
        images = [Image.open(export / p).convert("RGB") for p in image_paths]
        encoded = processor(text=[prompt], images=images or None, return_tensors="pt")
        ids = encoded["input_ids"][0].tolist()
        expected = sum((h // 28) * (w // 28) for h, w in (smart_resize(i.height, i.width, 28, min_pixels, max_pixels) for i in images))
        report.append({
            "images": len(image_paths), "placeholders": sum(t.count("<image>") for _, t in messages),
            "vision_blocks": ids.count(start), "image_pad_tokens": ids.count(pad), "expected_pad_tokens": expected,
        })
    print(json.dumps(report))


if __name__ == "__main__":
    main()
