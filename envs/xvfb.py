"""A private X server (Xvfb) for an episode, on a display number it picks itself, always stopped after."""

from __future__ import annotations

import os
import re
import select
import shutil
import signal
import subprocess
import time
from pathlib import Path

from guiagent.envs.base import EnvError
from guiagent.envs.cleanenv import clean_environ


def parse_screen(spec: str) -> tuple[int, int, int]:
    """``"1280x800"`` or ``"1280x800x24"`` -> (width, height, depth)."""
    m = re.fullmatch(r"(\d+)x(\d+)(?:x(\d+))?", spec)
    if not m:
        raise ValueError(f"a screen size looks like 1280x800 or 1280x800x24, got {spec!r}")
    return int(m.group(1)), int(m.group(2)), int(m.group(3) or 24)


def die_with_parent() -> None:
    """In a child before exec: get SIGTERM when the runtime dies, even by SIGKILL (Linux's
    PR_SET_PDEATHSIG), so that no Xvfb or app outlives the episode that started it."""
    import ctypes

    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # 1 = PR_SET_PDEATHSIG
    except OSError:
        pass  # not glibc Linux: close() and the context manager still stop it


class Xvfb:
    """``with Xvfb("1280x800") as x: ...`` runs Xvfb on ``x.display`` (e.g. ``":93"``)."""

    def __init__(self, screen: str = "1280x800x24", monitors: int = 1, timeout_s: float = 10.0) -> None:
        self.width, self.height, self.depth = parse_screen(screen)
        self.monitors = monitors
        self.timeout_s = timeout_s
        self.display: str | None = None
        self.proc: subprocess.Popen | None = None

    def start(self) -> "Xvfb":
        binary = shutil.which("Xvfb")
        if binary is None:
            raise EnvError("Xvfb not found: install Debian's package (apt-get install xvfb)")
        # Xvfb picks a free display number itself and writes it to a pipe (-displayfd): choosing one
        # here raced with other runs starting at the same moment, and the loser saw the winner's socket
        # appear and took that server for its own.
        read_fd, write_fd = os.pipe()
        try:
            self.proc = subprocess.Popen(
                [binary, "-displayfd", str(write_fd), "-screen", "0", f"{self.width}x{self.height}x{self.depth}",
                 "-nolisten", "tcp", "-noreset", "+extension", "RANDR"],
                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True, preexec_fn=die_with_parent,
                env=clean_environ(), pass_fds=(write_fd,),
            )
        finally:
            os.close(write_fd)
        try:
            number = self._read_display(read_fd)
        finally:
            os.close(read_fd)
        if number is None:
            self.stop()
            raise EnvError(f"Xvfb did not start within {self.timeout_s:g}s: {self._stderr()}")
        self.display = f":{number}"
        self._split_monitors()
        return self

    def _read_display(self, fd: int) -> int | None:
        """The display number Xvfb writes once it listens; None if it exits or the time runs out."""
        deadline = time.monotonic() + self.timeout_s
        text = b""
        while not text.endswith(b"\n"):
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([fd], [], [], left)[0]:
                return None
            chunk = os.read(fd, 16)
            if not chunk:  # closed: Xvfb exited
                return None
            text += chunk
        return int(text.strip())

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
        if self.proc is None or self.proc.stderr is None:
            return "no output"
        try:
            return self.proc.stderr.read().decode(errors="replace").strip()[-500:] or "no output"
        except Exception:
            return "no output"

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

    def __enter__(self) -> "Xvfb":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
