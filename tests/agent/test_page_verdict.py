"""A page task's outcome is never written before the page's verdict: a batch SIGKILLed while the reward is being read
leaves no outcome behind (nothing to take as finished), and the re-run ends with the page's verdict.

The page here ends itself when its button is clicked; its reward is read through a request the test's server holds
(from the third read on: the reads after the episode's last action) until the test has killed the batch. Before this
was fixed the loop wrote the policy's ``success`` first and the batch rewrote it with the reward afterwards: a kill in
between left a success with no reward, which the re-run took as finished and export --only-success exported."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import psutil
import pytest

from guiagent.agent.batch.results import read_results

PAGE = b"""<!doctype html><title>Press</title><button style='position:absolute;left:100px;top:100px'
onclick='window.DONE = true'>press</button>"""
READ_REWARD = "(() => { const r = new XMLHttpRequest(); r.open('GET', '/reward', false); r.send(); return Number(r.responseText); })()"
HELD_FROM = 3  # the reads of the reward after the last action (the final one decides the outcome)


class _Page(BaseHTTPRequestHandler):
    reads = 0
    holding = threading.Event()  # set once a read is being held
    release = threading.Event()

    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_GET(self) -> None:  # noqa: N802
        body = PAGE
        if self.path == "/reward":
            type(self).reads += 1
            if type(self).reads >= HELD_FROM and not self.release.is_set():
                self.holding.set()
                self.release.wait(600)
            body = b"1"
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture
def page_url():
    _Page.reads = 0
    _Page.holding.clear()
    _Page.release.clear()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Page)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    _Page.release.set()
    server.shutdown()
    server.server_close()


def test_a_batch_killed_while_the_reward_is_read_leaves_no_outcome_and_the_rerun_reads_it(tmp_path, page_url):
    (tmp_path / "press.yaml").write_text(
        "steps:\n  - {name: press, action: left_click, coordinate: [130, 112]}\n"
        "  - {name: done, action: terminate, status: success}\n")
    (tmp_path / "suite.yaml").write_text(
        f"tasks:\n  - id: press\n    instruction: Press the button.\n    start: {{url: '{page_url}/'}}\n"
        f"    script: press.yaml\n    max_steps: 4\n"
        f"    reward: {{done: 'window.DONE === true', reward: \"{READ_REWARD}\"}}\n")
    out = tmp_path / "batch"
    cmd = [sys.executable, "-m", "guiagent.agent.cli", "batch", str(tmp_path / "suite.yaml"), "--workers", "1",
           "--out", str(out)]
    first = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        assert _Page.holding.wait(600), "the reward was never read after the last action"
        tree = [psutil.Process(first.pid), *psutil.Process(first.pid).children(recursive=True)]
        first.send_signal(signal.SIGKILL)
        first.wait()
        psutil.wait_procs(tree, timeout=60)
    finally:
        if first.poll() is None:
            first.kill()
    meta = json.loads((out / "episodes" / "press" / "seed-0" / "meta.json").read_text())
    assert meta["outcome"] == "running" and meta["verified"] == []  # nothing written before the page's verdict
    assert read_results(out) == {}

    _Page.release.set()
    rerun = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    (row,) = read_results(out).values()
    assert row.outcome == "success" and row.reward == 1.0
    assert [(v.kind, v.passed) for v in row.verified] == [("reward", True)]
