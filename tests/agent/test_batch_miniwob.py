"""MiniWoB++ through the suite: the page's own reward decides, a DOM oracle reaches 1.0, and Ray
(a local cluster started here) gives the same results rows as the local pool."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from guiagent.agent.batch import run_from_cli
from guiagent.agent.batch.results import batch_trajectories, read_results
from guiagent.agent.runner import RunSpec
from guiagent.agent.spec import OraclePolicySpec, ScriptPolicySpec

ORACLE_TASKS = "click-test,click-button,click-link,click-dialog,focus-text,enter-text"


def _same(rows):
    return {k: (r.outcome, r.reward, r.steps, r.attempt, r.trajectory) for k, r in rows.items()}


def test_a_dom_oracle_scores_1_on_miniwob_and_ray_gives_the_same_rows(tmp_path):
    local = run_from_cli(["miniwob"], tmp_path / "local", RunSpec(policy=OraclePolicySpec()), workers=2,
                         tasks=ORACLE_TASKS, seeds="0,1", recycle_after=3)  # each worker replaced after 3
    assert local.all_ran and local.summary["success"] == 12
    assert all(r.attempt == 0 for r in local.rows)  # recycling a worker costs no episode a retry
    rows = read_results(tmp_path / "local")
    assert len(rows) == 12 and {r.reward for r in rows.values()} == {1.0}
    for row in rows.values():
        meta = json.loads((tmp_path / "local" / row.trajectory / "meta.json").read_text())
        (reward,) = [v for v in meta["verified"] if v["kind"] == "reward"]  # the page's verdict, read before the outcome
        page = reward["check"]
        assert page["done"] and page["raw_reward"] == 1 and 0 < page["env_reward"] <= 1  # MiniWoB's own numbers
        assert reward["passed"] and meta["ended_by"] == "page" and meta["declared"] is None  # the page ended it
        assert meta["task"].startswith(("Click", "Close", "Focus", "Enter"))  # the page's own utterance
        steps = (tmp_path / "local" / row.trajectory / "steps.jsonl").read_text().splitlines()
        assert json.loads(steps[-1])["label"] == "the page ended the episode"
    # the seed decides the page: two seeds of click-button ask for what their generator picked
    tasks = {json.loads((tmp_path / "local" / rows[f"click-link/seed-{s}"].trajectory / "meta.json").read_text())["task"]
             for s in (0, 1)}
    assert len(tasks) == 2

    ray = pytest.importorskip("ray")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, resources={"browser": 2})
    try:
        remote = run_from_cli(["miniwob"], tmp_path / "ray", RunSpec(policy=OraclePolicySpec()), workers=2,
                              tasks=ORACLE_TASKS, seeds="0,1", engine="ray")
    finally:
        ray.shutdown()
    assert remote.all_ran and _same(read_results(tmp_path / "ray")) == _same(rows)
    for key, row in read_results(tmp_path / "ray").items():  # the same pages, seeded alike
        meta = json.loads((tmp_path / "ray" / row.trajectory / "meta.json").read_text())
        assert meta["task"] == json.loads((tmp_path / "local" / rows[key].trajectory / "meta.json").read_text())["task"]


def test_a_wrong_answer_gets_the_pages_negative_reward(tmp_path):
    # a script that clicks where no button is, then types: the page ends enter-text with -1 on submit
    (tmp_path / "wrong.yaml").write_text(
        "steps:\n  - {action: left_click, coordinate: [60, 80]}\n  - {action: type, text: nobody}\n"
        "  - {action: key, keys: [Return]}\n  - {action: terminate, status: success}\n")
    (tmp_path / "suite.yaml").write_text(
        "tasks:\n  - id: enter-text\n    site: miniwob\n    start: {url: /miniwob/enter-text.html}\n"
        "    script: wrong.yaml\n    max_steps: 5\n"
        "    reward: {setup: 'Math.seedrandom({seed}); core.startEpisodeReal();', instruction: core.getUtterance(),"
        " done: WOB_DONE_GLOBAL, reward: WOB_RAW_REWARD_GLOBAL}\n")
    report = run_from_cli([str(tmp_path / "suite.yaml")], tmp_path / "out", RunSpec(policy=ScriptPolicySpec()),
                                                                                    workers=1)
    row = report.rows[0]
    # the script says success, the page did not end the episode with a reward above 0: it is a failure
    assert row.outcome == "failure" and row.reward == 0.0 and row.reason is not None
    assert row.reason.startswith("false success: the script declared success; the page's reward saw reward 0")
    assert batch_trajectories(tmp_path / "out") == [tmp_path / "out" / row.trajectory]
    assert batch_trajectories(tmp_path / "out", only_success=True) == []  # what export --only-success reads


class _Gate(BaseHTTPRequestHandler):
    """Answers the oracle's sync request only once the test opens it: the episode waits there, mid-way."""

    asked = threading.Event()
    opened = threading.Event()

    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_GET(self) -> None:  # noqa: N802
        _Gate.asked.set()
        _Gate.opened.wait(600)
        self.send_response(200)
        self.send_header("Access-Control-Allow-Origin", "*")
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")


