"""Private X servers started at the same moment each get their own display (real Xvfb)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from guiagent.envs.xvfb import Xvfb


def test_servers_started_together_get_their_own_displays():
    servers = [Xvfb("320x200") for _ in range(6)]
    try:
        with ThreadPoolExecutor(len(servers)) as pool:
            list(pool.map(lambda x: x.start(), servers))
        displays = [x.display for x in servers]
        assert len(set(displays)) == len(servers), displays
        assert all(x.alive for x in servers)  # each display is served by the Xvfb this object started
        for x in servers:
            assert Path(f"/tmp/.X11-unix/X{x.display[1:]}").exists()
    finally:
        for x in servers:
            x.stop()
    assert not any(x.alive for x in servers)
