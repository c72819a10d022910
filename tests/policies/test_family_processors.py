"""Visual tokens of InternVL2.5, Pixtral and Qwen-VL over many sizes, against their own processor code in-process.

InternVL2.5 and Pixtral are also served by vLLM here (test_family_peer_servers.py: tiny HF-format
models); this checks more sizes than a server round trip each would allow, and the remote-code form.
- Pixtral: transformers' PixtralProcessor, in-process in the vLLM venv (mistral-common's ImageEncoder,
  which the Mistral-format serve line uses, sizes images the same way).
- InternVL2.5: vLLM's port of InternVL's dynamic_preprocess (the code vLLM runs for the original
  remote-code InternVLChatModel, which the README's serve line names).
- Qwen-VL: vLLM removed it in 0.23 and transformers has no processor for it; its 256 tokens per
  448x448 image are the Resampler's fixed query count (QwenLM/Qwen-VL visual.py, n_queries=256).
"""

from __future__ import annotations

import json
import subprocess

import pytest

from guiagent.policies.families import get_family
from guiagent.policies.families.internvl import tile_grid
from guiagent.tools import FrameGeometry
from tests.model.server import ROOT

SIZES = [(1280, 800), (1920, 1080), (2560, 1600), (333, 517), (1000, 700), (448, 448), (800, 1280)]


@pytest.fixture(scope="module")
def processors(vllm_python, tmp_path_factory):
    out = subprocess.run([str(vllm_python), str(ROOT / "tests/model/check_family_processors.py"),
                          *[f"{w}x{h}" for w, h in SIZES]], capture_output=True, text=True, timeout=600, check=True,
                         cwd=tmp_path_factory.mktemp("processors"))
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("size", SIZES, ids=[f"{w}x{h}" for w, h in SIZES])
def test_pixtral_tokens_and_size_are_its_processors(processors, size):
    family = get_family("pixtral")
    mapping = family.mapping(FrameGeometry(width=size[0], height=size[1]))
    tokens, width, height = processors["pixtral"][f"{size[0]}x{size[1]}"]
    assert (mapping.resized_width, mapping.resized_height) == (width, height)
    assert family.image_tokens(mapping) == tokens


@pytest.mark.parametrize("size", SIZES, ids=[f"{w}x{h}" for w, h in SIZES])
def test_internvl_tiles_are_its_dynamic_preprocess(processors, size):
    family = get_family("internvl2.5")
    mapping = family.mapping(FrameGeometry(width=size[0], height=size[1]))
    blocks, width, height = processors["internvl"][f"{size[0]}x{size[1]}"]
    assert (mapping.resized_width, mapping.resized_height) == (width, height)
    assert family.image_tokens(mapping) == blocks * 256 + 2
    # what we send (the tiled size) tiles the same way again
    assert tile_grid(mapping.resized_width, mapping.resized_height) == (width // 448, height // 448)


def test_qwenvl_is_a_fixed_448_square_of_256_tokens():
    family = get_family("qwen-vl")
    for w, h in SIZES:
        mapping = family.mapping(FrameGeometry(width=w, height=h))
        assert (mapping.resized_width, mapping.resized_height) == (448, 448) and family.image_tokens(mapping) == 258
