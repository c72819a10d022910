"""Visual tokens per step for a 30 s horizon: this runtime's video context vs a 5-screenshot history
(UI-TARS style) vs 1 screenshot, at 1280x800 and 1920x1080. Predicted, then checked against a real
server's usage (the tiny offline Qwen2.5-VL on vLLM CPU unless --model-url is given). Target: the
video context costs >= 3x fewer tokens than 5 screenshots.

    .venv/bin/python bench/context_tokens.py [--model-url URL --model NAME]
"""

from __future__ import annotations

import argparse
import io
import sys
import tempfile
from pathlib import Path

import httpx
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from guiagent.policies import DecisionContext  # noqa: E402
from guiagent.policies.media import VideoConfig, image_tokens  # noqa: E402
from guiagent.policies.vlm import VLMConfig, VLMPolicy  # noqa: E402
from guiagent.tools import FrameGeometry, Observation  # noqa: E402
from guiagent.tools.geometry import MAX_PIXELS  # noqa: E402

HORIZON = 30.0


def shot(width: int, height: int, t: float, k: int) -> Observation:
    img = Image.new("RGB", (width, height), (30 + k * 7 % 200, 90, 160))
    buf = io.BytesIO()
    img.save(buf, "PNG")
    return Observation(image=buf.getvalue(), t=t, geometry=FrameGeometry(width=width, height=height))


def measured_visual(base_url: str, model: str, messages: list, extra: dict) -> int:
    """prompt_tokens of the request minus those of its text alone."""
    r = httpx.post(f"{base_url}/chat/completions", timeout=300, json={
        "model": model, "messages": messages, "max_tokens": 1, **extra})
    r.raise_for_status()
    total = r.json()["usage"]["prompt_tokens"]
    text_only = [{**m, "content": m["content"] if isinstance(m["content"], str) else
                  [p for p in m["content"] if p["type"] == "text"]} for m in messages]
    t = httpx.post(f"{base_url.removesuffix('/v1')}/tokenize", json={"model": model, "messages": text_only}, timeout=60)
    t.raise_for_status()
    return total - t.json()["count"]


def run(base_url: str, model: str, max_model_len: int) -> None:
    print(f"{'screen':<11}{'context':<22}{'predicted':>10}{'server':>9}{'vs 5 shots':>12}")
    for width, height in [(1280, 800), (1920, 1080)]:
        now = 1_000_000.0
        frames = [shot(width, height, now - HORIZON + k, k) for k in range(int(HORIZON))]
        current = shot(width, height, now, 99)
        policy = VLMPolicy(VLMConfig(base_url=base_url, model=model, max_pixels=MAX_PIXELS,
                                     max_context=10**6, video=VideoConfig(fps=1.0, history_seconds=HORIZON)))
        ctx = DecisionContext(task="bench", step=0, max_steps=1, observation=current, recent_frames=frames)
        request = policy.build_request(ctx)
        one = request.predicted["image_tokens"]
        ours = one + request.predicted["video_tokens"]
        five = 5 * one
        image_url = request.messages[-1]["content"][-1]
        assert request.clip is not None
        rows = {
            "1 screenshot": (one, [{"role": "user", "content": [{"type": "text", "text": "x"}, image_url]}], {}),
            "5 screenshots": (five, [{"role": "user", "content": [{"type": "text", "text": "x"}, *[image_url] * 5]}], {}),
            f"video {len(request.clip.frames)}f + shot": (ours, request.messages, request.extra_body),
        }
        for name, (predicted, messages, extra) in rows.items():
            server = "-"
            fits = predicted + 3000 < max_model_len
            image_count = sum(1 for m in messages if isinstance(m["content"], list) for p in m["content"] if p["type"] == "image_url")
            if fits and image_count <= 5:
                server = str(measured_visual(base_url, model, messages, extra))
            print(f"{width}x{height:<6}{name:<22}{predicted:>10}{server:>9}{five / predicted:>11.2f}x")
        assert image_tokens(request.mapping.resized_height, request.mapping.resized_width) == one


def main() -> None:
    assert __doc__ is not None
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model-url")
    parser.add_argument("--model", default="tiny-qwen25vl")
    args = parser.parse_args()
    if args.model_url:
        run(args.model_url, args.model, 32768)
        return
    from tests.model.server import VLLMServer, tiny_model, vllm_python

    python = vllm_python()
    if python is None:
        sys.exit("no .venv-vllm: run `make vllm-venv`, or pass --model-url")
    with tempfile.TemporaryDirectory() as tmp, VLLMServer(python, tiny_model(python), Path(tmp) / "server.log",
                                                          limit_mm={"image": 5, "video": 1}, max_model_len=16384) as server:
        print(f"server: vLLM (CPU) with the tiny offline Qwen2.5-VL at {server.base_url} ('-': over its context)")
        run(server.base_url, "tiny-qwen25vl", server.max_model_len)


if __name__ == "__main__":
    main()
