"""The LangGraph loop end to end: the demo on real Chromium, recording, checkpoints, limits and failures."""

import json
import sqlite3

import pytest

from guiagent.agent.loop import CHECKPOINT_FILE, Episode, LoopConfig
from guiagent.agent.runner import RunSpec, demo_script_path, start_episode
from guiagent.agent.spec import ScriptPolicySpec
from guiagent.agent.task import Task
from guiagent.agent.trajectory import TrajectoryMeta, TrajectoryWriter, load_trajectory
from guiagent.envs.browser import BrowserConfig, BrowserEnv
from guiagent.policies import Decision, PolicyError
from guiagent.tools import CallUser, Check, LeftClick, Terminate
from tests.processes import kill_descendants_named


def test_the_demo_runs_to_success_and_reads_back(tmp_path):
    out = tmp_path / "demo"
    seen = []
    spec = RunSpec(policy=ScriptPolicySpec(script=str(demo_script_path())), demo_site=True)
    result = start_episode(spec, out, on_step=lambda record, max_steps: seen.append(record.index))
    assert result.status == "success", result.reason
    traj = load_trajectory(out)
    assert traj.problems == []
    assert traj.meta.outcome == "success" and traj.meta.ended_at is not None
    assert [s.index for s in traj.steps] == list(range(result.steps)) == seen
    state = json.loads((out / "demo-state.json").read_text())
    assert state["items"] == ["Buy bread", "Call Alice", "Buy milk"]  # the site's own state
    for step in traj.steps:
        assert traj.frame_path(step).read_bytes()[:4] == b"\x89PNG"
        assert step.t_start <= step.t <= step.t_end
        assert {"capture", "decide", "execute", "record"} <= set(step.timings_ms)
    by_label = {s.label: s for s in traj.steps}
    assert by_label["save (alert dialog)"].results[0].data["dialogs"][0]["message"] == "Settings saved"
    url_after = by_label["open help in a new tab"].url_after
    assert url_after is not None and url_after.endswith("/help")
    assert by_label["drag the card to Done"].checks[0].result.ok
    # the spec to rebuild the run is in meta.json; the script travels with the trajectory
    assert traj.meta.extra["spec"]["demo_site"] is True
    assert (out / "script.yaml").exists()


def test_checkpoints_hold_no_pixels(tmp_path):
    out = tmp_path / "demo"
    assert start_episode(RunSpec(policy=ScriptPolicySpec(script=str(demo_script_path())), demo_site=True),
                                 out).status == "success"
    conn = sqlite3.connect(out / CHECKPOINT_FILE)
    sizes = [len(row[0]) for row in conn.execute("SELECT checkpoint FROM checkpoints")]
    blobs = [len(row[0] or b"") for row in conn.execute("SELECT value FROM writes")]
    frame_bytes = min(p.stat().st_size for p in (out / "frames").iterdir())
    assert len(sizes) > 25 * 3  # a checkpoint after every node of every step
    # even the last checkpoint, with the whole history, is far smaller than one frame
    assert max(sizes + blobs) < frame_bytes


class _Policy:
    """A real Policy (not a stand-in for a boundary): answers from a list, for loop-limit tests."""

    kind = "listed"

    def __init__(self, answers):
        self.answers = answers

    def decide(self, context):
        answer = self.answers[min(context.step, len(self.answers) - 1)]
        if isinstance(answer, Exception):
            raise answer
        return answer

    def settings(self):
        return {"kind": self.kind}


@pytest.fixture
def episode_on(tmp_path, pages_url):
    envs = []

    def make(policy, config=None, task=None):
        env = BrowserEnv(BrowserConfig())
        env.reset(pages_url + "/pad.html")
        envs.append(env)
        writer = TrajectoryWriter.create(tmp_path / "t", TrajectoryMeta(task="test"))
        return Episode(env, policy, task or Task(instruction="test"), writer, config or LoopConfig())

    yield make
    for env in envs:
        env.close()


