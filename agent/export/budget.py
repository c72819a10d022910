"""How long a sample can be in tokens, for the trainer's ``cutoff_len`` (no tokenizer needed).

An upper bound, never an estimate that can fall short: each image costs exactly what Qwen2.5-VL's
processor makes of it at the trainer's resize (its patches merged 2x2, plus vision start and end), and
each byte of text at most one token (byte-level BPE), plus the chat template's markers per turn. A
cutoff_len below a sample's length truncates it (LLaMA-Factory then fails in its collator on a cut
image); one above costs nothing, since batches are padded to their longest sample.
"""

from __future__ import annotations

from pathlib import Path

from PIL import Image

from guiagent.agent.export.samples import ExportOptions, Sample
from guiagent.policies.media import image_tokens
from guiagent.tools import smart_resize

TURN_MARKERS = 8  # <|im_start|>, the role, a newline, <|im_end|>, a newline: counted generously
ROUND_TO = 256


def sample_tokens(sample: Sample, options: ExportOptions, sizes: dict[Path, tuple[int, int]]) -> int:
    """An upper bound on the tokens of ``sample`` once the trainer has rendered it."""
    text = sum(len(t.text.encode()) + TURN_MARKERS for t in sample.turns)
    images = 0
    for path in sample.images:
        if path not in sizes:
            with Image.open(path) as image:
                sizes[path] = image.size
        w, h = sizes[path]
        rh, rw = smart_resize(h, w, min_pixels=options.min_pixels, max_pixels=options.max_pixels)
        images += image_tokens(rh, rw)
    return text + images


def longest_sample(samples: list[Sample], options: ExportOptions) -> int:
    sizes: dict[Path, tuple[int, int]] = {}
    return max(sample_tokens(s, options, sizes) for s in samples)


def cutoff_len(longest: int) -> int:
    """The smallest multiple of 256 that holds ``longest`` tokens."""
    return -(-longest // ROUND_TO) * ROUND_TO
