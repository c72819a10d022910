"""What we launch gets a minimal environment: read from /proc/PID/environ of the real processes (psutil)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import psutil
import pytest

from guiagent.envs.browser import BrowserConfig, BrowserEnv
from guiagent.envs.cleanenv import clean_environ

PROBE = Path(__file__).resolve().parents[1] / "apps" / "probe_app.py"
PLANTED = {
    "GUIAGENT_API_KEY": "sk-planted-key", "OPENAI_API_KEY": "sk-openai", "GITHUB_TOKEN": "ghp_planted",
    "AWS_SECRET_ACCESS_KEY": "x", "MY_DB_PASSWORD": "pw", "https_proxy": "http://user:pass@proxy:3128",
    "ALL_PROXY": "socks5://u:p@h:1", "OPTED_IN_TOKEN": "wanted",
}


def environ_of(pid: int) -> dict[str, str]:
    return psutil.Process(pid).environ()  # /proc/PID/environ, as the process holds it


def processes_with(marker: str) -> list[int]:
    """Every process whose command line (arguments joined by NUL) holds ``marker``."""
    pids = []
    for proc in psutil.process_iter():
        try:
            if marker in "\0".join(proc.cmdline()):
                pids.append(proc.pid)
        except psutil.Error:  # gone meanwhile, a zombie, or not ours to read
            continue
    return pids


def with_descendants(pids: list[int]) -> list[int]:
    found = set(pids)
    for pid in pids:
        try:
            found.update(child.pid for child in psutil.Process(pid).children(recursive=True))
        except psutil.NoSuchProcess:
            continue
    return sorted(found)


def assert_clean(env: dict[str, str]) -> None:
    leaked = sorted(k for k in env if k in PLANTED and k != "OPTED_IN_TOKEN")
    assert leaked == [], f"leaked into a launched process: {leaked}"
    assert not [k for k in env if k.startswith("GUIAGENT_")]
    # (Debian's chromium wrapper sets its own public GOOGLE_API_KEY from /etc/chromium.d: not ours.)
    ours = {v for k, v in PLANTED.items() if k != "OPTED_IN_TOKEN"}
    assert not [k for k, v in env.items() if v in ours]


@pytest.fixture
def planted(monkeypatch):
    for k, v in PLANTED.items():
        monkeypatch.setenv(k, v)


def test_chromium_processes_hold_no_key_token_or_proxy(planted) -> None:
    env = BrowserEnv(BrowserConfig(pass_env=["OPTED_IN_TOKEN"]))
    try:
        env.reset()
        assert env._guard is not None
        pids = with_descendants(processes_with(f"--proxy-server={env._guard.proxy_url}"))  # this env's Chromium
        assert len(pids) >= 2  # the browser and its children (renderer, GPU, utility)
        environs = [environ_of(pid) for pid in pids]
        for environ in environs:
            assert_clean(environ)
        # (Chromium's zygote children rewrite their environ area for their process titles: the browser has it.)
        assert any(e.get("OPTED_IN_TOKEN") == "wanted" and "PATH" in e for e in environs)
    finally:
        env.close()


def test_a_launched_desktop_app_holds_no_key_token_or_proxy(planted, tmp_path) -> None:
    from guiagent.envs.desktop import DesktopConfig, DesktopEnv

    marker = str(tmp_path / "probe-state.json")
    env = DesktopEnv(DesktopConfig(xvfb="640x480x24", launch=f"{sys.executable} {PROBE} {marker} Probe", window="^Probe$"))
    try:
        env.reset()
        [pid] = processes_with(marker)
        environ = environ_of(pid)
        assert_clean(environ)
        assert "OPTED_IN_TOKEN" not in environ and environ["DISPLAY"] == env.display
        [xvfb] = processes_with(f"Xvfb\0{env.display}")
        assert_clean(environ_of(xvfb))
    finally:
        env.close()


def test_the_allow_list_of_names() -> None:
    source = {"PATH": "/bin", "LC_ALL": "C", "GUIAGENT_CHROMIUM": "/x", "HTTP_PROXY": "h", "FOO": "bar", "X_TOKEN": "t"}
    assert clean_environ(source=source) == {"PATH": "/bin", "LC_ALL": "C"}
    assert clean_environ(["X_TOKEN", "MISSING"], source=source)["X_TOKEN"] == "t"
    assert os.environ.get("PATH")
