"""UI-TARS-1.5 and OpenCUA see their history as they were trained to: earlier screenshots as images in
their own turns, a bounded number of them, the window moved in blocks so each request extends the last.

Sources: bytedance/UI-TARS-desktop packages/ui-tars/sdk/src (GUIAgent.ts, utils.ts; MAX_IMAGE_LENGTH = 5)
and OSWorld's mm_agents/opencua/opencua_agent.py (OpenCUAAgent.predict, "3 images in total"); see the
family modules' docstrings.
"""

from __future__ import annotations

import io

import pytest
from PIL import Image

from guiagent.policies.base import DecisionContext, StepSummary
from guiagent.policies.families.history import shown_steps
from guiagent.policies.families.opencua import INSTRUCTION_TEMPLATE
from guiagent.policies.media import VideoConfig
from guiagent.policies.vlm import VLMConfig, VLMPolicy
from guiagent.tools import FrameGeometry, Observation

UITARS_ANSWER = "Thought: Click the button\nAction: click(start_box='(100,200)')"  # bytedance/UI-TARS README "Usage"
OPENCUA_ANSWER = ("## Thought:\nI need to open the menu.\n\n## Action:\nClick the menu button.\n\n## Code:\n"
                  "```python\npyautogui.click(x=100, y=200)\n```\n")


def frame(t: float, shade: int) -> Observation:
    buf = io.BytesIO()
    Image.new("RGB", (640, 400), (shade % 256, 90, 160)).save(buf, "PNG")
    return Observation(image=buf.getvalue(), t=t, geometry=FrameGeometry(width=640, height=400))


def offline_policy(family: str, **overrides) -> VLMPolicy:
    """A policy whose requests are built without a server (the context length given, /tokenize unreachable)."""
    base = dict(base_url="http://127.0.0.1:9/v1", model="m", family=family, max_context=32768, max_retries=0,
                connect_timeout_s=0.5, video=VideoConfig(history_seconds=0))
    return VLMPolicy(VLMConfig(**{**base, **overrides}))


def episode(steps: int, answer: str, error_at: int | None = None) -> DecisionContext:
    """The context of step ``steps``: that many earlier steps, each with its screenshot in the frame buffer."""
    frames = [frame(100.0 + k, shade=20 * k) for k in range(steps + 1)]
    history = [StepSummary(index=k, t=frames[k].t, raw=answer if k != error_at else "garbage", thought="",
                           error="no \"Action:\" found" if k == error_at else None, results=["ok"])
               for k in range(steps)]
    return DecisionContext(task="Open the menu.", step=steps, max_steps=50, observation=frames[-1], history=history,
                           recent_frames=frames)


def images(message) -> list[str]:
    content = message["content"]
    return [] if isinstance(content, str) else [p["image_url"]["url"] for p in content if p["type"] == "image_url"]


def rendered(messages) -> str:
    """The prompt as Qwen's chat template lays it out, each image by its bytes (vLLM's cache key)."""
    out = ""
    for m in messages:
        parts = [m["content"]] if isinstance(m["content"], str) else [
            p["text"] if p["type"] == "text" else f"<img {hash(p['image_url']['url'])}>" for p in m["content"]]
        out += f"<|im_start|>{m['role']}\n{''.join(parts)}<|im_end|>\n"
    return out


def test_the_window_holds_at_most_the_trained_images_and_moves_in_blocks():
    assert list(shown_steps(0, 4, 2)) == []
    assert list(shown_steps(3, 4, 2)) == [0, 1, 2]
    assert list(shown_steps(4, 4, 2)) == [0, 1, 2, 3]
    assert list(shown_steps(5, 4, 2)) == [2, 3, 4]  # not [1..4]: the window moves two steps at once
    assert list(shown_steps(6, 4, 2)) == [2, 3, 4, 5]
    assert list(shown_steps(7, 4, 2)) == [4, 5, 6]
    assert list(shown_steps(5, 2, 2)) == [4] and list(shown_steps(6, 2, 2)) == [4, 5]
    assert list(shown_steps(9, 0, 2)) == []
    for steps in range(40):
        shown = shown_steps(steps, 4, 2)
        assert len(shown) <= 4 and (steps < 3 or len(shown) >= 3)


def test_uitars_sees_earlier_screenshots_in_its_own_turns():
    p = offline_policy("ui-tars-1.5")
    request = p.build_request(episode(6, UITARS_ANSWER))
    m = request.messages
    # [system, user: prompt + instruction, (user: screenshot, assistant: answer) per step, user: screenshot]
    assert [x["role"] for x in m] == ["system", "user", "assistant", "assistant", "user", "assistant", "user",
                                      "assistant", "user", "assistant", "user", "assistant", "user"]
    assert m[1]["content"].startswith("You are a GUI agent.") and m[1]["content"].endswith("Open the menu.\n")
    assert all(x["content"] == UITARS_ANSWER for x in m if x["role"] == "assistant")  # every step keeps its turn
    shown = [x for x in m if x["role"] == "user" and images(x)]
    assert len(shown) == 5  # steps 2..5 and the current screen: MAX_IMAGE_LENGTH
    assert all(x["content"] == [{"type": "image_url", "image_url": {"url": images(x)[0]}}] for x in shown)
    assert len(set(images(x)[0] for x in shown)) == 5  # five different screens, the current one last
    one = request.predicted["image_tokens"] // 5
    assert request.predicted["image_tokens"] == 5 * one == 5 * p.config.profile.image_tokens(request.mapping)


