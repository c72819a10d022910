"""A model's navigate meets the URL policy: a blocked host is a result the model sees, the episode goes
on, and nothing of the blocked page is recorded (the tiny vLLM model, constrained to navigate)."""

from __future__ import annotations

from pathlib import Path

from guiagent.agent.export.samples import ExportOptions, build_samples
from guiagent.agent.loop import LoopConfig
from guiagent.agent.runner import RunSpec, start_episode
from guiagent.agent.spec import BrowserEnvSpec, VLMPolicySpec
from guiagent.agent.trajectory import load_trajectory
from guiagent.policies.media import VideoConfig
from guiagent.policies.vlm import VLMConfig
from guiagent.tools.parsing import parse_tool_calls
from guiagent.tools.urlpolicy import UrlPolicy
from tests.model.server import MODEL_NAME


def test_a_models_navigate_to_a_blocked_host_is_refused_and_the_run_goes_on(vllm_server, tmp_path: Path) -> None:
    out = tmp_path / "run"
    vlm = VLMConfig(base_url=vllm_server.base_url, model=MODEL_NAME, constrained=True, constrained_actions=["navigate"],
                    max_tokens=192, temperature=1.0, max_pixels=256 * 28 * 28,
                    video=VideoConfig(fps=1.0, history_seconds=0, token_budget=512))
    spec = RunSpec(env=BrowserEnvSpec(url_policy=UrlPolicy(allow=["127.0.0.1"], private_network=True), start_url="/login"),
                   policy=VLMPolicySpec(vlm=vlm), task="Open the admin page.", demo_site=True,
                   loop=LoopConfig(max_steps=2))
    result = start_episode(spec, out)
    traj = load_trajectory(out)
    assert result.steps == 2 and result.reason is not None and "step limit" in result.reason, result.reason  # refused, the episode went on
    blocked = []
    for step in traj.steps:
        assert step.format_error is None, step.format_error  # constrained: the answer always parses
        (url,) = [a["url"] for a in step.actions]
        assert step.results[0].message.startswith(f"blocked by policy: {url} (") and not step.results[0].ok
        assert step.results[0].data["blocked"] == [url]
        blocked.append(url.split("/")[2])
    # no frame, URL or title recorded is the blocked page: every frame (the one after a refusal too)
    # is the demo's login, and a refused navigate has no URL after it (nothing ran)
    for step in traj.steps:
        for seen in (step.url, step.title):
            assert seen and not any(host in seen for host in blocked), seen
        assert step.url is not None and step.url.endswith("/login") and step.url_after is None
    # the model's navigate exports as a label that parses back as a browser episode's call
    samples, _ = build_samples([out], ExportOptions())
    assert len(samples) == 2 and "`navigate` and `back`" in samples[0].turns[0].text
    assert parse_tool_calls(samples[0].turns[-1].text, "browser", "qwen2.5-vl").actions[0].action == "navigate"
