"""The fixed cost of a real-app episode: a desktop session (Xvfb + openbox), the app sandboxed (bubblewrap, a fresh
HOME seeded with the task's files and the apps suite's pre-initialised LibreOffice profile), until the app's window
is there, plus the first observation; then the teardown. Target: <= 3 s for LibreOffice on an idle machine.

Prints the median and min of N episodes' start-up for LibreOffice Calc, Writer and (for scale) xterm, as the apps
suite starts them. Run: ``.venv/bin/python bench/desktop_apps.py [N]``.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

from guiagent.envs.desktop import DesktopConfig, DesktopEnv
from guiagent.envs.desktop_session import WindowManager
from guiagent.envs.sandbox import SandboxConfig

APPS = Path(__file__).resolve().parent.parent / "agent" / "suites" / "bundled" / "apps"
CASES = {
    "LibreOffice Calc": ("localc --norestore --nologo sales.xlsx", "^sales.xlsx", ["profile", "files/sheet"]),
    "LibreOffice Writer": ("lowriter --norestore --nologo report.docx", "^report.docx", ["profile", "files/doc"]),
    "xterm": ("xterm -T Terminal", "^Terminal$", []),
}


def one(launch: str, window: str, seeds: list[str]) -> tuple[float, float, float]:
    """Seconds to the app's window, to the first observation, and to tear it all down."""
    with tempfile.TemporaryDirectory(prefix="guiagent-bench-") as home:
        env = DesktopEnv(DesktopConfig(xvfb="1280x800x24", launch=launch, window=window, wm=WindowManager.OPENBOX,
                                       sandbox=SandboxConfig(enabled=True), home=str(Path(home) / "home"),
                                       home_seed=[str(APPS / s) for s in seeds], launch_timeout_s=120))
        t0 = time.perf_counter()
        env.reset()
        ready = time.perf_counter() - t0
        env.observe()
        observed = time.perf_counter() - t0
        t1 = time.perf_counter()
        env.close()
        return ready, observed, time.perf_counter() - t1


def main(n: int) -> None:
    for name, (launch, window, seeds) in CASES.items():
        runs = [one(launch, window, seeds) for _ in range(n)]
        ready, observed, closed = ([r[i] for r in runs] for i in range(3))
        print(f"{name:<20} window {statistics.median(ready):5.2f} s   first observation "
              f"{statistics.median(observed):5.2f} s (min {min(observed):5.2f} s)   teardown "
              f"{statistics.median(closed):5.2f} s   (median of {n})")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 5)