def test_the_step_limit_ends_the_episode(episode_on, tmp_path):
    episode = episode_on(_Policy([Decision(actions=[LeftClick(coordinate=(5, 5))])]), LoopConfig(max_steps=3))
    result = episode.run()
    assert (result.status, result.steps) == ("failure", 3)
    assert result.reason == "reached the step limit (3) without finishing"
    assert load_trajectory(tmp_path / "t").meta.reason == result.reason


def test_repeated_format_errors_fail_with_the_last_reason(episode_on, tmp_path):
    bad = Decision(raw="I think I will click", format_error="no <tool_call> found")
    result = episode_on(_Policy([bad]), LoopConfig(max_format_errors=2)).run()
    assert result.status == "failure" and result.steps == 3
    assert result.reason == "the model's answer could not be parsed 3 times in a row: no <tool_call> found"
    steps = load_trajectory(tmp_path / "t").steps
    assert [s.raw for s in steps] == ["I think I will click"] * 3


def test_a_policy_error_ends_the_episode_and_keeps_what_was_recorded(episode_on, tmp_path):
    ok = Decision(actions=[LeftClick(coordinate=(5, 5))])
    result = episode_on(_Policy([ok, ok, PolicyError("model server at http://127.0.0.1:1 is down")])).run()
    assert result.status == "failure" and result.reason == "policy: model server at http://127.0.0.1:1 is down"
    traj = load_trajectory(tmp_path / "t")
    assert len(traj.steps) == 3 and traj.meta.outcome == "failure"
    assert traj.steps[-1].actions == []


def test_a_failed_check_names_the_step(episode_on):
    step = Decision(actions=[LeftClick(coordinate=(5, 5))], label="press", checks=[Check(text="never", timeout=0.2)])
    result = episode_on(_Policy([step])).run()
    assert result.status == "failure"
    assert result.reason.startswith("step 1 (press): check text 'never' failed within 0.2s")


def test_terminate_success_is_verified_by_the_task_check(episode_on):
    done = Decision(actions=[Terminate(status="success")])
    task = Task(instruction="t", success=Check(selector="#nothing-like-this", timeout=0.2))
    result = episode_on(_Policy([done]), task=task).run()
    assert result.status == "failure"
    assert result.reason.startswith("false success: the model declared success; the success check saw check selector")
    assert result.declared is not None and result.declared.status == "success" and not result.verified[0].passed


def test_a_model_that_asks_for_help_ends_the_episode_saying_so(episode_on, tmp_path):
    # UI-TARS's call_user(): no person is attached to this loop, so the episode ends with the model's request
    result = episode_on(_Policy([Decision(actions=[CallUser()])])).run()
    assert result.status == "failure" and result.ended_by == "asked-for-help"
    assert result.reason == "the model asked for help (call_user), and no person is attached"
    (step,) = load_trajectory(tmp_path / "t").steps
    assert step.actions == [{"action": "call_user"}] and step.results[0].ok  # not sent to the computer


def test_a_failed_action_is_fed_back_not_fatal(episode_on, tmp_path):
    outside = Decision(actions=[LeftClick(coordinate=(9999, 5)), LeftClick(coordinate=(5, 5))])
    result = episode_on(_Policy([outside, Decision(actions=[Terminate(status="success")])])).run()
    assert result.status == "unverified"  # the task has no check: its word only
    first = load_trajectory(tmp_path / "t").steps[0]
    assert [r.ok for r in first.results] == [False, False]
    assert first.results[1].message == "skipped: an earlier action of this step failed"


def test_a_crashed_browser_ends_the_episode_as_an_error_with_a_readable_trajectory(episode_on, tmp_path):
    class CrashAfterTwo(_Policy):
        def decide(self, context):
            if context.step == 2:
                assert kill_descendants_named("chromium") > 0  # Chromium dies under the episode
            return Decision(actions=[LeftClick(coordinate=(5, 5))])

    episode = episode_on(CrashAfterTwo([]))
    result = episode.run()
    assert result.status == "error" and result.reason.startswith("env: the browser is gone")  # not the task failing
    traj = load_trajectory(tmp_path / "t")
    assert traj.problems == [] and len(traj.steps) == 3 and traj.meta.outcome == "error"
    last = traj.steps[-1].results[-1]  # the click Chromium died under is not shown as done
    assert not last.ok and last.message.startswith("env: the browser is gone")


