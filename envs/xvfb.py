"""A private X server (Xvfb) for an episode, on a free display number, always stopped after."""

from __future__ import annotations

import os
import random
import re
import shutil
import signal
import subprocess
import time
from pathlib import Path

from guiagent.envs.base import EnvError
from guiagent.envs.cleanenv import clean_environ
from guiagent.envs.lifetime import die_with_parent
from guiagent.envs.why import failure


def parse_screen(spec: str) -> tuple[int, int, int]:
    """``"1280x800"`` or ``"1280x800x24"`` -> (width, height, depth)."""
    m = re.fullmatch(r"(\d+)x(\d+)(?:x(\d+))?", spec)
    if not m:
        raise ValueError(f"a screen size looks like 1280x800 or 1280x800x24, got {spec!r}")
    return int(m.group(1)), int(m.group(2)), int(m.group(3) or 24)


def _free_display(first: int = 90, last: int = 490) -> int:
    """A display number nobody holds, picked at random among the free ones so that runs starting at
    the same moment rarely pick the same (the loser retries)."""
    free = [n for n in range(first, last)
            if not Path(f"/tmp/.X11-unix/X{n}").exists() and not Path(f"/tmp/.X{n}-lock").exists()]
    if not free:
        raise EnvError(f"no free X display number between :{first} and :{last - 1}")
    return random.choice(free[:64])


def _lock_pid(n: int) -> int | None:
    """The process that holds display ``n`` (the X server writes its pid into the lock file)."""
    try:
        return int(Path(f"/tmp/.X{n}-lock").read_text().strip())
    except (OSError, ValueError):
        return None


class Xvfb:
    """``with Xvfb("1280x800") as x: ...`` runs Xvfb on ``x.display`` (e.g. ``":93"``)."""

    def __init__(self, screen: str = "1280x800x24", monitors: int = 1, timeout_s: float = 10.0) -> None:
        self.width, self.height, self.depth = parse_screen(screen)
        self.monitors = monitors
        self.timeout_s = timeout_s
        self.display: str | None = None
        self.proc: subprocess.Popen | None = None

    def start(self) -> Xvfb:
        binary = shutil.which("Xvfb")
        if binary is None:
            raise EnvError("Xvfb not found: install Debian's package (apt-get install xvfb)")
        argv: list[str] = []
        code, stderr = None, ""
        for _ in range(10):  # another process may take the number between our look and Xvfb's start
            n = _free_display()
            argv = [binary, f":{n}", "-screen", "0", f"{self.width}x{self.height}x{self.depth}", "-nolisten", "tcp",
                    "-noreset", "+extension", "RANDR"]
            self.proc = subprocess.Popen(
                argv,
                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True,
                preexec_fn=die_with_parent,  # SIGTERM: no Xvfb outlives the runtime that started it
                env=clean_environ(),
            )
            deadline = time.monotonic() + self.timeout_s
            while time.monotonic() < deadline:
                # Ours only when the lock names our Xvfb: another run may have started one on the same
                # number a moment earlier, and its socket appears while ours is failing to start.
                if _lock_pid(n) == self.proc.pid and Path(f"/tmp/.X11-unix/X{n}").exists():
                    self.display = f":{n}"
                    self._split_monitors()
                    return self
                if self.proc.poll() is not None:
                    break
                time.sleep(0.02)
            code = self.proc.poll()
            stderr = self._stderr()
            self.stop()
        how = f"exited with code {code}" if code is not None else f"opened no display within {self.timeout_s:g}s"
        raise EnvError(failure("Xvfb did not start", argv, how, stderr))

    def _split_monitors(self) -> None:
        """Present the screen as N side-by-side monitors (RandR 1.5 monitors, which mss lists)."""
        if self.monitors <= 1:
            return
        xrandr = shutil.which("xrandr")
        if xrandr is None:
            raise EnvError("xrandr not found: install Debian's x11-xserver-utils for --xvfb with several monitors")
        width = self.width // self.monitors
        env = {**os.environ, "DISPLAY": self.display or ""}
        for i in range(self.monitors):
            output = "screen" if i == 0 else "none"
            geometry = f"{width}/0x{self.height}/0+{i * width}+0"
            subprocess.run([xrandr, "--setmonitor", f"GUIAGENT-{i + 1}", geometry, output], env=env, check=True,
                           capture_output=True, timeout=10)

    def _stderr(self) -> str:
        """What a failed Xvfb printed (it has exited, or is stopped next: the pipe ends)."""
        if self.proc is None or self.proc.stderr is None:
            return ""
        try:
            if self.proc.poll() is None:
                self.proc.terminate()
                self.proc.wait(timeout=5)
            return self.proc.stderr.read().decode(errors="replace")
        except Exception:
            return ""

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()

    def __enter__(self) -> Xvfb:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
