"""The live view in a real Chromium (Playwright) as the viewer: a running demo episode's screen updates, a pending
action is approved, a person takes over, types into the sign-in form, hands back, and the run ends in success with
human steps that replay strictly; a batch page shows a running episode and a failed one's reason; the server
refuses requests without its token and listens on nothing else."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psutil
import pytest
import yaml
from playwright.sync_api import Browser, Page, expect, sync_playwright

from guiagent.agent.export import ExportOptions, build_samples
from guiagent.agent.loop import LoopConfig
from guiagent.agent.outside import OutsideRun
from guiagent.agent.report import render_html
from guiagent.agent.runner import RunSpec, start_episode
from guiagent.agent.spec import ScriptPolicySpec
from guiagent.agent.trajectory import load_trajectory
from guiagent.envs.chromium import find_chromium
from guiagent.policies import DecisionSource
from guiagent.policies.external import ExternalPolicy
from guiagent.tools import Check
from tests.model.server import ROOT

CLI = [sys.executable, "-m", "guiagent.agent.cli"]
# Signs in; the person types the password (steps 3-4), so the script's own third step is the sign-in click.
SCRIPT = {
    "task": "Sign in as demo / demo", "start_url": "/login",
    "steps": [
        {"action": "left_click", "coordinate": [640, 220], "expect": {"js": "document.activeElement.id === 'user'", "timeout": 2}},
        {"action": "type", "text": "demo"},
        {"action": "left_click", "coordinate": [640, 362], "expect": {"url": "/list$"}},
        {"action": "terminate", "status": "success"},
    ],
}
WAIT_MS = 60_000


@pytest.fixture(scope="module")
def viewer() -> Iterator[Browser]:
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=find_chromium(None), headless=True)
        yield browser
        browser.close()


def read_url(proc: subprocess.Popen) -> str:
    """The view's URL, from the one line the command prints for it on stderr."""
    assert proc.stderr is not None
    for line in proc.stderr:
        if m := re.search(r"live view: (http://\S+)", line):
            return m.group(1)
    raise AssertionError(f"no live view URL; exit {proc.wait()}")


def status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=30) as r:
            return r.status
    except urllib.error.HTTPError as exc:
        return exc.code


def check_refusals_and_sockets(url: str, pid: int, alone: bool = True) -> None:
    """No token or a wrong one is refused; the process listens on the view's port on 127.0.0.1 (``alone``: on no
    other; else its other listeners, the run's demo site and URL guard, are on 127.0.0.1 too)."""
    base, token = url.split("?token=")
    port = int(re.search(r":(\d+)/", base)[1])  # type: ignore[index]
    assert status(base) == status(f"{base}state") == status(f"{base}state?token=x{token}") == 403
    assert status(f"{base}state?token={token}") == 200
    listening = [c.laddr for c in psutil.Process(pid).net_connections(kind="all") if c.status == psutil.CONN_LISTEN]
    assert port in [a.port for a in listening]
    assert all(a.ip == "127.0.0.1" for a in listening) and (len(listening) == 1 or not alone), listening


def click_screen(page: Page, x: int, y: int) -> None:
    """Click the shown screen at pixel (x, y) of the frame."""
    box = page.locator("#screen").bounding_box()
    natural = page.evaluate("[document.getElementById('screen').naturalWidth, document.getElementById('screen').naturalHeight]")
    assert box is not None
    page.mouse.click(box["x"] + x * box["width"] / natural[0], box["y"] + y * box["height"] / natural[1])


