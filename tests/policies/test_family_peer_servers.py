"""InternVL2.5 and Pixtral on the real vLLM CPU server: tiny random models in Hugging Face format built
offline (tests/model/build_tiny_peers.py: ``InternVLForConditionalGeneration``, and
``LlavaForConditionalGeneration`` with a Pixtral vision tower), one server per family, one at a time.

Predicted visual tokens must equal the server's count, and a short constrained episode is recorded.
Neither family takes video in its profile, so there is no clip test; test_family_processors.py checks
more sizes against their processors in-process.
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

FAMILIES = ["internvl2.5", "pixtral"]
SPACES = {"internvl2.5": "relative-1000", "pixtral": "resized-pixels"}
pytestmark = pytest.mark.timeout(900)  # the first test of each family builds its model and starts its server
MOVES = ["left_click", "double_click", "mouse_move", "type", "key", "scroll", "wait"]


@pytest.fixture(scope="module", params=FAMILIES)
def peer_server(request, vllm_python, tmp_path_factory):
    from tests.model.server import VLLMServer, tiny_family_model

    family = request.param
    model = tiny_family_model(vllm_python, family)
    log = tmp_path_factory.mktemp(f"vllm-{family}") / "server.log"
    # a full-size screenshot is 1.8k (InternVL, 6 tiles + thumbnail) to 2.6k (Pixtral, 1024x640) tokens
    with VLLMServer(vllm_python, model, log, name=f"tiny-{family}", limit_mm={"image": 2},
                    max_model_len=8192) as server:
        yield family, server


def policy(family: str, server, **overrides) -> VLMPolicy:
    base = dict(base_url=server.base_url, model=server.name, family=family, max_tokens=8,
                video=VideoConfig(history_seconds=0))
    return VLMPolicy(VLMConfig(**{**base, **overrides}))


# InternVL: 3x2 tiles + thumbnail, 4x2 (a tie goes to the larger grid), 2x3; Pixtral: 1024x640 patches,
# 1024x576, 336x528 (a small image is kept, its sides rounded up to 16-px patches).
@pytest.mark.parametrize("size", [(1280, 800), (1920, 1080), (333, 517)], ids=["1280x800", "1920x1080", "333x517"])
def test_predicted_image_tokens_match_the_server(peer_server, size):
    family, server = peer_server
    p = policy(family, server)
    ctx = context(screenshot(*size, t=1000.0))
    request = p.build_request(ctx)
    decision = p.decide(ctx)
    assert decision.usage is not None
    visual = decision.usage["prompt_tokens"] - text_only_tokens(server, request.messages, server.name)
    assert visual == request.predicted["image_tokens"], (family, size)
    assert request.mapping.space == SPACES[family]
    assert request.predicted["video_tokens"] == 0 and request.clip is None


def test_a_short_constrained_episode_is_recorded(peer_server, tmp_path):
    family, server = peer_server
    # max_tokens: room for the longest answer the constraint allows (its 61-character thought alone can
    # take ~60 tokens of this tokenizer; at 96 an answer was seen to end on the very last token)
    vlm = VLMConfig(base_url=server.base_url, model=server.name, family=family, constrained=True,
                    constrained_actions=MOVES, max_tokens=160, temperature=1.0, video=VideoConfig(history_seconds=0))
    spec = RunSpec(env=BrowserEnvSpec(start_url="/login"), policy=VLMPolicySpec(vlm=vlm), task="Sign in as demo / demo.",
                   demo_site=True, loop=LoopConfig(max_steps=3))
    result = start_episode(spec, tmp_path / "run")
    assert result.status == "failure" and result.reason is not None and "step limit (3)" in result.reason
    traj = load_trajectory(tmp_path / "run")
    assert len(traj.steps) == 3 and traj.problems == []
    assert traj.meta.policy["family"] == family
    for step in traj.steps:
        assert step.format_error is None, step.raw
        mapping = step.mapping
        assert mapping is not None
        assert mapping.space == SPACES[family]
        for action, model_action in zip(step.actions, step.model_actions, strict=True):
            if "coordinate" in model_action:
                # a point in the model's space lands inside the 1280x800 viewport, scaled by that space
                mx, my = model_action["coordinate"]
                x, y = action["coordinate"]
                sx, sy = 1280 / mapping.model_width, 800 / mapping.model_height
                assert 0 <= mx <= mapping.model_width and 0 <= my <= mapping.model_height
                assert abs(x - mx * sx) <= sx and abs(y - my * sy) <= sy


def test_doctor_proposes_the_family_from_the_served_config(peer_server):
    import subprocess
    import sys

    family, server = peer_server
    doctor = subprocess.run([sys.executable, "-m", "guiagent.agent.cli", "doctor", "--model-url", server.base_url],
                            capture_output=True, text=True, timeout=300)
    assert doctor.returncode == 0, doctor.stdout + doctor.stderr
    assert f"model family {family}: proposed from its id and config" in doctor.stdout
    assert f"Recommended on a GPU ({family})" in doctor.stdout