def test_uitars_requests_extend_each_other_until_the_window_moves():
    p = offline_policy("ui-tars-1.5")
    prompts = [rendered(p.build_request(episode(n, UITARS_ANSWER)).messages) for n in range(9)]
    for n in range(8):
        moved = shown_steps(n, 4, 2).start != shown_steps(n + 1, 4, 2).start
        now, nxt = prompts[n], prompts[n + 1]
        # the whole of step n's prompt (its screenshot included) opens step n+1's, unless the window moved
        assert nxt.startswith(now.removesuffix("<|im_end|>\n")) != moved, n


def test_uitars_is_told_why_a_step_did_not_run_before_the_next_screen():
    p = offline_policy("ui-tars-1.5")
    m = p.build_request(episode(2, UITARS_ANSWER, error_at=1)).messages
    assert m[-2] == {"role": "assistant", "content": "garbage"}
    assert m[-1]["content"][0] == {"type": "text", "text": "Error: no \"Action:\" found\n"}
    assert m[-1]["content"][1]["type"] == "image_url"


def test_uitars_history_drops_a_reflection_as_its_sdk_does():
    reflected = "Reflection: the click missed.\nAction_Summary: click again\nAction: click(start_box='(1,2)')"
    step = StepSummary(index=0, t=1.0, raw=reflected)
    assert offline_policy("ui-tars-1.5").config.profile.assistant_text(step) == (
        "Action_Summary: click again\nAction: click(start_box='(1,2)')")


def test_opencua_history_is_its_step_texts_and_the_instruction_comes_after_the_screen():
    p = offline_policy("opencua")
    request = p.build_request(episode(5, OPENCUA_ANSWER))
    m = request.messages
    # [system, assistant: steps 1-4 joined, user: screenshot 5, assistant: step 5, user: [screen, instruction]]
    assert [x["role"] for x in m] == ["system", "assistant", "user", "assistant", "user"]
    assert m[0]["content"].startswith("You are a GUI agent.")
    assert m[1]["content"] == "\n".join(f"# Step {k}:\n## Action:\nClick the menu button.\n" for k in range(1, 5))
    assert m[3]["content"] == "# Step 5:\n## Action:\nClick the menu button.\n"
    assert len(images(m[2])) == 1 and len(images(m[4])) == 1 and images(m[2]) != images(m[4])
    assert m[4]["content"][-1] == {"type": "text", "text": INSTRUCTION_TEMPLATE.format(instruction="Open the menu.")}
    assert request.predicted["image_tokens"] == 2 * p.config.profile.image_tokens(request.mapping)
    # six steps: two earlier screenshots, "3 images in total"
    m6 = p.build_request(episode(6, OPENCUA_ANSWER)).messages
    assert [x["role"] for x in m6] == ["system", "assistant", "user", "assistant", "user", "assistant", "user"]
    assert sum(len(images(x)) for x in m6) == 3


def test_opencua_requests_extend_each_other_until_the_window_moves():
    p = offline_policy("opencua")

    def shared(n: int) -> str:
        # the current turn ends with the instruction; what precedes it is what the next step reuses
        text = rendered(p.build_request(episode(n, OPENCUA_ANSWER)).messages)
        return text[: text.rindex("\n# Task Instruction:")]

    for n in range(7):
        moved = shown_steps(n, 2, 2).start != shown_steps(n + 1, 2, 2).start
        assert rendered(p.build_request(episode(n + 1, OPENCUA_ANSWER)).messages).startswith(shared(n)) != moved, n


@pytest.mark.parametrize("family, answer", [("ui-tars-1.5", UITARS_ANSWER), ("opencua", OPENCUA_ANSWER)])
def test_the_served_model_counts_the_earlier_screenshot_as_predicted(vllm_server, family, answer):
    # both are Qwen2.5-VL checkpoints: the tiny Qwen2.5-VL serves their requests (two images: its limit)
    from tests.policies.test_vlm_server import MODEL_NAME, text_only_tokens

    p = VLMPolicy(VLMConfig(base_url=vllm_server.base_url, model=MODEL_NAME, family=family, max_tokens=4,
                            max_pixels=256 * 28 * 28, video=VideoConfig(history_seconds=0)))
    ctx = episode(1, answer)
    request = p.build_request(ctx)
    assert sum(len(images(x)) for x in request.messages) == 2
    decision = p.decide(ctx)
    assert decision.usage is not None
    visual = decision.usage["prompt_tokens"] - text_only_tokens(vllm_server, request.messages)
    assert visual == request.predicted["image_tokens"] == 2 * p.config.profile.image_tokens(request.mapping)
