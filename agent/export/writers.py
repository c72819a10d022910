"""One writer per trainer: LLaMA-Factory, ms-swift, Qwen's qwen-vl-finetune, TRL (Hugging Face datasets)."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PIL import Image

from guiagent.agent.export.budget import cutoff_len, longest_sample
from guiagent.agent.export.samples import IMAGE, ExportOptions, Sample
from guiagent.agent.outputs import EXPORT_HEADING, TRAINING_FILE
from guiagent.policies.families import get_family
from guiagent.tools import FrameGeometry

# What each trainer does to image size by default, the setting that changes it (a block for TRAINING.md)
# and the same in one line (for the command's warning).
TRAINER_LIMITS = {
    "llamafactory": (
        768 * 768,
        "```yaml\n# in your LLaMA-Factory training YAML\ndataset_dir: {out}\ndataset: guiagent\n{template_line}\n"
        "image_max_pixels: {max}\nimage_min_pixels: {min}\n"
        "cutoff_len: {cutoff}  # holds the longest sample ({longest} tokens at most)\n"
        "mask_history: true  # per-step samples: train the last turn only\n```",
        "{template_setting}image_max_pixels: {max} and image_min_pixels: {min} (and cutoff_len: {cutoff})",
    ),
    "swift": (None, "```sh\nMAX_PIXELS={max} MIN_PIXELS={min} swift sft --dataset {data} ...\n```", "MAX_PIXELS={max} MIN_PIXELS={min}"),
    "qwenvl": (28 * 28 * 576, "```sh\n--max_pixels {max} --min_pixels {min}  # qwen-vl-finetune's data args\n```",
               "--max_pixels {max} --min_pixels {min}"),
    "trl": (
        None,
        "```python\n# the processor resizes as the labels expect; SFTTrainer picks its vision collator for the images column\n"
        "processor = AutoProcessor.from_pretrained(model_id, min_pixels={min}, max_pixels={max})\n"
        "train_dataset = load_dataset(\"parquet\", data_files=\"{out}/{data}\", split=\"train\")\n"
        "args = SFTConfig(max_length={cutoff})  # holds the longest sample ({longest} tokens at most)\n```",
        "AutoProcessor.from_pretrained(model_id, min_pixels={min}, max_pixels={max})",
    ),
}
# Lengths past which a trainer's default cuts a sample (inside its images, which then fail to match their tokens).
TRAINER_LENGTHS = {"llamafactory": ("cutoff_len", 2048), "trl": ("SFTConfig's max_length", 1024)}

# LLaMA-Factory's chat template for each model family (its data/template.py and README model table, v0.9.5);
# None where it has none. A test checks that every family is listed.
LLAMAFACTORY_TEMPLATES: dict[str, str | None] = {
    "qwen2.5-vl": "qwen2_vl",
    "qwen2-vl": "qwen2_vl",
    "ui-tars-1.5": "qwen2_vl",  # a Qwen2.5-VL checkpoint (Qwen2_5_VLForConditionalGeneration)
    "qwen3-vl": "qwen3_vl_nothink",  # the Instruct models; the Thinking ones take qwen3_vl
    "internvl2.5": "intern_vl",  # the transformers-format checkpoints (OpenGVLab/InternVL2_5-*-hf)
    "pixtral": "pixtral",
    "qwen-vl": None,  # its "qwen" template is text only: no image plugin for Qwen-VL's <img> tags
    "opencua": None,  # its architecture (OpenCUAForConditionalGeneration, remote code) is not among its models
}


def _template_values(family: str) -> dict[str, str]:
    template = LLAMAFACTORY_TEMPLATES.get(family)
    if template is None:
        note = f"LLaMA-Factory (0.9.5) has no template for {family}"
        return {"template_line": f"# template: none: {note}", "template_setting": "", "template_note": note}
    return {"template_line": f"template: {template}", "template_setting": f"template: {template}, ", "template_note": ""}


def episode_folder(source: str) -> str:
    """A folder name for one trajectory's images: its name plus a hash of its path, so two trajectories
    called ``run`` (``A/run``, ``B/run``) keep their own images."""
    digest = hashlib.sha256(str(Path(source).resolve()).encode()).hexdigest()[:10]
    return f"{Path(source).name}-{digest}"


def _place_images(samples: list[Sample], out: Path, resize: ExportOptions | None = None) -> dict[Path, str]:
    """Hard-link (or copy) every frame next to the data, or with ``resize`` write it at the size its model
    family sees; returns the relative path of each."""
    placed: dict[Path, str] = {}
    for sample in samples:
        for src in sample.images:
            if src in placed:
                continue
            rel = Path("images") / episode_folder(sample.source) / src.name
            dst = out / rel
            dst.parent.mkdir(parents=True, exist_ok=True)
            if not dst.exists() and not (resize and _write_resized(src, dst, resize)):
                try:
                    os.link(src, dst)
                except OSError:
                    shutil.copyfile(src, dst)
            placed[src] = str(rel)
    return placed


def _write_resized(src: Path, dst: Path, options: ExportOptions) -> bool:
    """Write ``src`` at the size its model family resizes it to (a size every later resize of that family
    keeps); False if it already is that size. For LLaMA-Factory, which resizes twice: it shrinks an image to
    image_max_pixels (truncating), then the processor smart-resizes it (rounding) with its own limits, and from
    a raw frame the two can land a patch away from the size the labels are for (1920x1080 at 1003520 pixels:
    1344x756 there, 1316x728 here)."""
    family = get_family(options.family)
    with Image.open(src) as image:
        mapping = family.mapping(FrameGeometry(width=image.width, height=image.height), options.min_pixels, options.max_pixels)
        size = (mapping.resized_width, mapping.resized_height)
        if image.size == size:
            return False
        image.resize(size, Image.Resampling.BICUBIC).save(dst)
    return True


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
        # the bytes themselves (the datasets Image feature's layout): a row is whole wherever it is read
        rows_images.append([{"bytes": p.read_bytes(), "path": images[p]} for p in s.images])
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


PROVENANCE = "provenance.jsonl"


def _write_provenance(samples: list[Sample], out: Path) -> None:
    """One line per sample, in the data file's order: its episode, step and outcome provenance (kept beside the data
    file, whose columns the trainers read as they are)."""
    lines = [json.dumps({"sample": i, "source": s.source, "step": s.step, "decided_by": s.decided_by,
                         **(s.provenance.model_dump(mode="json") if s.provenance else {})})
             for i, s in enumerate(samples)]
    (out / PROVENANCE).write_text("".join(line + "\n" for line in lines), encoding="utf-8")


def write_dataset(samples: list[Sample], out: Path, fmt: str, options: ExportOptions) -> tuple[str, list[str]]:
    """Write ``samples`` for trainer ``fmt`` into ``out``; returns the data file and any warnings."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r} (one of {', '.join(FORMATS)})")
    out.mkdir(parents=True, exist_ok=True)
    images = _place_images(samples, out, options if fmt == "llamafactory" else None)
    data = FORMATS[fmt](samples, out, images)
    _write_provenance(samples, out)
    longest = longest_sample(samples, options)
    values = dict(max=options.max_pixels, min=options.min_pixels, data=data, out=out.resolve(),
                  cutoff=cutoff_len(longest), longest=longest, **_template_values(options.family))
    default, block, line = TRAINER_LIMITS[fmt]
    warnings = []
    if default is not None and options.max_pixels > default:
        warnings.append(f"{fmt}: by default it shrinks images to {default} pixels, which would move every label; "
                        f"set {line.format(**values)}: see TRAINING.md")
    elif fmt in TRAINER_LENGTHS and longest > TRAINER_LENGTHS[fmt][1]:
        setting, length = TRAINER_LENGTHS[fmt]
        warnings.append(f"{fmt}: its default {setting} ({length}) would cut samples of up to {longest} tokens inside "
                        f"their images; set {setting} to {values['cutoff']}: see TRAINING.md")
    if fmt == "llamafactory" and values["template_note"]:
        warnings.append(f"{fmt}: {values['template_note']}: train this export with another trainer")
    family = get_family(options.family)
    if family.space == "resized-pixels":
        space = (f"Labels are absolute pixels of each screenshot resized by {family.name}'s rule ({family.resize_rule}) "
                 f"with min_pixels={options.min_pixels}, max_pixels={options.max_pixels}. The trainer must resize "
                 f"images with exactly these limits, or every coordinate is wrong:\n\n{block.format(**values)}\n\n")
    else:
        space = (f"Labels are on {family.name}'s 0-1000 relative grid over each screenshot, so they hold for any "
                 f"resize; the trainer's resize only sets the visual tokens ({family.resize_rule}):\n\n"
                 f"{block.format(**values)}\n\n")
    where = {"trl": "images are inside data.parquet",
             "llamafactory": "images: images/, already at the size the model sees (so LLaMA-Factory's two resizes keep it)"
             }.get(fmt, "images: images/ (hard-linked from the trajectories)")
    (out / TRAINING_FILE).write_text(
        f"{EXPORT_HEADING} ({fmt}, model family {family.name})\n\n"
        f"{space}Answers are written in the family's form: {family.forms}.\n\n"
        f"The longest sample is at most {longest} tokens (images counted exactly, text as one token per byte).\n\n"
        f"Samples: {data}; {where}.\n"
    )
    return data, warnings
