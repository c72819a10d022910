from pathlib import Path

import pytest

from guiagent.agent.runner import demo_script_path
from guiagent.policies import DecisionContext
from guiagent.policies.script import ScriptError, ScriptPolicy, load_script
from guiagent.tools import FrameGeometry, LeftClick, Observation, Terminate


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "s.yaml"
    path.write_text(text)
    return path


def context(step: int) -> DecisionContext:
    obs = Observation(image=b"", t=0.0, geometry=FrameGeometry(width=10, height=10))
    return DecisionContext(task="t", step=step, max_steps=10, observation=obs)


def test_the_bundled_demo_script_loads():
    script = load_script(demo_script_path())
    assert script.start_url == "/login" and script.success is not None
    assert len(script.steps) >= 20
    assert isinstance(script.steps[-1].action, Terminate)


def test_steps_come_in_order_then_the_script_ends(tmp_path):
    policy = ScriptPolicy.from_file(write(tmp_path, """
task: click
steps:
  - {name: first, action: left_click, coordinate: [10, 20], expect: {text: Done, timeout: 2}}
"""))
    first = policy.decide(context(0))
    assert first.actions == [LeftClick(coordinate=(10, 20))]
    assert first.label == "first" and first.checks[0].text == "Done"
    end = policy.decide(context(1))
    assert isinstance(end.actions[0], Terminate) and end.actions[0].status == "success"


@pytest.mark.parametrize("text, message", [
    ("steps: []", "expected a mapping with a non-empty 'steps' list"),
    ("steps: [1]", "step 1: expected a mapping, got 1"),
    ("steps:\n  - {action: left_click, coordinate: [1, 1]}\n  - {name: bad, action: left_click, coordinate: [-1, 1]}",
     "step 2 (bad): left_click.coordinate.0: Input should be greater than or equal to 0 (got -1)"),
    ("steps:\n  - {action: type, text: x, expect: {timeout: 3}}", "step 1: expect: a check needs at least one of"),
    ("steps:\n  - {action: teleport}", "step 1: action: unknown action 'teleport'"),
    ("steps: [", "not valid YAML"),
    ("success: {colour: red}\nsteps:\n  - {action: wait, time: 1}", "success: colour: Extra inputs are not permitted"),
])
def test_bad_scripts_name_the_file_and_the_step(tmp_path, text, message):
    path = write(tmp_path, text)
    with pytest.raises(ScriptError) as info:
        load_script(path)
    assert str(path) in str(info.value)
    assert message in str(info.value)


def test_a_missing_script_is_named(tmp_path):
    with pytest.raises(ScriptError, match="cannot read script .*nope.yaml: No such file"):
        load_script(tmp_path / "nope.yaml")