def test_frames_painted_during_an_action_reach_the_buffer_and_the_trajectory(tmp_path, pages_url):
    from PIL import Image

    env = BrowserEnv(BrowserConfig(sample_fps=4))
    env.reset(pages_url + "/animate.html")
    seen = {}

    class Watch(_Policy):
        def decide(self, context):
            seen[context.step] = [o.t for o in context.recent_frames]
            return super().decide(context)

    steps = [Decision(actions=[LeftClick(coordinate=(100, 30))], checks=[Check(text="Done", timeout=3)]),
             Decision(actions=[Terminate(status="success")])]
    writer = TrajectoryWriter.create(tmp_path / "t", TrajectoryMeta(task="animate"))
    episode = Episode(env, Watch(steps), Task(instruction="animate"), writer)
    try:
        assert episode.run().status == "unverified"
    finally:
        episode.close()
        env.close()
    first = load_trajectory(tmp_path / "t").steps[0]
    times = [f["t"] for f in first.context_frames]
    assert len(times) >= 3 and times == sorted(times)
    assert first.t < times[0] and times[-1] <= first.t_end  # painted during the step's action and check
    images = [Image.open(tmp_path / "t" / f["frame"]) for f in first.context_frames]
    assert all(i.format == "JPEG" and i.size == (1280, 800) for i in images)
    assert len({i.tobytes() for i in images}) >= 3  # the animation, not one frame repeated
    assert set(times) <= set(seen[1])  # the policy's next decision sees them

    # a resumed episode's buffer holds them again (the model's clip of the past is not empty)
    from guiagent.agent.runner import _preload_frames

    resumed = Episode(BrowserEnv(BrowserConfig()), _Policy([]), Task(instruction="animate"), TrajectoryWriter.open(tmp_path / "t"))
    _preload_frames(resumed, load_trajectory(tmp_path / "t"))
    preloaded = resumed.frames.recent()
    assert [o.t for o in preloaded if o.image_format == "jpeg"] == times
    assert all(o.geometry.width == 1280 for o in preloaded)
    resumed.close()


def test_a_dead_browser_is_an_error_and_resume_reaches_success(tmp_path):
    from guiagent.agent.runner import resume_episode

    out = tmp_path / "run"

    def kill_chromium(record, max_steps):
        if record.index == 13:  # after "save": the settings are on the server, the page at /settings
            assert kill_descendants_named("chromium") > 0

    result = start_episode(RunSpec(policy=ScriptPolicySpec(script=str(demo_script_path())), demo_site=True), out,
                                   on_step=kill_chromium)
    assert result.status == "error" and result.reason is not None and result.reason.startswith("env: "), result.reason
    assert load_trajectory(out).meta.outcome == "error"
    resumed = resume_episode(out)  # a fresh Chromium, the page rebuilt by replaying the 14 recorded steps
    assert resumed.status == "success", resumed.reason
    traj = load_trajectory(out)
    assert [s.index for s in traj.steps] == list(range(25)) and traj.problems == []
    assert [(s.first_step, s.after) for s in traj.meta.segments] == [(0, None), (14, "error")]


def test_a_script_step_the_browser_died_under_is_taken_again_on_resume(tmp_path, monkeypatch):
    from guiagent.agent.runner import resume_episode
    from guiagent.policies.script import ScriptPolicy

    out, decide, killed = tmp_path / "run", ScriptPolicy.decide, []

    def dies_during_open_terms(self, context):  # the real script; Chromium killed between decide and act
        if context.step == 14 and not killed:
            killed.append(kill_descendants_named("chromium"))
        return decide(self, context)

    monkeypatch.setattr(ScriptPolicy, "decide", dies_during_open_terms)
    result = start_episode(RunSpec(policy=ScriptPolicySpec(script=str(demo_script_path())), demo_site=True), out)
    assert result.status == "error" and killed[0] > 0, result.reason
    faulted = load_trajectory(out).steps[-1]
    assert faulted.index == 14 and faulted.label == "open terms" and faulted.results[-1].message.startswith("env: ")
    resumed = resume_episode(out)  # rebuilt by replay (the faulted step ran nothing): "open terms" again, not the step after it
    assert resumed.status == "success", resumed.reason
    traj = load_trajectory(out)
    assert [s.index for s in traj.steps] == list(range(26)) and traj.steps[15].label == "open terms"
    assert [(s.first_step, s.after) for s in traj.meta.segments] == [(0, None), (15, "error")]


