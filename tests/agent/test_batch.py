"""guiagent batch on the local process pool, with real Chromium: the demo suite end to end, a SIGKILLed
batch re-run (nothing finished redone, the interrupted episode resumed), retries and time limits."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import psutil
import pytest
from typer.testing import CliRunner

from guiagent.agent.batch.results import read_results
from guiagent.agent.cli import app

GATE_PAGE = b"<!doctype html><title>Gate</title><button style='position:absolute;left:100px;top:100px'>go</button>"
# A sync request, so the check can poll it: true once the test opens the gate.
GATE_OPEN = "(() => { const r = new XMLHttpRequest(); r.open('GET', '/flag', false); r.send(); return r.status === 200; })()"


class _Gate(BaseHTTPRequestHandler):
    opened = threading.Event()

    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_GET(self) -> None:  # noqa: N802
        ok = self.path == "/" or (self.path == "/flag" and self.opened.is_set())
        body = GATE_PAGE if self.path == "/" else b"ok"
        self.send_response(200 if ok else 404)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture
def gate_url():
    _Gate.opened.clear()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Gate)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def batch_cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "guiagent.agent.cli", "batch", *args]


def _lines(path: Path) -> int:
    return len(path.read_text().splitlines()) if path.exists() else 0


def _wait_for(condition, what: str, limit: float = 600) -> None:
    deadline = time.monotonic() + limit
    while not condition():
        assert time.monotonic() < deadline, f"gave up waiting for {what}"
        time.sleep(0.2)


def test_killed_batch_rerun_finishes_the_rest_without_redoing_anything(tmp_path, gate_url):
    # A task that records one step, then waits at a gate the test opens: the kill lands mid-episode.
    (tmp_path / "gate.yaml").write_text(
        f"steps:\n  - {{name: click, action: left_click, coordinate: [120, 110]}}\n"
        f"  - {{name: pass the gate, action: wait, time: 0.1, expect: {{js: \"{GATE_OPEN}\", timeout: 600}}}}\n"
        f"  - {{name: done, action: terminate, status: success}}\n")
    (tmp_path / "gate-suite.yaml").write_text(
        f"tasks:\n  - {{id: gate, instruction: Pass the gate., start: {{url: '{gate_url}/'}}, script: gate.yaml, "
        f"success: {{selector: button}}}}\n")
    out = tmp_path / "batch"
    first = subprocess.Popen(batch_cmd(str(tmp_path / "gate-suite.yaml"), "demo", "--workers", "2", "--out", str(out)),
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    gate_steps = out / "episodes" / "gate" / "seed-0" / "steps.jsonl"
    try:
        _wait_for(lambda: _lines(out / "results.jsonl") >= 3 and _lines(gate_steps) >= 1, "3 results and the gate's first step")
        tree = [psutil.Process(first.pid), *psutil.Process(first.pid).children(recursive=True)]
        first.send_signal(signal.SIGKILL)
        first.wait()
        _, alive = psutil.wait_procs(tree, timeout=60)
        assert not alive, f"left running after the batch was killed: {[p.name() for p in alive]}"
    finally:
        if first.poll() is None:
            first.kill()
    finished = read_results(out)
    assert len(finished) >= 3 and "gate/seed-0" not in finished
    before = {k: (out / r.trajectory / "meta.json").read_text() for k, r in finished.items()}
    gate_meta = json.loads((out / "episodes/gate/seed-0/meta.json").read_text())
    gate_first_step = gate_steps.read_text().splitlines()[0]

    _Gate.opened.set()
    proc = subprocess.run(batch_cmd(str(tmp_path / "gate-suite.yaml"), "demo", "--workers", "3", "--out", str(out)),
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    rows = read_results(out)
    assert len(rows) == 11 and all(r.outcome == "success" for r in rows.values()), rows
    assert _lines(out / "results.jsonl") == 11  # compact: one line per episode
    for key, meta in before.items():  # finished episodes were not run again
        assert (out / rows[key].trajectory / "meta.json").read_text() == meta
    # the interrupted one was resumed in place: same start, its recorded step kept, the rest appended
    resumed = json.loads((out / "episodes/gate/seed-0/meta.json").read_text())
    assert resumed["started_at"] == gate_meta["started_at"] and resumed["outcome"] == "success"
    steps = gate_steps.read_text().splitlines()
    assert steps[0] == gate_first_step and [json.loads(s)["index"] for s in steps] == [0, 1, 2]
    summary = json.loads((out / "summary.json").read_text())
    assert summary["success"] == 11 and summary["not_run"] == 0 and summary["success_rate"] == 1.0
    index = (out / "index.html").read_text()
    for row in rows.values():
        assert f"{row.trajectory}/report.html" in index
        assert (out / row.trajectory / "steps.jsonl").exists() and not (out / row.trajectory).name.endswith("retry1")
    # view and export read the batch folder: every episode's report, every successful episode's steps
    viewed = CliRunner().invoke(app, ["view", str(out)])
    assert viewed.exit_code == 0 and all((out / r.trajectory / "report.html").is_file() for r in rows.values())
    exported = CliRunner().invoke(app, ["export", str(out), "--only-success", "-o", str(tmp_path / "sft")])
    assert exported.exit_code == 0 and json.loads((tmp_path / "sft" / "data.json").read_text()), exported.output
    # and a third run finds nothing to do
    again = subprocess.run(batch_cmd(str(tmp_path / "gate-suite.yaml"), "demo", "--out", str(out)),
                           capture_output=True, text=True, timeout=300)
    assert again.returncode == 0 and "11 of 11 episodes already finished" in again.stderr


def test_infrastructure_errors_are_retried_and_time_limits_kill_the_episode(tmp_path, gate_url):
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{sock.getsockname()[1]}/"
    (tmp_path / "wait.yaml").write_text("steps:\n  - {action: wait, time: 300}\n  - {action: terminate, status: success}\n")
    (tmp_path / "faults.jsonl").write_text(
        json.dumps({"id": "unreachable", "instruction": "x", "start": {"url": closed}, "script": "wait.yaml"}) + "\n"
        + json.dumps({"id": "slow", "instruction": "x", "start": {"url": gate_url + "/"}, "script": "wait.yaml"}) + "\n")
    out = tmp_path / "batch"
    proc = subprocess.run(batch_cmd(str(tmp_path / "faults.jsonl"), "--workers", "2", "--retries", "1",
                                    "--episode-timeout", "30", "--out", str(out)),
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 1, proc.stdout + proc.stderr  # one episode could not run
    rows = read_results(out)
    unreachable, slow = rows["unreachable/seed-0"], rows["slow/seed-0"]
    assert unreachable.outcome == "error" and unreachable.reason is not None
    assert f"could not open {closed}" in unreachable.reason
    assert unreachable.attempt == 1 and unreachable.trajectory == "episodes/unreachable/seed-0.retry1"
    assert slow.outcome == "failure" and slow.reason is not None and "wall-clock limit of 30s" in slow.reason
    assert slow.attempt == 0
    meta = json.loads((out / slow.trajectory / "meta.json").read_text())
    assert meta["outcome"] == "failure" and "wall-clock" in meta["reason"]
    assert "1 could not run" in proc.stdout


def test_a_shared_browser_gives_each_episode_a_fresh_context(pages_url, tmp_path):
    from guiagent.envs.browser import BrowserConfig, BrowserEnv, SharedBrowser

    with SharedBrowser() as shared:
        seen = []
        for _ in range(2):
            env = BrowserEnv(BrowserConfig(downloads_dir=str(tmp_path)), shared=shared)
            env.reset(pages_url + "/pad.html")
            seen.append((env.evaluate("document.cookie"), env.evaluate("localStorage.getItem('k')")))
            env.evaluate("document.cookie = 'k=1'; localStorage.setItem('k', '1')")
            env.close()
            assert shared.alive  # closing the episode's env leaves the worker's browser running
        assert seen == [("", None), ("", None)]


def test_desktop_suite_episodes_get_their_own_xvfb_and_app(tmp_path):
    from guiagent.agent.batch import run_from_cli
    from guiagent.agent.runner import RunSpec
    from guiagent.agent.spec import ScriptPolicySpec

    report = run_from_cli(["desktop"], tmp_path / "out", RunSpec(policy=ScriptPolicySpec()), workers=2,
                                                                 tasks="drag-and-save,save")
    assert report.all_ran and [r.outcome for r in report.rows] == ["success", "success"], report.rows
    for row in report.rows:  # each app kept its state in its own episode folder, from the task's initial state
        state = json.loads((tmp_path / "out" / row.trajectory / "desktop-state.json").read_text())
        assert state["name"] == "naïve café" and state["square_on_target"] and "complete" in state["title"]


def test_a_shared_browsers_context_keeps_its_own_url_policy(tmp_path):
    """A worker's browser is shared, the URL policy is not: each context goes through its episode's
    guard, and the security suite's bypass vectors reach no blocked host through it either."""
    from guiagent.envs.browser import BrowserConfig, BrowserEnv, SharedBrowser
    from guiagent.tools.urlpolicy import UrlPolicy
    from tests.security.attacker import AttackerSite
    from tests.security.test_bypass import _run, vectors

    hosts = {"allowed.test": "127.0.0.1", "evil.test": "127.0.0.1", "localhost": "127.0.0.1"}
    with AttackerSite() as site, SharedBrowser() as shared:
        config = BrowserConfig(url_policy=UrlPolicy(allow=["allowed.test", "localhost"]), hosts=hosts,
                               settle_timeout_s=8, downloads_dir=str(tmp_path))
        found = {}
        for name, steps in vectors(site).items():
            env = BrowserEnv(config, shared=shared)  # a fresh context (and guard) per vector, as per episode
            try:
                env.reset(site.allowed + "/")
                site.take_log()
                messages = _run(env, steps)
                bypasses = site.bypasses(site.take_log(), {f"allowed.test:{site.port}", f"localhost:{site.port}"})
                if bypasses:
                    found[name] = bypasses + messages
            finally:
                env.close()
        assert not found, found
