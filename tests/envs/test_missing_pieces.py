"""A missing piece is one sentence that names it (issue 21): the [desktop] extra, tkinter, and a binary that fails
to start (Chromium, Xvfb, an app) keeps the lines of its stderr that say why, with the command it was given."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from guiagent.envs import EnvError
from guiagent.envs.xvfb import Xvfb
from tests.model.server import ROOT

# The CLI in a Python where some modules cannot be imported, as in an install without them.
WITHOUT = """
import sys
for name in {hidden}:
    sys.modules[name] = None  # `import name` now raises ImportError, as where it is not installed
sys.argv = ["guiagent", *{args}]
from guiagent.agent.cli import main
main()
"""


def _guiagent_without(hidden: list[str], *args: str) -> subprocess.CompletedProcess:
    code = WITHOUT.format(hidden=json.dumps(hidden), args=json.dumps(list(args)))
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=ROOT)


def test_the_desktop_env_without_its_extra_names_the_extra(tmp_path) -> None:
    script = tmp_path / "s.yaml"
    script.write_text("task: t\nsteps:\n  - {action: terminate, status: success}\n")
    out = tmp_path / "run"
    proc = _guiagent_without(["mss"], "run", "--env", "desktop", "--xvfb", "640x480", "--script", str(script),
                             "--out", str(out))
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "pip install 'guiagent[desktop]'" in proc.stderr and "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1 and not out.exists()


def test_the_desktop_demo_without_tkinter_says_what_is_missing(tmp_path) -> None:
    out = tmp_path / "demo"
    proc = _guiagent_without(["tkinter"], "demo", "--env", "desktop", "--out", str(out))
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "needs tkinter" in proc.stderr and "python3-tk" in proc.stderr and "Traceback" not in proc.stderr
    assert not out.exists()


@pytest.fixture
def failing_binaries(tmp_path, monkeypatch):
    """Fakes at the boundary that cannot fail here on demand: an Xvfb and a Chromium that print why and exit."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name, lines, code in [
        ("Xvfb", ["_XSERVTransMakeAllCOTSServerListeners: server already running",
                  "(EE) Fatal server error:", "(EE) Cannot establish any listening sockets - Make sure an X server is not already running"], 1),
        ("chromium", ["[1:1:FATAL:zygote_host_impl_linux.cc(127)] No usable sandbox!", "some unrelated chatter"], 133),
    ]:
        echo = "".join(f"echo '{line}' >&2\n" for line in lines)
        (bin_dir / name).write_text(f"#!/bin/sh\n{echo}exit {code}\n")
        (bin_dir / name).chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:/usr/bin:/bin")
    return bin_dir


def test_xvfb_that_fails_keeps_the_lines_that_say_why(failing_binaries) -> None:
    with pytest.raises(EnvError) as info:
        Xvfb("640x480x24").start()
    message = str(info.value)
    assert message.startswith(f"Xvfb did not start: {failing_binaries / 'Xvfb'} :") and "-screen 0 640x480x24" in message
    assert "exited with code 1" in message and "Cannot establish any listening sockets" in message


def test_chromium_that_fails_keeps_the_lines_that_say_why(failing_binaries) -> None:
    from guiagent.envs.browser import BrowserEnv
    from guiagent.envs.browser_config import BrowserConfig

    env = BrowserEnv(BrowserConfig(executable_path=str(failing_binaries / "chromium")))
    with pytest.raises(EnvError) as info:
        env.reset()
    env.close()
    message = str(info.value)
    assert message.startswith(f"could not start Chromium: {failing_binaries / 'chromium'} --disable-gpu")
    assert "No usable sandbox!" in message and "exited with code 133" in message


def test_an_app_that_dies_before_its_window_says_why(tmp_path) -> None:
    from guiagent.envs.desktop import DesktopConfig, DesktopEnv

    app = f"{sys.executable} -c \"import no_such_toolkit\""
    env = DesktopEnv(DesktopConfig(xvfb="640x480x24", launch=app))
    with pytest.raises(EnvError) as info:
        env.reset()
    env.close()
    message = str(info.value)
    assert message.startswith(f"the app did not start: {sys.executable} -c 'import no_such_toolkit' exited with code 1")
    assert "ModuleNotFoundError: No module named 'no_such_toolkit'" in message
