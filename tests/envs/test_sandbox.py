"""The sandbox of desktop apps, on a real desktop session (Xvfb, openbox, D-Bus, AT-SPI) and real bubblewrap:
the sandboxed app has the episode's HOME, sees nothing of the host's HOME or /tmp, and cannot reach a server on
the host's loopback, while the same app launched without a sandbox can."""

from __future__ import annotations

import http.server
import os
import shlex
import threading
import time
from pathlib import Path

import pytest

from guiagent.envs.desktop import DesktopConfig, DesktopEnv
from guiagent.envs.desktop_session import DesktopSession, WindowManager
from guiagent.envs.sandbox import SandboxConfig

# Each line of the probe's report: what the app saw from inside.
PROBE = """
echo "home=$HOME"
if (exec 3<>/dev/tcp/127.0.0.1/{port}) 2>/dev/null; then echo net=reached; else echo net=refused; fi
if ls {host_home} >/dev/null 2>&1; then echo host_home=visible; else echo host_home=hidden; fi
if [ -e {marker} ]; then echo host_tmp=visible; else echo host_tmp=hidden; fi
echo done
"""


@pytest.fixture(scope="module")
def server():
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), http.server.SimpleHTTPRequestHandler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield httpd.server_address[1]
    httpd.shutdown()


def probe(tmp_path: Path, port: int, sandbox: bool) -> dict[str, str]:
    marker = tmp_path / "host-marker"
    marker.write_text("host")
    home = tmp_path / ("home-sandboxed" if sandbox else "home-plain")
    script = PROBE.format(port=port, host_home=shlex.quote(os.path.expanduser("~")), marker=shlex.quote(str(marker)))
    command = f"xterm -T Probe -e bash -c {shlex.quote('{ ' + script + '} > $HOME/report.txt; sleep 60')}"
    config = DesktopConfig(xvfb="640x480x24", wm=WindowManager.OPENBOX, home=str(home), window="^Probe$",
                           sandbox=SandboxConfig(enabled=sandbox), launch=command)
    with DesktopEnv(config) as env:
        env.reset()
        report = home / "report.txt"
        deadline = time.monotonic() + 30
        while not (report.exists() and "done" in report.read_text()):
            assert time.monotonic() < deadline, "the probe never wrote its report"
            time.sleep(0.05)
        assert env.observe().window == "Probe"  # the window manager's active window
    return dict(line.split("=", 1) for line in report.read_text().split() if "=" in line)


def test_sandboxed_app_has_its_home_and_no_network(tmp_path, server):
    seen = probe(tmp_path, server, sandbox=True)
    assert seen == {"home": str((tmp_path / "home-sandboxed").resolve()), "net": "refused",
                    "host_home": "hidden", "host_tmp": "hidden"}


def test_unsandboxed_control_reaches_the_host(tmp_path, server):
    seen = probe(tmp_path, server, sandbox=False)
    assert seen["net"] == "reached" and seen["host_tmp"] == "visible"


def test_session_runs_its_buses_and_stops_them():
    with DesktopSession("320x240x24", wm=WindowManager.OPENBOX, a11y=True) as session:
        runtime = Path(session.runtime_dir or "")
        assert (runtime / "bus").exists() and any((runtime / "at-spi").iterdir())
        assert session.alive and session.environ()["DBUS_SESSION_BUS_ADDRESS"] == f"unix:path={runtime / 'bus'}"
    assert not runtime.exists() and not session.alive
