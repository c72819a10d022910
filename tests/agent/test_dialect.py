"""One dialect per episode: on every path that builds a model policy (run, resume, batch local and Ray, several
servers, page tasks), the vocabulary offered to the model follows the env the episode drives, and the tool schema
it is shown offers exactly the actions that env executes (the browser's navigate and back, not on the desktop)."""

from __future__ import annotations

from pathlib import Path

import pytest

from guiagent.agent.assembly import build_policy
from guiagent.agent.batch.episode import _single_vlm, task_spec
from guiagent.agent.batch.plan import BatchSettings, EpisodeJob
from guiagent.agent.batch.router import routed_policy
from guiagent.agent.runner import RunSpec
from guiagent.agent.spec import BrowserEnvSpec, DesktopEnvSpec, VLMPolicySpec
from guiagent.agent.suites import load_suite
from guiagent.policies.vlm import VLMConfig, VLMPolicy
from guiagent.tools.actions import offered_actions

BROWSER_ONLY = {"navigate", "back"}


def _offered(policy: VLMPolicy) -> set[str]:
    """The actions of the computer_use tool this policy shows its model (the tool of its bound dialect)."""
    function = policy.dialect.tool(1280, 800)
    return set(function["parameters"]["properties"]["action"]["enum"])


def _paths(env: str, tmp_path: Path) -> dict[str, VLMPolicy]:
    spec = RunSpec(env=DesktopEnvSpec() if env == "desktop" else BrowserEnvSpec(),
                   policy=VLMPolicySpec(vlm=VLMConfig()))
    run_policy, _ = build_policy(spec, tmp_path, None)  # run and resume build it here
    routed = routed_policy(spec, ["http://127.0.0.1:1/v1", "http://127.0.0.1:2/v1"], tmp_path)
    batch_policy = _single_vlm(spec)
    assert isinstance(run_policy, VLMPolicy) and isinstance(batch_policy, VLMPolicy)
    return {"run/resume": run_policy, "batch": batch_policy, **{f"routed {u}": p for u, p in routed.policies.items()}}


@pytest.mark.parametrize("env", ["browser", "desktop"])
def test_every_path_offers_the_dialect_of_the_env_it_drives(env, tmp_path):
    for path, policy in _paths(env, tmp_path).items():
        assert policy.config.env == env and policy.dialect.env == env, path
        assert policy.settings()["env"] == env, path  # what meta.json records as policy.env
        offered = _offered(policy)
        assert offered == set(offered_actions(env, "qwen2.5-vl")), path  # type: ignore[arg-type]
        assert (offered >= BROWSER_ONLY) == (env == "browser"), path


def test_a_page_task_is_offered_the_browsers_dialect(tmp_path):
    """A MiniWoB episode drives a browser: its model gets navigate and back (it once got the desktop's)."""
    task = next(t for t in load_suite("miniwob").tasks if t.id == "click-button")
    # no vlm settings given: the defaults
    settings = BatchSettings(root=str(tmp_path), spec=RunSpec(policy=VLMPolicySpec()))
    spec = task_spec(EpisodeJob(key="click-button/seed-0", task=task, seed=0, settings=settings), "http://x/", "Click.")
    policy = _single_vlm(spec)
    assert isinstance(policy, VLMPolicy) and policy.config.env == "browser" and _offered(policy) >= BROWSER_ONLY
