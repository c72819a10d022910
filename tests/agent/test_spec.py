"""The run spec's tagged unions (agent/spec.py), and meta.json written before them (a flat spec) read as now."""

import json
from pathlib import Path

import pytest
from pydantic import ValidationError

from guiagent.agent.run_options import RunOptions
from guiagent.agent.spec import (
    BrowserEnvSpec,
    DesktopEnvSpec,
    OraclePolicySpec,
    ReplayPolicySpec,
    RunSpec,
    ScriptPolicySpec,
    VLMPolicySpec,
)

FLAT_META = Path(__file__).parent / "data" / "meta_flat_spec.json"  # written by `guiagent demo` before the unions


def _flat() -> dict:
    return json.loads(FLAT_META.read_text())["extra"]["spec"]


def test_a_flat_spec_from_an_older_meta_json_reads_as_the_tagged_form():
    flat = _flat()
    spec = RunSpec.model_validate(flat)
    assert isinstance(spec.env, BrowserEnvSpec) and spec.env.model_dump(exclude={"kind"}) == flat["browser"]
    assert isinstance(spec.policy, ScriptPolicySpec)
    assert (spec.policy.script, spec.policy.cache, spec.policy.vlm) == (flat["script"], flat["cache"], None)
    assert spec.demo_port == flat["demo_port"] and spec.loop.max_steps == flat["loop"]["max_steps"]
    assert RunSpec.model_validate(json.loads(spec.model_dump_json())) == spec  # today's form reads back as it is


def test_every_flat_kind_of_env_and_policy_migrates():
    flat = _flat()
    desktop = RunSpec.model_validate({**flat, "env": "desktop", "desktop": {**flat["desktop"], "xvfb": "800x600x24"}})
    assert isinstance(desktop.env, DesktopEnvSpec) and desktop.env.xvfb == "800x600x24"
    vlm = RunSpec.model_validate({**flat, "policy": "vlm", "script": None, "vlm": {"model": "m"}})
    assert isinstance(vlm.policy, VLMPolicySpec) and vlm.policy.vlm.model == "m"
    replay = RunSpec.model_validate({**flat, "policy": "replay", "replay": {"source": "/r", "mode": "lenient"}})
    assert isinstance(replay.policy, ReplayPolicySpec) and replay.policy.mode == "lenient"
    assert isinstance(RunSpec.model_validate({**flat, "policy": "oracle"}).policy, OraclePolicySpec)
    with pytest.raises(ValidationError, match="bogus"):
        RunSpec.model_validate({**flat, "policy": "bogus"})


def test_a_variant_refuses_another_variants_settings():
    with pytest.raises(ValidationError, match="script"):
        RunSpec.model_validate({"policy": {"kind": "vlm", "script": "x.yaml"}})
    with pytest.raises(ValidationError, match="xvfb"):
        RunSpec.model_validate({"env": {"kind": "browser", "xvfb": "800x600"}})


def test_the_run_options_defaults_are_guiagent_runs():
    import inspect

    from guiagent.agent.cli import run

    params = inspect.signature(run).parameters
    for name, field in RunOptions.model_fields.items():
        assert params[name].default == field.default, name
