"""Private X servers started at the same moment by different runs each get their own display (real Xvfb)."""

from __future__ import annotations

import subprocess
import sys

CHILD = """
import sys, mss
from guiagent.envs.xvfb import Xvfb
x = Xvfb(sys.argv[1]).start()
with mss.MSS(display=x.display) as screen:
    print(x.display, screen.monitors[0]["width"], flush=True)
sys.stdin.read()  # hold the server until the test has seen every run's
x.stop()
"""


def test_runs_starting_together_get_their_own_displays():
    # Separate processes, as separate runs are (an Xvfb dies with the thread that started it).
    widths = [320 + 8 * i for i in range(6)]
    runs = [subprocess.Popen([sys.executable, "-c", CHILD, f"{w}x200"], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for w in widths]
    try:
        seen = []
        for run in runs:
            assert run.stdout is not None and run.stderr is not None
            line = run.stdout.readline().split()
            assert line, run.stderr.read()
            seen.append((line[0], int(line[1])))
    finally:
        for run in runs:
            assert run.stdin is not None
            run.stdin.close()
            run.wait(timeout=60)
    displays = [d for d, _ in seen]
    assert len(set(displays)) == len(runs), displays
    assert [w for _, w in seen] == widths  # each display is served by the Xvfb its run started
