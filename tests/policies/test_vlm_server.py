"""The VLM policy against a real vLLM server (CPU) serving a tiny random Qwen2.5-VL built offline."""

from __future__ import annotations

import io

import httpx
import pytest
from PIL import Image

from guiagent.policies import DecisionContext, PolicyError
from guiagent.policies.media import VideoConfig, video_tokens
from guiagent.policies.vlm import VLMConfig, VLMPolicy
from guiagent.tools import FrameGeometry, Observation
from guiagent.tools.parsing import parse_function_calls, parse_tool_calls
from tests.model.server import MODEL_NAME


def screenshot(width: int, height: int, t: float, shade: int = 0) -> Observation:
    buf = io.BytesIO()
    Image.new("RGB", (width, height), (shade % 256, 120, 200)).save(buf, "PNG")
    return Observation(image=buf.getvalue(), t=t, geometry=FrameGeometry(width=width, height=height))


def context(obs: Observation, frames: list[Observation] | None = None) -> DecisionContext:
    return DecisionContext(task="Click the button.", step=0, max_steps=10, observation=obs, recent_frames=frames or [])


def policy(server, **overrides) -> VLMPolicy:
    base = dict(base_url=server.base_url, model=MODEL_NAME, max_tokens=8, video=VideoConfig(history_seconds=0))
    return VLMPolicy(VLMConfig(**{**base, **overrides}))


def text_only_tokens(server, messages, model: str = MODEL_NAME) -> int:
    """Prompt tokens of the same messages with every image and video part removed (vLLM's /tokenize)."""
    stripped = []
    for m in messages:
        content = m["content"]
        if isinstance(content, list):
            content = [p for p in content if p["type"] == "text"]
        stripped.append({**m, "content": content})
    root = server.base_url.removesuffix("/v1")
    r = httpx.post(f"{root}/tokenize", json={"model": model, "messages": stripped}, timeout=60)
    r.raise_for_status()
    return r.json()["count"]


@pytest.mark.parametrize("size", [(1280, 800), (1920, 1080), (2560, 1600)])
def test_predicted_image_tokens_match_the_server(vllm_server, size):
    p = policy(vllm_server, max_pixels=1280 * 28 * 28)
    ctx = context(screenshot(*size, t=1000.0))
    request = p.build_request(ctx)
    decision = p.decide(ctx)
    assert decision.usage is not None
    visual = decision.usage["prompt_tokens"] - text_only_tokens(vllm_server, request.messages)
    assert visual == decision.usage["image_tokens"] == request.predicted["image_tokens"]


@pytest.mark.parametrize("fps", [0.5, 1.0, 2.0])
def test_predicted_video_tokens_match_the_server_and_follow_fps(vllm_server, fps):
    now = 1000.0
    # a frame every 0.5 s over the last 12 s
    frames = [screenshot(1280, 800, t=now - 12 + k * 0.5, shade=k * 10) for k in range(24)]
    p = policy(vllm_server, max_pixels=256 * 28 * 28, video=VideoConfig(fps=fps, history_seconds=10, token_budget=1024))
    ctx = context(screenshot(1280, 800, t=now), frames)
    request = p.build_request(ctx)
    clip = request.clip
    assert clip is not None
    assert len(clip.frames) == int(10 * fps) - int(10 * fps) % 2
    decision = p.decide(ctx)
    assert decision.usage is not None
    visual = decision.usage["prompt_tokens"] - text_only_tokens(vllm_server, request.messages)
    assert visual == request.predicted["image_tokens"] + request.predicted["video_tokens"]
    assert request.predicted["video_tokens"] == video_tokens(len(clip.frames), clip.height, clip.width)
    assert request.extra_body["media_io_kwargs"] == {"video": {"fps": fps, "num_frames": len(clip.frames)}}


