"""Our exports as the trainers take them: LLaMA-Factory's and TRL's own code loads each export with the
settings its TRAINING.md wrote, collates every sample and trains one step of the tiny Qwen2.5-VL on the CPU.

The trainers run in venvs of their own (scripts/setup-trainer-venv; `make test` makes them): LLaMA-Factory
pins transformers, datasets and trl to versions the dev venv does not share. Outside CI a missing venv
skips these tests, named; under CI (or GUIAGENT_REQUIRE_TRAINERS) it fails them.
"""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from PIL import Image

from guiagent.agent.export import ExportOptions, build_samples, write_dataset
from guiagent.agent.export.samples import Sample
from guiagent.agent.runner import RunSpec, start_episode
from guiagent.agent.spec import BrowserEnvSpec, ScriptPolicySpec
from guiagent.policies.families import get_family
from guiagent.tools import FrameGeometry
from tests.model.server import ROOT

pytestmark = pytest.mark.timeout(900)
VENVS = {"llamafactory": ("GUIAGENT_LLAMAFACTORY_PYTHON", ".venv-llamafactory"), "trl": ("GUIAGENT_TRL_PYTHON", ".venv-trl")}
OPTIONS = ExportOptions(history_images=1)  # two screenshots in a sample: longer than LLaMA-Factory's default cutoff


def first_group(pattern: str, text: str, flags: int = 0) -> str:
    """Group 1 of the first match of ``pattern`` in ``text`` (which must match)."""
    found = re.search(pattern, text, flags)
    assert found is not None, pattern
    return found.group(1)


def trainer_python(kind: str) -> Path:
    variable, folder = VENVS[kind]
    explicit = os.environ.get(variable)
    python = Path(explicit).absolute() if explicit else ROOT / folder / "bin" / "python"
    if python.exists():
        return python
    message = f"no {kind} venv: run `make test` (or scripts/setup-trainer-venv {kind} {folder})"
    if os.environ.get("CI") == "true" or os.environ.get("GUIAGENT_REQUIRE_TRAINERS"):
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture(scope="module")
def samples(tmp_path_factory, pages_url) -> list[Sample]:
    """The samples of one scripted episode on a real page, at a screen size (1366x768) that LLaMA-Factory's
    own two resizes would take a patch away from the size the labels are for."""
    root = tmp_path_factory.mktemp("episode")
    script = root / "task.yaml"
    script.write_text("task: Press Go\nsteps:\n  - {name: press go, action: left_click, coordinate: [30, 90]}\n"
                      "  - {name: look, action: wait, time: 0}\n  - {name: again, action: left_click, coordinate: [30, 90]}\n")
    spec = RunSpec(env=BrowserEnvSpec(viewport_width=1366, viewport_height=768, start_url=f"{pages_url}/second.html"),
                   policy=ScriptPolicySpec(script=str(script)))
    assert start_episode(spec, root / "run").status == "unverified"  # the script has no success check
    built, _ = build_samples([root / "run"], OPTIONS)
    return built


def expected_grids(sample: Sample) -> list[list[int]]:
    """Each image's (t, h, w) in 14-px patches, at the size our labels were computed for."""
    family = get_family(OPTIONS.family)
    grids = []
    for path in sample.images:
        with Image.open(path) as image:
            mapping = family.mapping(FrameGeometry(width=image.width, height=image.height), OPTIONS.min_pixels, OPTIONS.max_pixels)
        grids.append([1, mapping.resized_height // 14, mapping.resized_width // 14])
    return grids


def run_checker(kind: str, args: list, cwd: Path) -> dict:
    env = {**os.environ, "HF_HOME": str(cwd / "hf"), "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1",
           "TRANSFORMERS_OFFLINE": "1", "WANDB_DISABLED": "true", "TOKENIZERS_PARALLELISM": "false"}
    proc = subprocess.run([str(trainer_python(kind)), str(ROOT / "tests" / "model" / f"check_{kind}.py"), *map(str, args)],
                          capture_output=True, text=True, timeout=800, cwd=cwd, env=env)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-5000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def check_samples(report: list[dict], samples: list[Sample], limit: int) -> None:
    assert len(report) == len(samples)
    for got, sample in zip(report, samples, strict=True):
        grids = expected_grids(sample)
        assert got["image_grids"] == grids  # the trainer resizes exactly as the labels assume
        assert got["image_pad_tokens"] == sum(h * w // 4 for _, h, w in grids)  # no image cut
        assert got["length"] <= limit


def test_llamafactory_trains_on_the_export_as_training_md_says(samples, tiny_model, tmp_path) -> None:
    trainer_python("llamafactory")
    write_dataset(samples, tmp_path / "export", "llamafactory", OPTIONS)
    block = first_group(r"```yaml\n(.*?)```", (tmp_path / "export" / "TRAINING.md").read_text(), re.DOTALL)
    settings = yaml.safe_load(block)
    (tmp_path / "settings.json").write_text(json.dumps(settings))
    report = run_checker("llamafactory", [tiny_model, tmp_path / "settings.json", tmp_path / "out"], tmp_path)
    check_samples(report["samples"], samples, settings["cutoff_len"])
    for got, sample in zip(report["samples"], samples, strict=True):  # mask_history: the last answer is what it trains on
        assert got["trained_text"].startswith(sample.turns[-1].text)
    assert max(s["length"] for s in report["samples"]) > 2048 and report["default_cutoff"] != "ok"
    assert len(report["train_losses"]) == 1 and math.isfinite(report["train_losses"][0])


def test_trl_trains_on_the_parquet_alone_as_training_md_says(samples, tiny_model, tmp_path) -> None:
    trainer_python("trl")
    write_dataset(samples, tmp_path / "export", "trl", OPTIONS)
    text = (tmp_path / "export" / "TRAINING.md").read_text()
    block = first_group(r"```python\n(.*?)```", text, re.DOTALL)
    setting = {name: int(first_group(rf"\b{name}=(\d+)", block)) for name in ("min_pixels", "max_pixels", "max_length")}
    moved = tmp_path / "elsewhere" / "data.parquet"  # the parquet alone, its export folder gone
    moved.parent.mkdir()
    shutil.move(tmp_path / "export" / "data.parquet", moved)
    shutil.rmtree(tmp_path / "export")
    report = run_checker("trl", [tiny_model, moved, setting["min_pixels"], setting["max_pixels"], setting["max_length"],
                                 tmp_path / "out"], tmp_path)
    assert report["collator"] == "DataCollatorForVisionLanguageModeling"
    check_samples(report["samples"], samples, setting["max_length"])
    assert math.isfinite(report["train_loss"])
