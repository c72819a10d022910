"""``guiagent doctor``: is a model server ready for this runtime, and what will a step cost?"""

from __future__ import annotations

import io

from PIL import Image
from rich.console import Console
from rich.markup import escape

from guiagent.policies import DecisionContext, PolicyError
from guiagent.policies.media import VideoConfig
from guiagent.policies.vlm import VLMConfig, VLMPolicy
from guiagent.tools import FrameGeometry, Observation

SERVE_LINES = {
    "Qwen/Qwen2.5-VL-7B-Instruct": (
        "vllm serve Qwen/Qwen2.5-VL-7B-Instruct --max-model-len 32768 --limit-mm-per-prompt "
        "'{\"image\": 2, \"video\": 1}' --mm-processor-cache-gb 4 --gpu-memory-utilization 0.9"
    ),
    "Qwen/Qwen2.5-VL-72B-Instruct": (
        "vllm serve Qwen/Qwen2.5-VL-72B-Instruct --tensor-parallel-size 4 --max-model-len 32768 "
        "--limit-mm-per-prompt '{\"image\": 2, \"video\": 1}' --gpu-memory-utilization 0.9"
    ),
}


def _synthetic(width: int, height: int, t: float, shade: int) -> Observation:
    buf = io.BytesIO()
    Image.new("RGB", (width, height), (shade, 128, 255 - shade)).save(buf, "PNG")
    return Observation(image=buf.getvalue(), t=t, geometry=FrameGeometry(width=width, height=height))


def run_doctor(console: Console, base_url: str, model: str | None, max_pixels: int, video: VideoConfig) -> bool:
    """Print what the server offers and what a 1280x800 step costs; False if it is not usable."""
    probe = VLMPolicy(VLMConfig(base_url=base_url, model=model or "?", max_pixels=max_pixels, video=video, max_tokens=1))
    try:
        served = probe.served_models()
    except PolicyError as exc:
        console.print(f"[red]✗[/red] {escape(str(exc))}")
        return False
    console.print(f"[green]✓[/green] {base_url} answers; models served:")
    for m in served:
        console.print(f"    {m['id']}  (max_model_len {m.get('max_model_len', '?')})")
    if not served:
        console.print("[red]✗[/red] no model is served")
        return False
    name = model or served[0]["id"]
    if name not in {m["id"] for m in served}:
        console.print(f"[red]✗[/red] {name!r} is not among them")
        return False
    probe.config.model = name
    now = 1_000_000.0
    frames = [_synthetic(1280, 800, now - video.history_seconds + k, shade=k * 7 % 256) for k in range(int(video.history_seconds))]
    context = DecisionContext(task="doctor probe", step=0, max_steps=1, observation=_synthetic(1280, 800, now, 10),
                              recent_frames=frames)
    try:
        decision = probe.decide(context)
    except PolicyError as exc:
        console.print(f"[red]✗[/red] a probe with one image and one video failed: {escape(str(exc))}")
        return False
    usage = decision.usage or {}
    visual = usage.get("image_tokens", 0) + usage.get("video_tokens", 0)
    frames = usage.get("video_frames", 0)
    if video.history_seconds > 0 and frames == 0:
        console.print(f"[yellow]![/yellow] {name} accepts a screenshot, but no clip fits its context beside it: "
                      "lower --max-pixels or raise the server's --max-model-len")
    else:
        console.print(f"[green]✓[/green] {name} accepts a screenshot plus a {frames}-frame clip per prompt")
    console.print(
        f"    per step at 1280x800: image {usage.get('image_tokens')} + video {usage.get('video_tokens')} = {visual} "
        f"visual tokens predicted; the server counted {usage.get('prompt_tokens')} prompt tokens in all"
    )
    console.print("Recommended on a GPU:")
    for line in SERVE_LINES.values():
        console.print(f"    {line}")
    return True