def test_a_person_approves_takes_over_and_hands_back(viewer: Browser, tmp_path: Path) -> None:
    script = tmp_path / "sign-in.yaml"
    script.write_text(yaml.safe_dump(SCRIPT))
    out = tmp_path / "run"
    proc = subprocess.Popen([*CLI, "run", "--script", str(script), "--demo-site", "--live", "--approve", "text:demo",
                             "--success", "url:/list$", "--out", str(out)], cwd=ROOT, text=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        url = read_url(proc)
        check_refusals_and_sockets(url, proc.pid, alone=False)
        page = viewer.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(url)
        expect(page.locator("#approval")).to_be_visible(timeout=WAIT_MS)  # step 2 types "demo": a rule guards it
        expect(page.locator("#approval-text")).to_contain_text('type text="demo" (rule text:demo)')
        first = page.locator("#screen").get_attribute("src")
        page.click("#pause")  # the step after the approved one waits
        page.click("#approve")
        expect(page.locator(".step")).to_have_count(2, timeout=WAIT_MS)
        expect(page.locator("#screen")).not_to_have_attribute("src", first or "", timeout=WAIT_MS)  # the screen moved on
        page.click("#takeover")
        expect(page.locator("#mode")).to_contain_text("your turn", timeout=WAIT_MS)
        click_screen(page, 640, 290)  # the password field
        expect(page.locator(".step")).to_have_count(3, timeout=WAIT_MS)
        page.fill("#typed", "demo")
        page.click("#type-send")
        expect(page.locator(".step")).to_have_count(4, timeout=WAIT_MS)
        if shots := os.environ.get("GUIAGENT_SCREENSHOTS"):  # the README's picture: make it with this test
            page.screenshot(path=str(Path(shots) / "live-view.png"))
        page.click("#resume")
        page.click("#handback")
        expect(page.locator("#outcome")).to_have_text("success", timeout=WAIT_MS)
        assert proc.wait(timeout=120) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
    traj = load_trajectory(out)
    assert [s.source for s in traj.steps] == ["script", "script", "human", "human", "script", "script"]
    assert traj.steps[1].approval is not None and traj.steps[1].approval["approved"]
    (click,) = traj.steps[2].actions  # where the person clicked on the scaled-down screen, in the page's pixels
    assert click["action"] == "left_click" and abs(click["coordinate"][0] - 640) <= 2 and abs(click["coordinate"][1] - 290) <= 2
    assert traj.meta.outcome == "success"
    assert render_html(traj, out).count("<dt>decided by</dt><dd>human</dd>") == 2  # the report says who decided
    replay = subprocess.run([*CLI, "replay", str(out), "--mode", "strict", "--out", str(tmp_path / "replayed")],
                            capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert replay.returncode == 0, replay.stdout + replay.stderr
    by_mode = {mode: build_samples([out], ExportOptions(human=mode))[0] for mode in ("keep", "drop", "corrections")}
    assert [s.decided_by for s in by_mode["keep"]] == [s.source for s in traj.steps]
    assert [s.step for s in by_mode["drop"]] == [0, 1, 4, 5]
    corrections = by_mode["corrections"]  # the person's steps, each after the script's episode up to the takeover
    assert [(s.step, s.decided_by) for s in corrections] == [(2, "human"), (3, "human")]
    assert [t.role for t in corrections[0].turns].count("assistant") == 3 and corrections[0].turns[-1].loss


def test_a_batch_page_shows_running_episodes_and_failures(viewer: Browser, tmp_path: Path) -> None:
    root = tmp_path / "batch"
    (root / "episodes").mkdir(parents=True)
    (root / "results.jsonl").touch()
    spec = RunSpec(policy=ScriptPolicySpec(script=str(ROOT / "agent/demo/demo_task.yaml")), demo_site=True,
                   loop=LoopConfig(max_steps=1), success=Check.model_validate({"url": "/nowhere$", "timeout": 0.1}))
    with ThreadPoolExecutor(1) as pool:  # off this thread, which holds the viewer's Playwright
        failed = pool.submit(start_episode, spec, root / "episodes" / "failed").result()
    assert failed.status == "failure"
    running = OutsideRun(RunSpec(demo_site=True, task="look", start_url="/login"), root / "episodes" / "running",
                         ExternalPolicy(DecisionSource.HUMAN), {})
    running.start()
    proc = subprocess.Popen([*CLI, "watch", str(root)], cwd=ROOT, text=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        url = read_url(proc)
        check_refusals_and_sockets(url, proc.pid)
        page = viewer.new_page()
        page.goto(url)
        rows = page.locator("#episodes tbody tr")
        expect(rows).to_have_count(2, timeout=WAIT_MS)
        expect(page.locator("tr[data-episode='running'] .outcome")).to_contain_text("running")
        expect(page.locator("tr[data-episode='running'] img")).to_be_visible()
        expect(page.locator("tr[data-episode='failed'] .reason")).to_contain_text(failed.reason or "?")
    finally:
        proc.terminate()
        proc.wait(timeout=60)
        running.close()
    shutil.rmtree(root)
