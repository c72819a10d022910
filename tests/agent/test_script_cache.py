"""Describe targets grounded by a real vLLM server (tiny random Qwen2.5-VL) and the action cache.

The tiny model's points are random, so these tests assert the mechanics (one model call per target and
no more, a cached point replayed with none, exactly the changed signatures grounded again), not where
the clicks land. Model calls are counted by the server (vLLM's request counter) and in the record.
"""

from __future__ import annotations

import json
import re
from typing import Literal

import httpx
import pytest

from guiagent.agent.loop import LoopConfig
from guiagent.agent.runner import RunSpec, start_episode
from guiagent.agent.spec import ScriptPolicySpec
from guiagent.agent.trajectory import load_trajectory
from guiagent.policies.action_cache import CacheMode
from guiagent.policies.vlm import VLMConfig
from tests.model.server import MODEL_NAME, free_port

SCRIPT = """
task: Describe targets on three pages of the demo site.
start_url: /login
steps:
  - {{action: key, keys: [Tab]}}
  - {{action: type, text: demo}}
  - {{action: key, keys: [Tab]}}
  - {{action: type, text: demo}}
  - {{action: key, keys: [Return], expect: {{url: "/list$"}}}}
  - {{action: mouse_move, coordinate: [2, 790]}}
  - {{name: list, action: left_click, target: {{describe: the Add button}}{list_expect}}}
  - {{action: navigate, url: "{site}/help"}}
  - {{action: mouse_move, coordinate: [2, 790]}}
  - {{name: help, action: left_click, target: {{describe: the I read the help button}}}}
  - {{action: navigate, url: "{site}/summary"}}
  - {{action: mouse_move, coordinate: [2, 790]}}
  - {{name: summary, action: double_click, target: the first goal in the summary}}
  - {{action: terminate, status: success}}
"""


def served_requests(base_url: str) -> int:
    """Requests the server finished, from its Prometheus counter."""
    text = httpx.get(base_url.removesuffix("/v1") + "/metrics", timeout=10).text
    return int(sum(float(v) for v in re.findall(r"^vllm:request_success_total\{[^}]*\} ([0-9.e+]+)$", text, re.M)))


@pytest.fixture(scope="module")
def cached_runs(vllm_server, tmp_path_factory):
    root = tmp_path_factory.mktemp("cache")
    port = free_port()  # one port for every run, so the script's absolute URLs hold
    site = f"http://127.0.0.1:{port}"

    def run(name: str, layout: Literal["default", "moved"] = "default", list_expect: str = "", mode: CacheMode = "use"):
        script = root / "describe.yaml"
        script.write_text(SCRIPT.format(site=site, list_expect=list_expect))
        vlm = VLMConfig(base_url=vllm_server.base_url, model=MODEL_NAME, constrained=True, max_tokens=96,
                        max_pixels=256 * 28 * 28)
        spec = RunSpec(policy=ScriptPolicySpec(script=str(script), cache_mode=mode, vlm=vlm), demo_site=True,
                       demo_port=port,
                       demo_layout=layout, loop=LoopConfig(max_steps=20))
        before = served_requests(vllm_server.base_url)
        result = start_episode(spec, root / name)
        calls = served_requests(vllm_server.base_url) - before
        steps = {s.label: s for s in load_trajectory(root / name).steps if s.targets}
        return result, calls, steps, root / "describe.cache.json"

    return run


@pytest.mark.timeout(1200)  # four episodes against a CPU model server
def test_grounded_once_then_replayed_then_healed_where_the_page_changed(cached_runs):
    result, calls, steps, cache = cached_runs("first")
    assert result.status == "unverified", result.reason  # the script has no success check
    assert calls == 3
    for step in steps.values():
        (target,) = step.targets
        assert target.source == "model" and target.model_calls == 1 and target.reason == "not in the cache"
        assert step.actions[0]["coordinate"] == list(target.point)  # the pixel action that ran
    assert steps["summary"].targets[0].target == {"describe": "the first goal in the summary"}
    entries = json.loads(cache.read_text())["entries"]
    assert sorted(e["describe"] for e in entries.values()) == [
        "the Add button", "the I read the help button", "the first goal in the summary"]
    assert all(e["signature"]["page"].startswith("127.0.0.1/") and e["signature"]["dom_path"] for e in entries.values())

    # the second run on the same pages replays every point with no model call
    result, calls, again, _ = cached_runs("second")
    assert result.status == "unverified" and calls == 0
    for label, step in again.items():
        assert step.targets[0].source == "cache" and step.targets[0].model_calls == 0
        assert step.actions == steps[label].actions

    # on the moved layout, only the targets whose signature changed are grounded again (the list moved;
    # help and summary keep their layout)
    result, calls, moved, _ = cached_runs("moved", layout="moved")
    assert result.status == "unverified", result.reason  # the script has no success check
    healed = {label for label, s in moved.items() if s.targets[0].healed}
    assert healed == {"list"} and calls == 1
    assert moved["list"].targets[0].source == "model" and moved["list"].targets[0].reason.startswith("signature changed: ")
    assert {moved[k].targets[0].source for k in ("help", "summary")} == {"cache"}
    entry = next(e for e in json.loads(cache.read_text())["entries"].values() if e["describe"] == "the Add button")
    assert entry["point"] == list(moved["list"].targets[0].point)  # the cache now holds the healed point

    # an expect that fails after a cached point grounds it once more, then the step fails as it should
    result, calls, failed, _ = cached_runs("expect", layout="moved", list_expect=", expect: {text: Nowhere, timeout: 0.5}")
    assert result.status == "failure" and result.reason.startswith("step 7 (list): check text 'Nowhere'")
    assert calls == 1
    target = failed["list"].targets[0]
    assert target.healed and target.source == "model" and target.reason == "the step's expect failed after the cached point"


def test_a_describe_target_on_the_desktop_is_grounded_then_cached(vllm_server, tmp_path):
    from guiagent.agent.runner import desktop_demo_spec

    script = tmp_path / "desktop.yaml"
    script.write_text("task: Click the name field.\nsteps:\n  - {name: name, action: left_click, target: the name field}\n"
                      "  - {action: terminate, status: success}\n")
    vlm = VLMConfig(base_url=vllm_server.base_url, model=MODEL_NAME, constrained=True, max_tokens=96, max_pixels=256 * 28 * 28)
    for run, calls, source in (("first", 1, "model"), ("second", 0, "cache")):
        out = tmp_path / run
        spec = desktop_demo_spec(out).model_copy(update={"policy": ScriptPolicySpec(script=str(script), vlm=vlm)})
        before = served_requests(vllm_server.base_url)
        assert start_episode(spec, out).status == "unverified"  # no success check
        assert served_requests(vllm_server.base_url) - before == calls
        (target,) = load_trajectory(out).steps[0].targets
        assert target.source == source and target.element is None  # no DOM on the desktop: pixels and window
        assert target.signature is not None
        assert target.signature["page"].startswith("Desktop demo") and target.signature["dom_path"] is None
