"""Every env passes the conformance check (envs/conformance.py), on the real thing: a Chromium through Playwright,
a Tk app on a bare private Xvfb, and a real app (mousepad) in a sandboxed session with a window manager. An env that lies about its frames fails it, each finding named."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from guiagent.envs.browser import BrowserConfig, BrowserEnv
from guiagent.envs.conformance import EnvNonconformance, check_env
from guiagent.envs.desktop import DesktopConfig, DesktopEnv
from guiagent.envs.desktop_session import WindowManager
from guiagent.envs.sandbox import SandboxConfig
from guiagent.tools import ActionResult, Check, Observation

PROBE = Path(__file__).resolve().parents[1] / "apps" / "probe_app.py"


@pytest.mark.parametrize("screencast", [False, True], ids=["browser", "browser-with-screencast"])
def test_the_browser_env_conforms(pages_url, tmp_path, screencast):
    config = BrowserConfig(downloads_dir=str(tmp_path), sample_fps=2.0 if screencast else 0.0)
    check_env(BrowserEnv(config), f"{pages_url}/targets.html")


def test_the_desktop_env_conforms(tmp_path):
    state = tmp_path / "state.json"
    config = DesktopConfig(xvfb="800x600x24", launch=f"{sys.executable} {PROBE} {state} Probe", window="^Probe$")
    check_env(DesktopEnv(config))


def test_the_real_app_desktop_conforms(tmp_path):
    """A desktop session as the apps suite runs it: openbox, the AT-SPI bus, the app sandboxed in its own HOME."""
    seed = tmp_path / "seed"
    seed.mkdir()
    (seed / "notes.txt").write_text("a line\n")
    config = DesktopConfig(xvfb="1024x768x24", launch="mousepad notes.txt", window="notes.txt", wm=WindowManager.OPENBOX,
                           a11y=True, sandbox=SandboxConfig(enabled=True), home=str(tmp_path / "home"),
                           home_seed=[str(seed)], launch_timeout_s=60)
    check_env(DesktopEnv(config))


class LyingBrowser(BrowserEnv):
    """A real browser whose frames claim another size and an old time, and whose checks always hold."""

    def observe(self) -> Observation:
        obs = super().observe()
        geometry = obs.geometry.model_copy(update={"width": obs.geometry.width + 1})
        return obs.model_copy(update={"geometry": geometry, "t": obs.t - 3600})

    def check(self, check: Check) -> ActionResult:
        return ActionResult.success("holds")


def test_an_env_that_lies_about_its_frames_fails_with_each_finding(pages_url, tmp_path):
    with pytest.raises(EnvNonconformance) as raised:
        check_env(LyingBrowser(BrowserConfig(downloads_dir=str(tmp_path))), f"{pages_url}/targets.html")
    said = " ".join(raised.value.findings)
    assert "the frame is 1280x800 but its geometry says 1281x800" in said, said
    assert "is not the absolute time of its capture" in said, said
    assert "says it holds on a fresh env (a check that cannot fail)" in said, said
    assert "observe() after close()" not in said, said  # closing is right: that part passes