def test_the_longest_clip_the_cli_can_make_reaches_the_server_whole(vllm_server):
    # 2 fps over 40 s asks for 80 frames; the clip stops at VideoConfig.max_frames (64), the most the CLI
    # can make. vLLM keeps only 32 frames of a request that sets fps without num_frames, silently.
    now = 1000.0
    frames = [screenshot(640, 400, t=now - 40 + k * 0.25, shade=k) for k in range(160)]
    video = VideoConfig(fps=2.0, history_seconds=40, token_budget=1024)
    assert video.max_frames == VideoConfig.model_fields["max_frames"].default == 64
    p = policy(vllm_server, max_pixels=64 * 28 * 28, video=video)
    ctx = context(screenshot(640, 400, t=now), frames)
    request = p.build_request(ctx)
    assert request.clip is not None
    assert len(request.clip.frames) == 64
    assert "64 frames at 2 fps" in str(request.messages)
    decision = p.decide(ctx)
    assert decision.usage is not None
    visual = decision.usage["prompt_tokens"] - text_only_tokens(vllm_server, request.messages)
    assert visual == request.predicted["image_tokens"] + request.predicted["video_tokens"]
    assert request.predicted["video_tokens"] == video_tokens(64, request.clip.height, request.clip.width)


@pytest.mark.parametrize("protocol, parse", [("tool-call", parse_tool_calls), ("function-result-return", parse_function_calls)])
def test_constrained_decoding_makes_the_random_model_answer_well(vllm_server, protocol, parse):
    p = policy(vllm_server, protocol=protocol, constrained=True, max_tokens=160, temperature=1.0)
    # (no per-request seed: vLLM 0.32's CPU runner crashes on seeded requests whose prefill is chunked)
    for k in range(6):
        decision = p.decide(context(screenshot(1280, 800, t=1000.0 + k, shade=40 * k)))
        assert decision.format_error is None, decision.raw
        assert parse(decision.raw, p.dialect.env, p.dialect.vocabulary).actions  # the parser on its own accepts it too
        for action in decision.actions:  # mapped into the 1280x800 screen
            for x, y in action.points().values():
                assert 0 <= x < 1280 and 0 <= y < 800


def test_unconstrained_random_text_is_a_format_error_not_a_crash(vllm_server):
    decision = policy(vllm_server, max_tokens=12).decide(context(screenshot(640, 400, t=5.0)))
    assert decision.format_error and decision.raw is not None and decision.actions == []
    assert decision.usage is not None
    if decision.usage["completion_tokens"] == 12:  # (a random model rarely samples its end token sooner)
        assert decision.usage["cut_at_max_tokens"] == 1
        assert decision.format_error.startswith("the answer was cut at max_tokens (12): ")


def test_a_clip_that_would_overflow_the_context_is_trimmed_oldest_first(vllm_server):
    now = 1000.0
    frames = [screenshot(1280, 800, t=now - 30 + k, shade=k) for k in range(30)]
    video = VideoConfig(history_seconds=30, token_budget=4096)
    full = policy(vllm_server, max_pixels=256 * 28 * 28, video=video)
    tight = policy(vllm_server, max_pixels=256 * 28 * 28, max_context=3600, video=video)
    ctx = context(screenshot(1280, 800, t=now), frames)
    whole, trimmed = full.build_request(ctx).clip, tight.build_request(ctx).clip
    assert whole is not None and trimmed is not None
    assert len(trimmed.frames) < len(whole.frames)
    assert trimmed.frames == whole.frames[len(whole.frames) - len(trimmed.frames):]  # the newest kept
    assert trimmed.t_end == whole.t_end
    decision = tight.decide(ctx)
    assert decision.usage is not None
    assert decision.usage["prompt_tokens"] <= 3600 - 8


def test_a_screenshot_too_big_for_the_context_is_refused_with_the_numbers(vllm_server):
    with pytest.raises(PolicyError, match=r"the screenshot alone needs 1336 visual tokens but only \d+ fit"):
        policy(vllm_server, max_context=1000).decide(context(screenshot(1280, 800, t=1.0)))


def test_server_errors_are_clear(vllm_server):
    ctx = context(screenshot(640, 400, t=1.0))
    with pytest.raises(PolicyError, match=r"model 'no-such-model' is not served at .* \(served: tiny-qwen25vl\)"):
        policy(vllm_server, model="no-such-model").decide(ctx)
    from tests.model.server import free_port

    down = VLMConfig(base_url=f"http://127.0.0.1:{free_port()}/v1", model=MODEL_NAME, max_retries=1, connect_timeout_s=2)
    with pytest.raises(PolicyError, match=r"cannot reach the model server at http://127.0.0.1:\d+/v1 \(is it running\?\)"):
        VLMPolicy(down).decide(ctx)
