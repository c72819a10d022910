"""The demo task on the moved layout: coordinates break at the first moved control, targets do not."""

from typing import Literal

from guiagent.agent.loop import LoopConfig
from guiagent.agent.runner import RunSpec, demo_script_path, start_episode
from guiagent.agent.spec import ScriptPolicySpec
from guiagent.agent.trajectory import load_trajectory


def demo(tmp_path, targets: bool, layout: Literal["default", "moved"]):
    spec = RunSpec(policy=ScriptPolicySpec(script=str(demo_script_path(targets=targets))), demo_site=True,
                   demo_layout=layout, loop=LoopConfig(max_steps=40))
    out = tmp_path / f"{layout}-{targets}"
    return start_episode(spec, out), load_trajectory(out)


def test_the_pixel_script_fails_on_the_moved_layout_at_its_first_moved_control(tmp_path):
    result, traj = demo(tmp_path, targets=False, layout="moved")
    assert result.status == "failure" and result.steps == 1
    assert result.reason is not None
    assert result.reason.startswith("step 1 (user name field): check js \"document.activeElement.id === 'user'\" failed within 2s")


def test_the_target_script_passes_on_the_moved_layout_and_records_targets_beside_pixels(tmp_path):
    result, traj = demo(tmp_path, targets=True, layout="moved")
    assert result.status == "success", result.reason
    sign_in = next(s for s in traj.steps if s.label == "sign in")
    assert sign_in.targets[0].target == {"role": "button", "name": "Sign in"} and sign_in.targets[0].source == "dom"
    assert sign_in.actions == [{"action": "left_click", "coordinate": [220, 542]}]  # where the moved button is
    drag = next(s for s in traj.steps if s.actions[0]["action"] == "left_click_drag")
    assert [t.field for t in drag.targets] == ["start_coordinate", "coordinate"]
    assert drag.targets[0].point is not None
    assert drag.actions[0]["start_coordinate"] == list(drag.targets[0].point)
    assert sum(t.model_calls for s in traj.steps for t in s.targets) == 0
