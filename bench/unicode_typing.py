"""Unicode typing on a loaded desktop: the env's XTest typer against xdotool's map-press-unmap.

    python bench/unicode_typing.py [--rounds 20] [--busy 4]

Starts a private Xvfb and the test suite's probe Tk app, keeps ``--busy`` CPU-bound processes running,
and types the same non-ASCII text ``--rounds`` times with each method into the app's entry field,
clearing it in between. Prints how many rounds arrived exactly.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import subprocess
import sys
import time
from pathlib import Path

from guiagent.envs.desktop import DesktopConfig, DesktopEnv
from guiagent.tools import parse_action

PROBE = Path(__file__).resolve().parents[1] / "tests" / "apps" / "probe_app.py"
TEXT = "naïve café 东京 Ærøskøbing"


def _spin() -> None:
    while True:
        pass


def _text(state: Path, expected: str, timeout: float = 10.0) -> str:
    """The entry's text once it equals ``expected`` or stops changing for ``timeout``."""
    deadline, last = time.monotonic() + timeout, None
    while time.monotonic() < deadline:
        try:
            last = json.loads(state.read_text())["text"]
        except (OSError, ValueError, KeyError):
            pass
        if last is not None and last == expected:
            return last
        time.sleep(0.05)
    return last or ""


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--busy", type=int, default=4, help="CPU-bound processes running meanwhile")
    args = parser.parse_args()
    state = Path(os.environ.get("TMPDIR", "/tmp")) / f"unicode-typing-{os.getpid()}.json"
    env = DesktopEnv(DesktopConfig(xvfb="1280x800x24", launch=f"{sys.executable} {PROBE} {state} Probe",
                                   window="^Probe$", settle_s=0))
    env.reset()
    busy = [multiprocessing.Process(target=_spin, daemon=True) for _ in range(args.busy)]
    for p in busy:
        p.start()
    try:
        env.execute(parse_action({"action": "left_click", "coordinate": [300, 216]}))
        display = env.display
        assert display is not None
        methods = {
            "xtest, keycodes kept (guiagent)": lambda: env.execute(parse_action({"action": "type", "text": TEXT})),
            "xdotool type (map, press, unmap)": lambda: subprocess.run(
                ["xdotool", "type", "--delay", "12", "--", TEXT], env={**os.environ, "DISPLAY": display},
                check=True, capture_output=True),
        }
        for name, type_text in methods.items():
            exact = 0
            for _ in range(args.rounds):
                env.execute(parse_action({"action": "key", "keys": ["ctrl", "a"]}))
                env.execute(parse_action({"action": "key", "keys": "shift+End"}))
                env.execute(parse_action({"action": "key", "keys": ["Delete"]}))
                _text(state, "")
                type_text()
                exact += _text(state, TEXT) == TEXT
            print(f"{name:34s} {exact}/{args.rounds} rounds exact with {args.busy} busy processes")
    finally:
        for p in busy:
            p.terminate()
        env.close()
        state.unlink(missing_ok=True)


if __name__ == "__main__":
    main()
