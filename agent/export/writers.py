"""One writer per trainer: LLaMA-Factory, ms-swift, Qwen's qwen-vl-finetune, TRL (Hugging Face datasets)."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any, Callable

from guiagent.agent.export.samples import IMAGE, ExportOptions, Sample
from guiagent.policies.families import get_family

# What each trainer does to image size by default, and the setting that changes it.
TRAINER_LIMITS = {
    "llamafactory": (768 * 768, "image_max_pixels: {max}\nimage_min_pixels: {min}\nmask_history: true  # per-step samples: train the last turn only"),
    "swift": (None, "MAX_PIXELS={max} MIN_PIXELS={min} swift sft --dataset {data} ..."),
    "qwenvl": (28 * 28 * 576, "--max_pixels {max} --min_pixels {min}  (qwen-vl-finetune's data args)"),
    "trl": (None, "processor.image_processor.max_pixels = {max}; processor.image_processor.min_pixels = {min}"),
}


def _place_images(samples: list[Sample], out: Path) -> dict[Path, str]:
    """Hard-link (or copy) every frame next to the data; returns the relative path of each."""
    placed: dict[Path, str] = {}
    for sample in samples:
        for src in sample.images:
            if src in placed:
                continue
            rel = Path("images") / Path(sample.source).name / src.name
            dst = out / rel
            dst.parent.mkdir(parents=True, exist_ok=True)
            if not dst.exists():
                try:
                    os.link(src, dst)
                except OSError:
                    shutil.copyfile(src, dst)
            placed[src] = str(rel)
    return placed


def _write_json(path: Path, rows: list[dict[str, Any]]) -> None:
    path.write_text(json.dumps(rows, ensure_ascii=False, indent=1))


def write_llamafactory(samples: list[Sample], out: Path, images: dict[Path, str]) -> str:
    rows = [{"messages": [{"role": t.role, "content": t.text} for t in s.turns], "images": [images[p] for p in s.images]}
            for s in samples]
    _write_json(out / "data.json", rows)
    info = {"guiagent": {
        "file_name": "data.json", "formatting": "sharegpt",
        "columns": {"messages": "messages", "images": "images"},
        "tags": {"role_tag": "role", "content_tag": "content", "user_tag": "user",
                 "assistant_tag": "assistant", "system_tag": "system"},
    }}
    (out / "dataset_info.json").write_text(json.dumps(info, indent=2))
    return "data.json"


def write_swift(samples: list[Sample], out: Path, images: dict[Path, str]) -> str:
    with open(out / "data.jsonl", "w", encoding="utf-8") as f:
        for s in samples:
            messages = []
            for t in s.turns:
                m: dict[str, Any] = {"role": t.role, "content": t.text}
                if t.role == "assistant":
                    m["loss"] = bool(t.loss)  # history turns are context, not targets
                messages.append(m)
            f.write(json.dumps({"messages": messages, "images": [images[p] for p in s.images]}, ensure_ascii=False) + "\n")
    return "data.jsonl"


def write_qwenvl(samples: list[Sample], out: Path, images: dict[Path, str]) -> str:
    rows = []
    for s in samples:
        system = next(t.text for t in s.turns if t.role == "system")
        conversations = []
        for t in s.turns:
            if t.role == "system":
                continue  # qwen-vl-finetune has no system turn: the tool prompt leads the first human turn
            text = t.text
            if not conversations:
                text = f"{system}\n\n{text}"
            conversations.append({"from": "human" if t.role == "user" else "gpt", "value": text})
        paths = [images[p] for p in s.images]
        rows.append({"image": paths[0] if len(paths) == 1 else paths, "conversations": conversations})
    _write_json(out / "data.json", rows)
    return "data.json"


def write_trl(samples: list[Sample], out: Path, images: dict[Path, str]) -> str:
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:
        raise RuntimeError("--format trl writes parquet and needs pyarrow: pip install 'guiagent[export]'") from None
    rows_messages, rows_images = [], []
    for s in samples:
        messages = []
        for t in s.turns:
            parts = []
            pieces = t.text.split(IMAGE)
            for k, piece in enumerate(pieces):
                if piece:
                    parts.append({"type": "text", "text": piece})
                if k < len(pieces) - 1:
                    parts.append({"type": "image", "text": None})
            messages.append({"role": t.role, "content": parts})
        rows_messages.append(messages)
        rows_images.append([{"bytes": None, "path": images[p]} for p in s.images])
    part = pa.struct([("type", pa.string()), ("text", pa.string())])
    schema = pa.schema([
        ("messages", pa.list_(pa.struct([("role", pa.string()), ("content", pa.list_(part))]))),
        ("images", pa.list_(pa.struct([("bytes", pa.binary()), ("path", pa.string())]))),
    ])
    features = {
        "messages": [{"role": {"dtype": "string", "_type": "Value"},
                      "content": [{"type": {"dtype": "string", "_type": "Value"}, "text": {"dtype": "string", "_type": "Value"}}]}],
        "images": [{"_type": "Image"}],
    }
    schema = schema.with_metadata({"huggingface": json.dumps({"info": {"features": features}})})
    table = pa.Table.from_pydict({"messages": rows_messages, "images": rows_images}, schema=schema)
    pq.write_table(table, out / "data.parquet")
    return "data.parquet"


FORMATS: dict[str, Callable[[list[Sample], Path, dict[Path, str]], str]] = {
    "llamafactory": write_llamafactory, "swift": write_swift, "qwenvl": write_qwenvl, "trl": write_trl,
}


def write_dataset(samples: list[Sample], out: Path, fmt: str, options: ExportOptions) -> tuple[str, list[str]]:
    """Write ``samples`` for trainer ``fmt`` into ``out``; returns the data file and any warnings."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r} (one of {', '.join(FORMATS)})")
    out.mkdir(parents=True, exist_ok=True)
    images = _place_images(samples, out)
    data = FORMATS[fmt](samples, out, images)
    default, setting = TRAINER_LIMITS[fmt]
    setting = setting.format(max=options.max_pixels, min=options.min_pixels, data=data)
    warnings = []
    if default is not None and options.max_pixels > default:
        warnings.append(
            f"{fmt}: by default it shrinks images to {default} pixels, which would move every label; "
            f"use: {setting}"
        )
    family = get_family(options.family)
    if family.space == "resized-pixels":
        space = (f"Labels are absolute pixels of each screenshot resized by {family.name}'s rule ({family.resize_rule}) "
                 f"with min_pixels={options.min_pixels}, max_pixels={options.max_pixels}. The trainer must resize "
                 f"images with exactly these limits, or every coordinate is wrong:\n\n    {setting}\n\n")
    else:
        space = (f"Labels are on {family.name}'s 0-1000 relative grid over each screenshot, so they hold for any "
                 f"resize; the trainer's resize only sets the visual tokens ({family.resize_rule}).\n\n")
    (out / "TRAINING.md").write_text(
        f"# Training on this export ({fmt}, model family {family.name})\n\n"
        f"{space}Answers are written in the family's form: {family.forms}.\n\n"
        f"Samples: {data}; images: images/ (hard-linked from the trajectories).\n"
    )
    return data, warnings
