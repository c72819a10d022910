"""The run spec's tagged unions (agent/spec.py), and meta.json written before them (a flat spec) read as now."""

import json
from pathlib import Path

import pytest
from pydantic import ValidationError

from guiagent.agent.run_options import RunOptions
from guiagent.agent.spec import (
    BrowserEnvSpec,
    ConfigError,
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
    assert isinstance(spec.env, BrowserEnvSpec) and spec.env.model_dump(exclude={"kind", "start_url"}) == flat["browser"]
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


def test_a_top_level_start_url_of_either_older_form_moves_into_the_browser_env():
    flat = {**_flat(), "start_url": "/login"}  # the flat form: env a name, the start beside it
    assert RunSpec.model_validate(flat).env == BrowserEnvSpec(**flat["browser"], start_url="/login")
    tagged = {"env": {"kind": "browser", "headless": False}, "policy": {"kind": "oracle"}, "start_url": "/list"}
    spec = RunSpec.model_validate(tagged)  # the first tagged form: the unions, the start still at the top
    assert isinstance(spec.env, BrowserEnvSpec) and (spec.env.start_url, spec.env.headless) == ("/list", False)
    assert "start_url" not in spec.model_dump() and RunSpec.model_validate(spec.model_dump()) == spec
    # a desktop env never opened a URL (its start is the app's launch): an old one's start_url is dropped
    desktop = RunSpec.model_validate({**flat, "env": "desktop", "desktop": {**flat["desktop"], "launch": "xterm"}})
    assert isinstance(desktop.env, DesktopEnvSpec) and desktop.env.launch == "xterm"
    assert isinstance(RunSpec.model_validate({"env": {"kind": "desktop"}, "start_url": "/x"}).env, DesktopEnvSpec)


def test_a_start_belongs_to_its_env():
    with pytest.raises(ValidationError, match="start_url"):
        RunSpec.model_validate({"env": {"kind": "desktop", "start_url": "/login"}})
    with pytest.raises(ValidationError, match="launch"):
        RunSpec.model_validate({"env": {"kind": "browser", "launch": "xterm"}})
    with pytest.raises(ConfigError, match="--start-url"):
        RunOptions(env="desktop", start_url="/login", launch="xterm").spec()
    spec = RunOptions(start_url="/login").spec()
    assert isinstance(spec.env, BrowserEnvSpec) and spec.env.start_url == "/login"


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
