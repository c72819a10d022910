"""Batches with a model: MiniWoB++ against the real vLLM server (tiny random model: the page's own
rewards are recorded, whatever they are), and several model servers, one of them dead."""

from __future__ import annotations

import json
import socket
import subprocess
import sys

from bench.load_server import LoadServer
from guiagent.agent.batch.results import read_results
from guiagent.agent.batch.router import ServerTable
from tests.model.server import MODEL_NAME


def batch_cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "guiagent.agent.cli", "batch", *args]


def _closed_port_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{sock.getsockname()[1]}/v1"


def test_vlm_batch_on_miniwob_records_the_pages_own_rewards(vllm_server, tmp_path):
    out = tmp_path / "batch"
    proc = subprocess.run(batch_cmd(
        "miniwob", "--tasks", "click-button,click-link", "--policy", "vlm", "--model-url", vllm_server.base_url,
        "--model", MODEL_NAME, "--constrained", "--max-steps", "2", "--max-pixels", str(256 * 28 * 28),
        "--history-seconds", "0", "--workers", "2", "--out", str(out)), capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stdout + proc.stderr  # every episode ran, whatever it scored
    rows = read_results(out)
    assert sorted(rows) == ["click-button/seed-0", "click-link/seed-0"]
    for row in rows.values():
        assert row.outcome in ("success", "failure") and 1 <= row.steps <= 2 and row.tokens > 0
        assert row.reward is not None and -1.0 <= row.reward <= 1.0
        meta = json.loads((out / row.trajectory / "meta.json").read_text())
        (reward,) = [v for v in meta["verified"] if v["kind"] == "reward"]
        assert reward["reward"] == row.reward and meta["policy"]["kind"] == "vlm"
        assert meta["policy"]["env"] == "browser"  # a page task is offered the browser's dialect
        assert (row.outcome == "success") == (row.reward > 0)  # the page's reward decides, not the model
        assert meta["task"].startswith("Click on the")  # the instruction is the page's own utterance
        first = json.loads((out / row.trajectory / "steps.jsonl").read_text().splitlines()[0])
        assert first["raw"] and first["usage"]["prompt_tokens"] > 0


def test_a_dead_model_server_is_taken_out_and_episodes_go_on_with_the_others(tmp_path):
    dead = _closed_port_url()
    out = tmp_path / "batch"
    with LoadServer(delay_s=0.05, action="move") as live:
        proc = subprocess.run(batch_cmd(
            "demo", "--tasks", "open-settings,add-item,dark-theme", "--policy", "vlm", "--model-url", dead,
            "--model-url", live.base_url, "--max-steps", "2", "--history-seconds", "0", "--workers", "2",
            "--out", str(out)), capture_output=True, text=True, timeout=600)
        served = live.requests
    assert proc.returncode == 0, proc.stdout + proc.stderr
    rows = read_results(out)
    assert len(rows) == 3 and all(r.outcome == "failure" and r.steps == 2 for r in rows.values()), rows
    servers = {json.loads(line)["policy_info"]["server"]
               for r in rows.values() for line in (out / r.trajectory / "steps.jsonl").read_text().splitlines()}
    assert servers == {live.base_url} and served >= 6


def test_the_least_busy_live_server_gets_the_next_request(tmp_path):
    table = ServerTable(tmp_path / "servers.json", ["a", "b", "c"])
    assert [table.acquire(set()) for _ in range(4)] == ["a", "b", "c", "a"]
    table.release("b")
    assert table.acquire(set()) == "b"
    table.release("c", down=True)  # stopped answering: out, whatever its load
    table.release("a")
    table.release("a")
    assert table.acquire(set()) == "a" and table.acquire({"a"}) == "b" and table.acquire({"a", "b"}) is None
    assert table.snapshot()["c"]["inflight"] == 0
