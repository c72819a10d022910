"""How fast the ``guiagent`` command answers ``--help``, ``--version`` and a usage error (target <= 0.3 s).

Prints the median wall time of N runs of each, next to a bare ``python -c pass`` for scale, and the
number of modules ``--help`` imports. Run: ``.venv/bin/python bench/cli_startup.py [N]``.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time

CASES = {
    "python -c pass": [sys.executable, "-c", "pass"],
    "guiagent --help": [sys.executable, "-m", "guiagent.agent.cli", "--help"],
    "guiagent --version": [sys.executable, "-m", "guiagent.agent.cli", "--version"],
    "guiagent run --help": [sys.executable, "-m", "guiagent.agent.cli", "run", "--help"],
    "guiagent run --policy nope": [sys.executable, "-m", "guiagent.agent.cli", "run", "--policy", "nope"],
}

COUNT = (
    "import sys, io, contextlib; before = len(sys.modules); sys.argv = ['guiagent', '--help']\n"
    "from guiagent.agent.cli import app\n"
    "with contextlib.redirect_stdout(io.StringIO()):\n"
    "    try: app()\n"
    "    except SystemExit: pass\n"
    "print(len(sys.modules) - before)"
)


def main(n: int) -> None:
    for name, cmd in CASES.items():
        times = []
        for _ in range(n):
            t0 = time.perf_counter()
            subprocess.run(cmd, capture_output=True)
            times.append(time.perf_counter() - t0)
        print(f"{name:<28} median {statistics.median(times) * 1000:7.0f} ms   min {min(times) * 1000:7.0f} ms")
    modules = subprocess.run([sys.executable, "-c", COUNT], capture_output=True, text=True).stdout.strip()
    print(f"modules imported by --help: {modules}")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 10)
