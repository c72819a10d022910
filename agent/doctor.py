"""``guiagent doctor``: is a model server ready for this runtime, and what will a step cost?

Each check is named and says what it saw; a refused connection fails at once (no retries), and the
recommended vLLM serve lines are printed whatever the outcome.
"""

from __future__ import annotations

import io
import json
import logging
import sys
from pathlib import Path
from typing import Any

from PIL import Image
from pydantic import BaseModel, Field
from rich.text import Text

from guiagent.agent.cli_output import Output
from guiagent.policies import DecisionContext, PolicyError
from guiagent.policies.families import DEFAULT_FAMILY, get_family, propose_family
from guiagent.policies.media import VideoConfig
from guiagent.policies.vlm import VLMConfig, VLMPolicy
from guiagent.tools import FrameGeometry, Observation

log = logging.getLogger(__name__)

SERVE_LINES = {
    "Qwen/Qwen2.5-VL-7B-Instruct": get_family(DEFAULT_FAMILY).serve,
    "Qwen/Qwen2.5-VL-72B-Instruct": (
        "vllm serve Qwen/Qwen2.5-VL-72B-Instruct --tensor-parallel-size 4 --max-model-len 32768 "
        "--limit-mm-per-prompt '{\"image\": 2, \"video\": 1}' --gpu-memory-utilization 0.9"
    ),
}


class DoctorCheck(BaseModel):
    name: str
    ok: bool
    detail: str
    warning: bool = Field(default=False, description="Usable, but not as configured.")


class DoctorReport(BaseModel):
    """What ``doctor`` found; printed as lines, or as one JSON object with ``--json``."""

    base_url: str
    model: str | None = None
    family: str | None = None
    ok: bool = False
    checks: list[DoctorCheck] = Field(default_factory=list)
    served: list[dict[str, Any]] = Field(default_factory=list)
    usage: dict[str, int] = Field(default_factory=dict)
    serve_lines: list[str] = Field(default_factory=lambda: list(SERVE_LINES.values()))


def _synthetic(width: int, height: int, t: float, shade: int) -> Observation:
    buf = io.BytesIO()
    Image.new("RGB", (width, height), (shade, 128, 255 - shade)).save(buf, "PNG")
    return Observation(image=buf.getvalue(), t=t, geometry=FrameGeometry(width=width, height=height))


def _served_config(entry: dict[str, Any]) -> dict[str, Any]:
    """The served model's config.json, where vLLM's /v1/models names a local folder as its root."""
    root = entry.get("root")
    try:
        path = Path(root) / "config.json" if root else None
        return json.loads(path.read_text()) if path is not None and path.is_file() else {}
    except (OSError, ValueError):
        return {}


def _family_check(report: DoctorReport, entry: dict[str, Any], family: str | None) -> str:
    """The family to probe with: the one given, or the one proposed from the served model's id and config."""
    proposed = propose_family(" ".join(str(entry.get(k) or "") for k in ("id", "root")), _served_config(entry))
    if family is None:
        family = proposed.name if proposed else DEFAULT_FAMILY
        how = f"proposed from its id and config ({proposed.summary})" if proposed else "the default: no family recognised"
        report.checks.append(DoctorCheck(name="family", ok=True, warning=proposed is None,
                                         detail=f"model family {family}: {how}; set --model-family to choose another"))
    elif proposed is not None and proposed.name != family:
        report.checks.append(DoctorCheck(name="family", ok=True, warning=True,
                                         detail=f"--model-family {family}, but {entry['id']} looks like {proposed.name}"))
    else:
        report.checks.append(DoctorCheck(name="family", ok=True, detail=f"model family {family} (given)"))
    report.family = family
    profile = get_family(family)
    report.serve_lines = [profile.serve_line()] + (list(SERVE_LINES.values())[1:] if family == DEFAULT_FAMILY else [])
    return family


