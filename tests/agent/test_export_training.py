"""Exports a trainer can use as written: images kept apart per episode, cutoff_len computed from the
data, a self-contained TRL parquet, the thought's source chosen."""

from __future__ import annotations

import hashlib
import io
import json
import re
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from PIL import Image

from guiagent.agent.export import ExportOptions, build_samples, write_dataset
from guiagent.agent.export.budget import sample_tokens
from guiagent.agent.export.writers import LLAMAFACTORY_TEMPLATES
from guiagent.agent.runner import RunSpec, start_episode
from guiagent.agent.spec import BrowserEnvSpec, ScriptPolicySpec
from guiagent.agent.trajectory import load_trajectory
from guiagent.policies.families import FAMILIES
from guiagent.policies.media import image_tokens
from guiagent.tools import smart_resize


def first_group(pattern: str, text: str, flags: int = 0) -> str:
    """Group 1 of the first match of ``pattern`` in ``text`` (which must match)."""
    found = re.search(pattern, text, flags)
    assert found is not None, pattern
    return found.group(1)


def _episode(out: Path, page: str) -> Path:
    script = out.parent / f"{out.parent.name}.yaml"
    script.write_text("task: Press Go\nsteps:\n  - {name: press go, action: left_click, coordinate: [30, 90]}\n"
                      "  - {name: look, action: wait, time: 0}\n")
    assert start_episode(RunSpec(env=BrowserEnvSpec(start_url=page), policy=ScriptPolicySpec(script=str(script))),
                                 out).status == "unverified"  # no check: its word
    return out


@pytest.fixture(scope="module")
def twins(tmp_path_factory, pages_url) -> tuple[Path, Path]:
    """Two trajectories both called ``run``, of different pages."""
    root = tmp_path_factory.mktemp("twins")
    (root / "A").mkdir()
    (root / "B").mkdir()
    return _episode(root / "A" / "run", f"{pages_url}/second.html"), _episode(root / "B" / "run", f"{pages_url}/pad.html")


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.parametrize("fmt", ["llamafactory", "trl"])
def test_same_named_trajectories_keep_their_own_images(twins, tmp_path, fmt) -> None:
    options = ExportOptions(history_images=0)
    samples, _ = build_samples(list(twins), options)
    write_dataset(samples, tmp_path, fmt, options)
    per_trajectory = [[_sha(load_trajectory(t).frame_path(s)) for s in load_trajectory(t).steps] for t in twins]
    expected = per_trajectory[0] + per_trajectory[1]
    if fmt == "llamafactory":  # written at the size the model sees: compare pixels with the frame resized so
        rows = json.loads((tmp_path / "data.json").read_text())
        got = []
        for r in rows:
            with Image.open(tmp_path / r["images"][0]) as image:
                assert image.size == (1260, 784)
                got.append(hashlib.sha256(image.tobytes()).hexdigest())
        frames = [load_trajectory(t).frame_path(s) for t in twins for s in load_trajectory(t).steps]
        expected = [hashlib.sha256(Image.open(f).resize((1260, 784), Image.Resampling.BICUBIC).tobytes()).hexdigest()
                    for f in frames]
    else:  # the parquet carries the bytes: read it from elsewhere, with the folder gone
        (tmp_path / "data.parquet").rename(tmp_path.parent / "moved.parquet")
        rows = pq.read_table(tmp_path.parent / "moved.parquet").to_pylist()
        got = [hashlib.sha256(r["images"][0]["bytes"]).hexdigest() for r in rows]
        assert all(Image.open(io.BytesIO(r["images"][0]["bytes"])).size == (1280, 800) for r in rows)
    assert got == expected and set(per_trajectory[0]).isdisjoint(per_trajectory[1])


def test_llamafactory_gets_a_cutoff_len_that_holds_every_sample(twins, tmp_path) -> None:
    options = ExportOptions(max_pixels=1280 * 28 * 28, history_images=1)
    samples, _ = build_samples(list(twins), options)
    _, warnings = write_dataset(samples, tmp_path, "llamafactory", options)
    text = (tmp_path / "TRAINING.md").read_text()
    block = first_group(r"```yaml\n(.*?)```", text, re.DOTALL)
    assert all(not line.startswith(" ") for line in block.splitlines())  # one level: a YAML mapping as written
    import yaml

    settings = yaml.safe_load(block)
    assert settings["template"] == "qwen2_vl" and settings["image_max_pixels"] == 1280 * 28 * 28
    h, w = smart_resize(800, 1280, max_pixels=1280 * 28 * 28)
    one_image = image_tokens(h, w)
    longest = max(sample_tokens(s, options, {}) for s in samples)
    assert settings["cutoff_len"] >= longest > 2 * one_image and settings["cutoff_len"] % 256 == 0
    assert len(warnings) == 1 and "\n" not in warnings[0] and f"cutoff_len: {settings['cutoff_len']}" in warnings[0]


def test_the_thought_comes_from_where_it_is_asked(twins) -> None:
    targets = {}
    for source in ("model", "recorded", "none"):
        samples, _ = build_samples([twins[0]], ExportOptions(thought=source))
        targets[source] = samples[0].turns[-1].text
    assert targets["recorded"].startswith("press go\n<tool_call>")  # the script step's name, when asked
    assert targets["model"].startswith("<tool_call>") and targets["none"] == targets["model"]


def test_each_family_gets_its_llamafactory_template_or_is_told_there_is_none(twins, tmp_path) -> None:
    assert set(LLAMAFACTORY_TEMPLATES) == set(FAMILIES)  # a new family needs its template looked up
    import yaml

    for family in FAMILIES:
        options = ExportOptions(family=family, history_images=0)
        samples, _ = build_samples([twins[0]], options)
        _, warnings = write_dataset(samples, tmp_path / family, "llamafactory", options)
        block = first_group(r"```yaml\n(.*?)```", (tmp_path / family / "TRAINING.md").read_text(), re.DOTALL)
        template = LLAMAFACTORY_TEMPLATES[family]
        assert yaml.safe_load(block).get("template") == template
        if template is None:
            assert any(f"no template for {family}" in w for w in warnings)
        else:
            assert all(f"template: {template}" in w for w in warnings if "image_max_pixels" in w)
    assert LLAMAFACTORY_TEMPLATES["qwen2.5-vl"] == "qwen2_vl" and LLAMAFACTORY_TEMPLATES["qwen3-vl"] == "qwen3_vl_nothink"
