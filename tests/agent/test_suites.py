"""Task files and the bundled suites: what they hold, and one clear sentence for a bad file."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from guiagent.agent.suites import SuiteError, load_suite, load_suite_file
from guiagent.agent.suites.miniwob import ORACLES, miniwob_task_names


def test_bundled_demo_suite_has_ten_short_tasks_each_with_its_script_and_check():
    suite = load_suite("demo")
    assert len(suite.tasks) == 10 and len({t.id for t in suite.tasks}) == 10
    for task in suite.tasks:
        assert task.site == "demo" and task.success is not None and task.instruction
        assert task.script and Path(task.script).is_file() and task.env == "browser"
        assert task.episode_seeds() == [0]


def test_bundled_desktop_suite_launches_the_tk_app_per_episode():
    suite = load_suite("desktop")
    assert [t.id for t in suite.tasks] == ["fill-form", "drag-and-save", "save"]
    for task in suite.tasks:
        assert task.env == "desktop" and task.start.app is not None and "{episode}" in task.start.app
        assert task.success is not None and task.success.window


def test_miniwob_suite_reads_the_package_and_lets_the_page_score():
    names = miniwob_task_names()
    assert len(names) > 100 and {"click-button", "click-link", "enter-text"} <= set(names)
    suite = load_suite("miniwob")
    assert [t.id for t in suite.tasks] == list(names)
    task = next(t for t in suite.tasks if t.id == "click-button")
    assert task.start.url == "/miniwob/click-button.html" and task.site == "miniwob"
    assert task.reward is not None and task.reward.setup is not None
    assert task.reward.instruction == "core.getUtterance()" and "Math.seedrandom({seed})" in task.reward.setup
    assert sum(t.oracle is not None for t in suite.tasks) == len(ORACLES)


def test_yaml_task_file_with_defaults_seeds_and_a_relative_script(tmp_path):
    (tmp_path / "s.yaml").write_text("steps: [{action: terminate, status: success}]\n")
    (tmp_path / "suite.yaml").write_text(
        "suite: mine\ndefaults: {max_steps: 4, tags: [x]}\ntasks:\n"
        "  - {id: a, instruction: Do A, start: {url: 'http://127.0.0.1:1/'}, script: s.yaml, seeds: [3, 5]}\n"
        "  - {id: b, instruction: Do B, start: {url: 'http://127.0.0.1:1/'}, repeats: 2, max_steps: 9}\n")
    suite = load_suite(str(tmp_path / "suite.yaml"))
    a, b = suite.tasks
    assert suite.name == "mine" and a.max_steps == 4 and b.max_steps == 9 and a.tags == ["x"]
    assert a.episode_seeds() == [3, 5] and b.episode_seeds() == [0, 1]
    assert a.script == str((tmp_path / "s.yaml").resolve())


def test_jsonl_task_file(tmp_path):
    path = tmp_path / "tasks.jsonl"
    path.write_text("\n".join(json.dumps({"id": f"t{i}", "instruction": "x", "start": {"url": "http://127.0.0.1:1/"}})
                              for i in range(3)) + "\n")
    assert [t.id for t in load_suite_file(path).tasks] == ["t0", "t1", "t2"]


@pytest.mark.parametrize("content, message", [
    ("tasks: [{id: a, start: {url: /x}}]", "task 1 (a): a task needs an instruction"),
    ("tasks: [{id: a, instruction: x, start: {url: /x}}, {id: a, instruction: y, start: {url: /y}}]",
     "task 2 (a): the id 'a' is used twice"),
    ("tasks: [{id: a, instruction: x, start: {url: /x}, colour: red}]", "task 1 (a): colour: Extra inputs"),
    ("tasks: [{id: a, instruction: x, start: {}}]", "task 1 (a): start: give exactly one of url and app"),
    ("tasks: [{id: a, instruction: x, start: {url: /x}, script: nowhere.yaml}]", "script 'nowhere.yaml' not found"),
    ("tasks: [{id: 'a b', instruction: x, start: {url: /x}}]", "task 1 (a b): id: String should match pattern"),
    ("tasks: {a: 1}", "expected a mapping with a 'tasks' list"),
    ("tasks: [a: b: c", "not valid YAML"),
])
def test_a_bad_task_file_gets_one_sentence(tmp_path, content, message):
    path = tmp_path / "bad.yaml"
    path.write_text(content)
    with pytest.raises(SuiteError) as info:
        load_suite_file(path)
    assert message in str(info.value) and "\n" not in str(info.value)


def test_cli_refuses_a_bad_suite_with_exit_2_and_no_traceback(tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "a", "instruction": "x", "start": {"url": "/x"}}\nnot json\n')
    for args in ([str(bad)], ["demo", "--tasks", "sign-in,nope"], ["nosuch"], ["miniwob", "--policy", "oracle"]):
        proc = subprocess.run([sys.executable, "-m", "guiagent.agent.cli", "batch", *args, "--out", str(tmp_path / "o")],
                              capture_output=True, text=True, timeout=120)
        assert proc.returncode == 2, proc.stderr
        assert proc.stderr.startswith("error: ") and "Traceback" not in proc.stderr
        assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr


def test_a_tasks_allow_and_block_lists_join_the_runs_url_policy(tmp_path):
    from guiagent.agent.batch.episode import task_spec
    from guiagent.agent.batch.plan import BatchSettings, EpisodeJob
    from guiagent.agent.runner import RunSpec
    from guiagent.agent.spec import BrowserEnvSpec
    from guiagent.tools.urlpolicy import UrlPolicy

    (tmp_path / "suite.yaml").write_text(
        "tasks:\n  - {id: a, instruction: Do A, start: {url: 'https://shop.test/'}, allow: ['*.shop.test', shop.test],"
        " block: [pay.shop.test]}\n")
    task = load_suite(str(tmp_path / "suite.yaml")).tasks[0]
    base = RunSpec(env=BrowserEnvSpec(url_policy=UrlPolicy(block=["evil.test"])))
    job = EpisodeJob(key="a/0", task=task, seed=0, settings=BatchSettings(root=str(tmp_path), spec=base))
    env = task_spec(job, "https://shop.test/", None).env
    assert isinstance(env, BrowserEnvSpec)
    policy = env.url_policy
    assert policy is not None
    assert policy.allow == ["*.shop.test", "shop.test"] and policy.block == ["evil.test", "pay.shop.test"]
    assert policy.check_url("https://www.shop.test/cart")
    assert not policy.check_url("https://pay.shop.test/") and not policy.check_url("https://other.test/")