def test_a_model_server_that_is_down_is_an_error_and_the_episode_goes_on_when_it_is_back(episode_on, tmp_path):
    from guiagent.policies import PolicyUnavailable

    ok = Decision(actions=[LeftClick(coordinate=(5, 5))])
    down = PolicyUnavailable("cannot reach the model server at http://127.0.0.1:1 (is it running?)")
    first = episode_on(_Policy([ok, down]))
    result = first.run()
    assert result.status == "error" and result.reason == f"model-server: {down}"  # not the task failing
    first.close()
    traj = load_trajectory(tmp_path / "t")
    assert traj.meta.outcome == "error" and len(traj.steps) == 2

    env = BrowserEnv(BrowserConfig())
    env.reset()
    back = Episode(env, _Policy([ok, ok, Decision(actions=[Terminate(status="success")])]), Task(instruction="test"),
                   TrajectoryWriter.open(tmp_path / "t"))
    try:
        assert back.resume(traj.steps).status == "unverified"
    finally:
        back.close()
        env.close()
    assert [s.index for s in load_trajectory(tmp_path / "t").steps] == [0, 1, 2]


def test_checkpoint_bytes_per_step_do_not_grow_with_the_episode(episode_on, tmp_path):
    from bench.step_cpu import checkpoint_bytes_per_step

    said = "I move the pointer a little to the right, as the task asks. " * 4  # a history that would grow
    moves = [Decision(thought=said, actions=[LeftClick(coordinate=(5 + k % 50, 5))]) for k in range(62)]
    result = episode_on(_Policy(moves), LoopConfig(max_steps=61)).run()
    assert result.steps == 61
    per_step = checkpoint_bytes_per_step(tmp_path / "t" / CHECKPOINT_FILE)
    assert len(per_step) >= 61
    # the state holds no history: the same at 10 and 59 (60, the last, also holds how the episode ended)
    assert abs(per_step[59] - per_step[10]) < 200, per_step


def test_a_resumed_episode_gives_the_policy_the_same_history_rebuilt_from_steps_jsonl(episode_on, tmp_path, pages_url):
    seen = {}

    class Crashes(_Policy):
        crash: bool  # set on each instance before it decides

        def decide(self, context):
            seen.setdefault(context.step, [h.model_dump() for h in context.history])
            if context.step == 3 and self.crash:
                raise RuntimeError("the process dies here")
            return super().decide(context)

    moves = [Decision(thought=f"move {k}", raw=f"raw {k}", actions=[LeftClick(coordinate=(5 + k, 5))]) for k in range(6)]
    first = Crashes(moves)
    first.crash = True
    episode = episode_on(first, LoopConfig(max_steps=5))
    with pytest.raises(RuntimeError):
        episode.run()
    episode.close()
    before = seen.pop(3)
    again = Crashes(moves)
    again.crash = False
    env = BrowserEnv(BrowserConfig())
    env.reset(pages_url + "/pad.html")
    resumed = Episode(env, again, Task(instruction="test"), TrajectoryWriter.open(tmp_path / "t"), LoopConfig(max_steps=5))
    resumed.load_history(load_trajectory(tmp_path / "t").steps)
    try:
        assert resumed.resume().steps == 5
    finally:
        resumed.close()
        env.close()
    assert seen[3] == before and [h["thought"] for h in before] == ["move 0", "move 1", "move 2"]
    assert [h["index"] for h in seen[4]] == [0, 1, 2, 3]
