"""Other families on the real vLLM CPU server: a tiny random Qwen2-VL and Qwen3-VL built offline
(tests/model/build_tiny_family.py), one server per family, one at a time.

Predicted visual tokens must equal the server's count, and a short constrained episode is recorded.
Families vLLM 0.32 does not serve here are checked in test_family_processors.py with their own processor.
"""

from __future__ import annotations

import pytest

from guiagent.agent.loop import LoopConfig
from guiagent.agent.runner import RunSpec, start_episode
from guiagent.agent.spec import BrowserEnvSpec, VLMPolicySpec
from guiagent.agent.trajectory import load_trajectory
from guiagent.policies.media import VideoConfig
from guiagent.policies.vlm import VLMConfig, VLMPolicy
from tests.policies.test_vlm_server import context, screenshot, text_only_tokens

FAMILIES = ["qwen2-vl", "qwen3-vl"]
pytestmark = pytest.mark.timeout(900)  # the first test of each family starts its server
MOVES = ["left_click", "double_click", "mouse_move", "type", "key", "scroll", "wait"]


@pytest.fixture(scope="module", params=FAMILIES)
def family_server(request, vllm_python, tmp_path_factory):
    from tests.model.server import VLLMServer, tiny_family_model

    family = request.param
    model = tiny_family_model(vllm_python, family)
    log = tmp_path_factory.mktemp(f"vllm-{family}") / "server.log"
    with VLLMServer(vllm_python, model, log, name=f"tiny-{family}") as server:
        yield family, server


def policy(family: str, server, **overrides) -> VLMPolicy:
    base = dict(base_url=server.base_url, model=server.name, family=family, max_tokens=8,
                video=VideoConfig(history_seconds=0))
    return VLMPolicy(VLMConfig(**{**base, **overrides}))


def test_predicted_image_tokens_match_the_server(family_server):
    family, server = family_server
    for size in [(1280, 800), (1920, 1080), (333, 517)]:
        p = policy(family, server, max_pixels=512 * 32 * 32)
        ctx = context(screenshot(*size, t=1000.0))
        request = p.build_request(ctx)
        decision = p.decide(ctx)
        assert decision.usage is not None
        visual = decision.usage["prompt_tokens"] - text_only_tokens(server, request.messages, server.name)
        assert visual == request.predicted["image_tokens"], (family, size)
        assert request.mapping.space == "relative-1000"
        assert request.mapping.resized_width % p.config.profile.factor == 0


def test_predicted_video_tokens_match_the_server(family_server):
    family, server = family_server
    now = 1000.0
    if family == "qwen3-vl":
        # the longest clip the default config makes (64 frames): 2 fps over 32 s, 32 frame pairs, timestamps
        # <0.2 seconds> .. <31.2 seconds> (one and two digits, and the .25 that Python's format rounds to
        # even), each counted by the server's tokenizer
        fps, seconds, pairs = 2.0, 32, 32
    else:
        fps, seconds, pairs = 1.0, 8, 4
    frames = [screenshot(640, 400, t=now - seconds - 1 + k * 0.5, shade=k * 10) for k in range(2 * seconds + 2)]
    p = policy(family, server, max_pixels=128 * 28 * 28,
               video=VideoConfig(fps=fps, history_seconds=seconds, token_budget=512))
    ctx = context(screenshot(640, 400, t=now), frames)
    request = p.build_request(ctx)
    assert request.clip is not None
    assert len(request.clip.frames) == 2 * pairs
    decision = p.decide(ctx)
    assert decision.usage is not None
    visual = decision.usage["prompt_tokens"] - text_only_tokens(server, request.messages, server.name)
    assert visual == request.predicted["image_tokens"] + request.predicted["video_tokens"]
    if family == "qwen3-vl":
        texts = p.config.profile.video_texts(len(request.clip.frames), fps)
        assert texts[0] == "<0.2 seconds>" and texts[-1] == "<31.2 seconds>"
        intro = next(part["text"] for part in request.messages[-1]["content"] if "<t seconds>" in part.get("text", ""))
        assert "in seconds after" in intro


def test_a_short_constrained_episode_is_recorded(family_server, tmp_path):
    family, server = family_server
    vlm = VLMConfig(base_url=server.base_url, model=server.name, family=family, constrained=True,
                    constrained_actions=MOVES, max_tokens=160, temperature=1.0, max_pixels=256 * 32 * 32,
                    video=VideoConfig(history_seconds=0))
    spec = RunSpec(env=BrowserEnvSpec(start_url="/login"), policy=VLMPolicySpec(vlm=vlm), task="Sign in as demo / demo.",
                   demo_site=True, loop=LoopConfig(max_steps=3))
    result = start_episode(spec, tmp_path / "run")
    assert result.status == "failure" and result.reason is not None and "step limit (3)" in result.reason
    traj = load_trajectory(tmp_path / "run")
    assert len(traj.steps) == 3 and traj.problems == []
    assert traj.meta.policy["family"] == family
    for step in traj.steps:
        assert step.format_error is None, step.raw
        assert step.mapping is not None
        assert step.mapping.space == "relative-1000"
        for action, model_action in zip(step.actions, step.model_actions, strict=True):
            if "coordinate" in model_action:
                # a point on the 0-1000 grid lands inside the 1280x800 viewport, scaled by the grid
                mx, my = model_action["coordinate"]
                x, y = action["coordinate"]
                assert 0 <= mx <= 1000 and 0 <= my <= 1000
                assert abs(x - mx * 1280 / 1000) <= 1.28 and abs(y - my * 800 / 1000) <= 0.8


def test_doctor_proposes_the_family_from_the_served_config(family_server):
    import subprocess
    import sys

    family, server = family_server
    doctor = subprocess.run([sys.executable, "-m", "guiagent.agent.cli", "doctor", "--model-url", server.base_url,
                             "--history-seconds", "0", "--max-pixels", str(128 * 32 * 32)],
                            capture_output=True, text=True, timeout=300)
    assert doctor.returncode == 0, doctor.stdout + doctor.stderr
    assert f"model family {family}: proposed from its id and config" in doctor.stdout
    assert f"Recommended on a GPU ({family})" in doctor.stdout
