"""A desktop session for one episode: a private Xvfb, a window manager, a D-Bus session bus and the AT-SPI bus.

Everything runs in its own process group, dies with the runtime (``die_with_parent``) and is stopped by
``stop``; the session's sockets live in a runtime folder of its own (``XDG_RUNTIME_DIR``), as filesystem
sockets, so that a sandboxed app (which shares no network namespace, hence no abstract sockets) reaches
them through a bind mount. ``wm=none`` without a11y is the bare display of before: Xvfb alone.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import time
from enum import StrEnum
from pathlib import Path
from typing import Self

from guiagent.envs.base import EnvError
from guiagent.envs.cleanenv import clean_environ
from guiagent.envs.lifetime import die_with_parent
from guiagent.envs.xvfb import Xvfb

AT_SPI_LAUNCHER = "/usr/libexec/at-spi-bus-launcher"


class WindowManager(StrEnum):
    """The window manager of the session's display."""

    OPENBOX = "openbox"
    NONE = "none"


def require(binary: str, package: str) -> str:
    """The path of ``binary``, or one sentence naming the Debian package that provides it."""
    found = binary if os.path.isabs(binary) and os.access(binary, os.X_OK) else shutil.which(binary)
    if not found:
        raise EnvError(f"{os.path.basename(binary)} not found: install Debian's package {package} "
                       "(scripts/ensure-system-deps installs every package guiagent needs)")
    return found


class DesktopSession:
    """``with DesktopSession("1280x800x24") as s: ...``: a display, a WM, a session bus and the a11y bus."""

    def __init__(self, screen: str = "1280x800x24", monitors: int = 1, wm: WindowManager = WindowManager.NONE,
                 a11y: bool = False, timeout_s: float = 15.0) -> None:
        self.xvfb = Xvfb(screen, monitors=monitors)
        self.wm, self.a11y, self.timeout_s = wm, a11y, timeout_s
        self.runtime_dir: str | None = None
        self.bus_address: str | None = None
        self._procs: list[subprocess.Popen] = []

    @property
    def display(self) -> str | None:
        return self.xvfb.display

    @property
    def bus_needed(self) -> bool:
        return self.wm != WindowManager.NONE or self.a11y

    def environ(self) -> dict[str, str]:
        """What a program launched into this session needs to find its display and buses."""
        env = {"DISPLAY": self.display or ""}
        if self.runtime_dir:
            env["XDG_RUNTIME_DIR"] = self.runtime_dir
        if self.bus_address:
            env["DBUS_SESSION_BUS_ADDRESS"] = self.bus_address
        if not self.a11y:
            env["NO_AT_BRIDGE"] = "1"  # GTK would look for an a11y bus that is not there
        # LibreOffice speaks AT-SPI only through its GTK 3 plugin (libreoffice-gtk3); without a11y keep its own
        # X11 plugin, which the apps suite's reference scripts were proven on, whichever plugins are installed
        env["SAL_USE_VCLPLUGIN"] = "gtk3" if self.a11y else "gen"
        return env

    def start(self) -> Self:
        # Every binary is looked up first: a missing one is a clear error before anything has started.
        dbus = require("dbus-daemon", "dbus-daemon") if self.bus_needed else ""
        launcher = require(AT_SPI_LAUNCHER, "at-spi2-core") if self.a11y else ""
        wm = require(str(self.wm), str(self.wm)) if self.wm != WindowManager.NONE else ""
        self.xvfb.start()
        try:
            if self.bus_needed:
                self.runtime_dir = tempfile.mkdtemp(prefix="guiagent-session-")
                socket = Path(self.runtime_dir) / "bus"
                self._spawn([dbus, "--session", f"--address=unix:path={socket}", "--nofork", "--nopidfile"])
                self._wait(socket.exists, "the D-Bus session bus")
                self.bus_address = f"unix:path={socket}"
            if self.a11y:
                self._spawn([launcher, "--launch-immediately"])
                folder = Path(self.runtime_dir or "") / "at-spi"
                self._wait(lambda: folder.is_dir() and any(folder.iterdir()), "the AT-SPI bus")
            if wm:
                self._spawn([wm])
                self._wait(self._wm_running, f"the window manager {self.wm}")
        except BaseException:
            self.stop()
            raise
        return self

    def _spawn(self, argv: list[str]) -> None:
        env = {**clean_environ(), **self.environ()}
        self._procs.append(subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                            stdin=subprocess.DEVNULL, start_new_session=True,
                                            preexec_fn=die_with_parent))

    def _wait(self, ready, what: str) -> None:
        deadline = time.monotonic() + self.timeout_s
        proc = self._procs[-1]
        while not ready():
            if proc.poll() is not None:
                raise EnvError(f"{what} did not start: it exited with {proc.returncode}")
            if time.monotonic() > deadline:
                raise EnvError(f"{what} did not start within {self.timeout_s:g}s")
            time.sleep(0.02)

    def _wm_running(self) -> bool:
        """A EWMH window manager announces itself on the root window (_NET_SUPPORTING_WM_CHECK)."""
        import contextlib
        import io

        from Xlib.display import Display

        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            display = Display(self.display)  # python-xlib warns about xauth (our Xvfb asks for none)
        try:
            atom = display.intern_atom("_NET_SUPPORTING_WM_CHECK")
            return display.screen().root.get_full_property(atom, 0) is not None
        finally:
            display.close()

    @property
    def alive(self) -> bool:
        return self.xvfb.alive and all(p.poll() is None for p in self._procs)

    def stop(self) -> None:
        """Stop the WM, the buses and the display (in that order); safe to call twice."""
        for proc in reversed(self._procs):
            _stop(proc)
        self._procs = []
        self.xvfb.stop()
        if self.runtime_dir:
            shutil.rmtree(self.runtime_dir, ignore_errors=True)
        self.runtime_dir = self.bus_address = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    except ProcessLookupError:
        pass