def check_server(base_url: str, model: str | None, max_pixels: int | None, video: VideoConfig,
                 family: str | None = None) -> DoctorReport:
    """Probe the server: reachable, the model served, a screenshot plus a clip accepted, tokens counted."""
    report = DoctorReport(base_url=base_url, model=model)
    given: dict[str, Any] = {"max_pixels": max_pixels} if max_pixels is not None else {}
    # One attempt and a short connect timeout: a server that is not there is said at once.
    config = VLMConfig(base_url=base_url, model=model or "?", video=video, max_tokens=1, max_retries=0,
                       connect_timeout_s=5.0, **given)
    probe = VLMPolicy(config)
    try:
        report.served = probe.served_models()
    except PolicyError as exc:
        report.checks.append(DoctorCheck(name="reachable", ok=False, detail=str(exc)))
        return report
    names = [m["id"] for m in report.served]
    report.checks.append(DoctorCheck(name="reachable", ok=True, detail=f"{base_url} answers; models served: {', '.join(names) or 'none'}"))
    if not names:
        report.checks.append(DoctorCheck(name="model", ok=False, detail="the server serves no model"))
        return report
    name = report.model = model or names[0]
    if name not in names:
        report.checks.append(DoctorCheck(name="model", ok=False, detail=f"{name!r} is not served (served: {', '.join(names)})"))
        return report
    length = next(m.get("max_model_len") for m in report.served if m["id"] == name)
    report.checks.append(DoctorCheck(name="model", ok=True, detail=f"{name} is served (max_model_len {length or '?'})"))
    probe.config.model = name
    family = _family_check(report, next(m for m in report.served if m["id"] == name), family)
    profile = get_family(family)
    probe.config.family, probe.config.protocol = family, profile.protocols[0]
    if profile.video == "none":
        video = probe.config.video = video.model_copy(update={"history_seconds": 0})
    now = 1_000_000.0
    frames = [_synthetic(1280, 800, now - video.history_seconds + k, shade=k * 7 % 256) for k in range(int(video.history_seconds))]
    context = DecisionContext(task="doctor probe", step=0, max_steps=1, observation=_synthetic(1280, 800, now, 10),
                              recent_frames=frames)
    log.info("probing %s with one 1280x800 screenshot and %d clip frames", name, len(frames))
    try:
        decision = probe.decide(context)
    except PolicyError as exc:
        report.checks.append(DoctorCheck(name="image+video", ok=False, detail=f"a probe with one image and one video failed: {exc}"))
        return report
    report.usage = usage = dict(decision.usage or {})
    clip_frames = usage.get("video_frames", 0)
    if video.history_seconds > 0 and clip_frames == 0:
        report.checks.append(DoctorCheck(name="image+video", ok=True, warning=True, detail=(
            f"{name} accepts a screenshot, but no clip fits its context beside it: lower --max-pixels or raise "
            "the server's --max-model-len")))
    else:
        report.checks.append(DoctorCheck(name="image+video", ok=True, detail=f"{name} accepts a screenshot plus a {clip_frames}-frame clip per prompt"))
    visual = usage.get("image_tokens", 0) + usage.get("video_tokens", 0)
    report.checks.append(DoctorCheck(name="tokens", ok=True, detail=(
        f"per step at 1280x800: image {usage.get('image_tokens')} + video {usage.get('video_tokens')} = {visual} visual "
        f"tokens predicted; the server counted {usage.get('prompt_tokens')} prompt tokens in all")))
    report.ok = True
    return report


def run_doctor(output: Output, base_url: str, model: str | None, max_pixels: int | None, video: VideoConfig,
               family: str | None = None) -> bool:
    """Check the server and print what was found (lines, or JSON); False if it is not usable."""
    report = check_server(base_url, model, max_pixels, video, family)
    if output.json_mode:
        sys.stdout.write(json.dumps(report.model_dump()) + "\n")
        return report.ok
    for check in report.checks:
        mark, style = ("!", "yellow") if check.warning else (("✓", "green") if check.ok else ("✗", "red"))
        line = Text(f"{mark} ", style=style)
        line.append(f"{check.name}: {check.detail}")
        output.out.print(line)
    if not output.quiet:
        family = f" ({report.family})" if report.family else ""
        output.out.print(Text(f"Recommended on a GPU{family}:" if report.ok else "To serve a model on a GPU:"))
        for serve in report.serve_lines:
            output.out.print(Text(f"    {serve}"))
    return report.ok
