"""How long a sample can be in tokens, for the trainer's ``cutoff_len`` (no tokenizer needed).

An upper bound, never an estimate that can fall short: each image costs exactly what the model family's
processor makes of it at the trainer's resize (Qwen2.5-VL: patches merged 2x2, plus vision start and end), and
each byte of text at most one token (byte-level BPE), plus the chat template's markers per turn. A
cutoff_len below a sample's length truncates it (LLaMA-Factory then fails in its collator on a cut
image); one above costs nothing, since batches are padded to their longest sample.
"""

from __future__ import annotations

from pathlib import Path

from PIL import Image

from guiagent.agent.export.samples import ExportOptions, Sample
from guiagent.policies.families import get_family
from guiagent.tools import FrameGeometry

TURN_MARKERS = 8  # <|im_start|>, the role, a newline, <|im_end|>, a newline: counted generously
ROUND_TO = 256


def sample_tokens(sample: Sample, options: ExportOptions, sizes: dict[Path, tuple[int, int]]) -> int:
    """An upper bound on the tokens of ``sample`` once the trainer has rendered it."""
    text = sum(len(t.text.encode()) + TURN_MARKERS for t in sample.turns)
    family = get_family(options.family)
    images = 0
    for path in sample.images:
        if path not in sizes:
            with Image.open(path) as image:
                sizes[path] = image.size
        w, h = sizes[path]
        mapping = family.mapping(FrameGeometry(width=w, height=h), options.min_pixels, options.max_pixels)
        images += family.image_tokens(mapping)
    return text + images


def longest_sample(samples: list[Sample], options: ExportOptions) -> int:
    sizes: dict[Path, tuple[int, int]] = {}
    return max(sample_tokens(s, options, sizes) for s in samples)


def cutoff_len(longest: int) -> int:
    """The smallest multiple of 256 that holds ``longest`` tokens."""
    return -(-longest // ROUND_TO) * ROUND_TO