# enter-text in two steps: click the field and type; then (past the gate) submit.
GATED_ORACLE = (
    "(() => { const c = e => { const r = e.getBoundingClientRect(); return [r.left + r.width / 2, r.top + r.height / 2]; };"
    " const q = core.getUtterance().match(/\"(.*)\"/)[1]; const tt = document.querySelector('#tt');"
    " if (tt.value !== q) return [{action: 'left_click', coordinate: c(tt)}, {action: 'type', text: q}];"
    " const r = new XMLHttpRequest(); r.open('GET', 'GATE/flag', false); r.send();"
    " return [{action: 'left_click', coordinate: c(document.querySelector('#subbtn'))}]; })()"
)


def test_a_miniwob_oracle_batch_killed_mid_episode_resumes_it_on_its_seed(tmp_path):
    import os
    import signal
    import subprocess
    import sys
    import time

    import psutil

    from guiagent.agent.suites.miniwob import oracle_js, page_reward
    from guiagent.agent.trajectory import load_trajectory

    server = ThreadingHTTPServer(("127.0.0.1", 0), _Gate)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    gate = f"http://127.0.0.1:{server.server_address[1]}"
    task = {"id": "enter-text", "start": {"url": "/miniwob/enter-text.html"}, "site": "miniwob", "max_steps": 6,
            "reward": page_reward().model_dump(), "seeds": [3], "oracle": GATED_ORACLE.replace("GATE", gate)}
    suite = tmp_path / "gated.yaml"
    other = {**task, "id": "click-test", "start": {"url": "/miniwob/click-test.html"}, "seeds": [0, 1],
             "oracle": oracle_js("click-test")}
    suite.write_text(json.dumps({"tasks": [task, other]}))  # JSON is YAML
    out = tmp_path / "batch"
    cmd = [sys.executable, "-m", "guiagent.agent.cli", "batch", str(suite), "--policy", "oracle", "--workers", "1",
           "--out", str(out)]
    try:
        first = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        steps = out / "episodes" / "enter-text" / "seed-3" / "steps.jsonl"
        deadline = time.monotonic() + 300
        while not (_Gate.asked.is_set() and steps.exists() and steps.read_text().count("\n") == 1):
            assert time.monotonic() < deadline and first.poll() is None, "the gated episode never reached its gate"
            time.sleep(0.05)
        tree = [psutil.Process(first.pid), *psutil.Process(first.pid).children(recursive=True)]
        os.killpg(first.pid, signal.SIGKILL)  # the batch, its worker and Chromium, mid-episode
        first.wait()
        psutil.wait_procs(tree, timeout=60)
        killed = load_trajectory(out / "episodes" / "enter-text" / "seed-3")
        assert killed.meta.outcome == "running" and len(killed.steps) == 1

        _Gate.opened.set()
        again = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
        assert again.returncode == 0, again.stdout + again.stderr
    finally:
        _Gate.opened.set()
        server.shutdown()
        server.server_close()
    rows = read_results(out)
    assert len(rows) == 3 and all(r.outcome == "success" and r.attempt == 0 for r in rows.values()), rows  # none started over
    resumed = load_trajectory(out / rows["enter-text/seed-3"].trajectory)
    assert resumed.meta.started_at == killed.meta.started_at and resumed.steps[0] == killed.steps[0]
    rebuilt = resumed.meta.segments[-1].rebuilt
    assert rebuilt is not None and rebuilt.verified and rebuilt.replayed == 1, rebuilt  # on its seed: the same page
    assert resumed.meta.task == killed.meta.task
    assert [v.reward for v in resumed.meta.verified if v.kind == "reward"] == [1.0]
