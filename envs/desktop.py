"""An X11 desktop: mss captures at native resolution, XTest (python-xlib) drives mouse and keyboard.

Nothing from mss or Xlib is imported until a DesktopEnv is used, so the browser path never needs X. With ``xvfb`` set, the env runs its own desktop session for the episode (Xvfb, and with ``wm``/``a11y`` a window
manager, a D-Bus session and the AT-SPI bus: envs/desktop_session.py) and stops it after; with ``sandbox`` the app
runs under bubblewrap with the episode's own HOME and no network (envs/sandbox.py).
"""

from __future__ import annotations

import io
import os
import re
import shlex
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from guiagent.envs.a11y import A11yNode, A11yTree, linearized
from guiagent.envs.base import ClosingEnv, EnvError, FrameTap
from guiagent.envs.cleanenv import clean_environ
from guiagent.envs.desktop_session import DesktopSession, WindowManager
from guiagent.envs.lifetime import die_with_parent
from guiagent.envs.sandbox import SandboxConfig, sandboxed
from guiagent.envs.screen_sampler import ScreenSampler, shot_image
from guiagent.envs.why import failure
from guiagent.envs.xinput import Button, XInput
from guiagent.envs.xvfb import parse_screen
from guiagent.envs.xwindows import active_title, windows
from guiagent.tools import (
    Action,
    ActionResult,
    CallUser,
    Check,
    DoubleClick,
    FrameGeometry,
    HScroll,
    Key,
    LeftClick,
    LeftClickDrag,
    MiddleClick,
    MouseMove,
    Observation,
    RightClick,
    Scroll,
    Terminate,
    TripleClick,
    Type,
    Wait,
)
from guiagent.tools.targets import ElementInfo, LocatedElement, Target, TargetError

TAP_FPS = 4.0
"""How often a live view's screen is grabbed when the episode keeps no frames of its own (and only while watched)."""


class DesktopConfig(BaseModel):
    """Which display, which monitor, what to launch. Recorded in meta.json."""

    model_config = ConfigDict(extra="forbid")

    display: str | None = Field(default=None, description="X display; $DISPLAY if unset (and no xvfb).")
    xvfb: str | None = Field(default=None, description="Run a private Xvfb of this size, WxH[xD].")
    xvfb_monitors: int = Field(default=1, ge=1, le=8, description="Split the Xvfb screen into N side-by-side monitors.")
    monitor: int = Field(default=0, ge=0, description="0: the whole virtual screen; N: mss monitor N.")
    launch: str | None = Field(default=None, description="Command that starts the app under test.")
    launch_timeout_s: float = Field(default=20.0, gt=0)
    pass_env: list[str] = Field(default_factory=list, description="Variables the launched app gets beyond a minimal set.")
    window: str | None = Field(default=None, description="Regex of the launched app's window title to wait for.")
    settle_s: float = Field(default=0.15, ge=0, description="Pause after each action for the app to react.")
    scroll_pixels_per_click: int = Field(default=50, ge=1, description="Wheel 'pixels' per X11 wheel click.")
    failsafe: bool = Field(default=False, description="Refuse actions while the mouse is in a screen corner, as "
                           "pyautogui's fail-safe does (a person took over); off: no one is at the mouse.")
    sample_fps: float = Field(default=0.0, ge=0, le=30, description="Keep changed frames between observations at this rate (0: off).")
    wm: WindowManager = Field(default=WindowManager.NONE, description="The private Xvfb's window manager (none: a bare display).")
    a11y: bool = Field(default=False, description="Run the AT-SPI bus in the private session (accessibility targets).")
    sandbox: SandboxConfig = Field(default_factory=SandboxConfig)
    home: str | None = Field(default=None, description="The app's HOME, made for the episode (a temporary one if unset).")
    home_seed: list[str] = Field(default_factory=list, description="Folders whose files are copied into the fresh HOME.")


class DesktopEnv(ClosingEnv):
    """The ``Env`` for an X11 desktop (a real display or a private Xvfb)."""

    kind = "desktop"

    def __init__(self, config: DesktopConfig | None = None) -> None:
        self.config = config or DesktopConfig()
        self.display: str | None = None
        self._session: DesktopSession | None = None
        self._tree: A11yTree | None = None
        self._temp_home: str | None = None
        self._app: subprocess.Popen | None = None
        self._sct: Any = None
        self._x: Any = None  # one python-xlib connection: window titles, and XTest's mouse and keys
        self._input: XInput | None = None
        self._sampler: ScreenSampler | None = None
        self._tap: FrameTap | None = None

    # -- lifecycle -------------------------------------------------------------------------

    def reset(self, url: str | None = None) -> None:
        cfg = self.config
        if self.display is None:
            require_desktop_extra()
            if cfg.xvfb:
                parse_screen(cfg.xvfb)
                self._session = DesktopSession(cfg.xvfb, monitors=cfg.xvfb_monitors, wm=cfg.wm, a11y=cfg.a11y).start()
                self.display = self._session.display
            else:
                self.display = cfg.display or os.environ.get("DISPLAY")
                if not self.display:
                    raise EnvError("no X display: set DISPLAY, or pass --xvfb WxH to run a private Xvfb")
            self._connect()
            if cfg.sample_fps > 0 or self._tap is not None:
                keep = cfg.sample_fps > 0  # else the tap's alone, at its own rate
                self._sampler = ScreenSampler(self.display or "", cfg.monitor, cfg.sample_fps if keep else TAP_FPS,
                                              tap=self._tap, keep=keep).start()
        if cfg.launch and (self._app is None or self._app.poll() is not None):
            self._launch(cfg.launch)

    def _connect(self) -> None:
        import mss

        _ensure_xauthority()
        try:
            self._sct = mss.MSS(display=self.display)
            monitors = self._sct.monitors
        except Exception as exc:
            raise EnvError(f"cannot open X display {self.display}: {exc}") from None
        if self.config.monitor >= len(monitors):
            raise EnvError(f"monitor {self.config.monitor} does not exist: {self.display} has {len(monitors) - 1}")
        from Xlib.display import Display

        self._x = _quietly(Display, self.display)
        self._input = XInput(self._x)

    @property
    def home(self) -> Path | None:
        """The app's HOME when the env makes one (a sandbox, or ``home`` set), else None."""
        if self.config.home:
            return Path(self.config.home)
        return Path(self._temp_home) if self._temp_home else None

    def _make_home(self) -> Path | None:
        cfg = self.config
        if not (cfg.home or cfg.sandbox.enabled):
            return None
        if cfg.home is None and self._temp_home is None:
            self._temp_home = tempfile.mkdtemp(prefix="guiagent-home-")
        home = self.home
        assert home is not None
        home.mkdir(parents=True, exist_ok=True)
        for folder in cfg.home_seed:
            shutil.copytree(folder, home, dirs_exist_ok=True)
        return home

    def _launch(self, command: str) -> None:
        before = set(self._windows())
        session = self._session.environ() if self._session else {"DISPLAY": self.display or ""}
        env = {**clean_environ(self.config.pass_env), **session}
        argv = shlex.split(command)
        home = self._make_home()
        if home is not None:
            env["HOME"] = str(home.resolve())
        if self.config.sandbox.enabled and home is not None:
            env.pop("XAUTHORITY", None)  # a host file the sandbox does not show (the Xvfb asks for none)
            share = [self._session.runtime_dir] if self._session and self._session.runtime_dir else []
            argv = sandboxed(argv, home, share, network=self.config.sandbox.network)
        try:
            self._app = subprocess.Popen(argv, env=env, start_new_session=True, cwd=home,  # the app starts at HOME
                                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, preexec_fn=die_with_parent)
        except OSError as exc:
            raise EnvError(f"cannot launch {command!r}: {exc.strerror}") from None
        deadline = time.monotonic() + self.config.launch_timeout_s
        pattern = re.compile(self.config.window) if self.config.window else None
        while time.monotonic() < deadline:
            if self._app.poll() is not None:
                err = self._app.stderr.read().decode(errors="replace") if self._app.stderr else ""
                raise EnvError(failure("the app did not start", shlex.split(command),
                                       f"exited with code {self._app.returncode} before its window appeared", err))
            titles = {w: t for w, t in self._windows().items() if w not in before}
            if titles and (pattern is None or any(pattern.search(t) for t in titles.values())):
                time.sleep(self.config.settle_s)
                return
            time.sleep(0.05)
        what = f"a window matching {self.config.window!r}" if pattern else "a window"
        raise EnvError(f"{command!r} showed no {what} within {self.config.launch_timeout_s:g}s")

    def tap_frames(self, tap: FrameTap) -> bool:
        """Hand the sampler's frames to ``tap`` as they change (from ``reset`` on; without sample_fps at TAP_FPS)."""
        self._tap = tap
        return True

    def drain_frames(self) -> list[Observation]:
        """Frames that changed since the last call (with ``sample_fps``): what happened during the actions."""
        return self._sampler.drain() if self._sampler is not None else []

    def close(self) -> None:
        if self._sampler is not None:
            self._sampler.stop()
            self._sampler = None
        if self._app is not None and self._app.poll() is None:
            try:
                os.killpg(self._app.pid, signal.SIGTERM)
                self._app.wait(timeout=5)
            except Exception:
                pass
        if self._input is not None and self._session is None:  # a display we share: give its keycodes back
            try:
                self._input.restore()
            except Exception:
                pass  # the server is gone
        for handle in (self._sct, self._x):
            if handle is not None:
                try:
                    handle.close()
                except Exception:
                    pass
        if self._tree is not None:
            self._tree.close()
            self._tree = None
        if self._session is not None:
            self._session.stop()
        if self._temp_home is not None:
            shutil.rmtree(self._temp_home, ignore_errors=True)
        self._app = self._sct = self._session = self._x = self._input = self._temp_home = None
        self.display = None

    def settings(self) -> dict[str, Any]:
        return {"kind": self.kind, **self.config.model_dump()}

    # -- accessibility (AT-SPI) targets ------------------------------------------------------

    def _a11y(self) -> A11yTree:
        if not self.config.a11y or self._session is None or not self._session.bus_address:
            raise TargetError("role and text targets on the desktop are read through AT-SPI: run the episode with "
                              "its own session and a11y on (--a11y)")
        if self._tree is None:
            self._tree = A11yTree(self._session.bus_address)
        return self._tree

    def locate(self, target: Target) -> LocatedElement:
        """A role/name or text target's on-screen accessible (AT-SPI), waiting up to ``target.timeout``."""
        if target.selector is not None:
            raise TargetError(f"{target.label()}: CSS selectors are for the browser; on the desktop use role/name or text")
        self._alive()
        tree = self._a11y()
        try:
            node = tree.wait_for(target.role, target.name, target.text, target.exact, target.timeout)
        except EnvError as exc:
            raise TargetError(f"{target.label()}: {exc}") from None
        if node is None or node.center is None:
            raise TargetError(f"{target.label()} not on the screen within {target.timeout:g}s (AT-SPI)")
        return LocatedElement(point=node.center, element=_element(node))

    def element_at(self, point: tuple[float, float]) -> ElementInfo | None:
        """The named accessible under a screen point (None without a11y)."""
        if not self.config.a11y or self._session is None:
            return None
        try:
            node = self._a11y().at(point)
        except (EnvError, TargetError):
            return None
        return _element(node) if node is not None else None

    def a11y_tree(self) -> str | None:
        """The apps' accessibility tree now, linearized as OSWorld does (None without a11y)."""
        if not self.config.a11y or self._session is None:
            return None
        try:
            return linearized(self._a11y().nodes())
        except (EnvError, TargetError):
            return None

    # -- observing -------------------------------------------------------------------------

    def _monitor(self) -> dict[str, int]:
        return self._sct.monitors[self.config.monitor]

    def observe(self) -> Observation:
        self._alive()
        monitor = self._monitor()
        t0 = time.time()
        try:
            shot = self._sct.grab(monitor)
        except Exception as exc:
            if self._session is not None and self._session.xvfb.proc is not None:
                try:
                    self._session.xvfb.proc.wait(timeout=1)  # a server that just died is reaped here
                except subprocess.TimeoutExpired:
                    pass
            self._alive()
            raise EnvError(f"screen capture on {self.display} failed: {exc or type(exc).__name__}") from None
        t1 = time.time()
        buf = io.BytesIO()
        shot_image(shot).save(buf, "PNG", compress_level=1)
        geometry = FrameGeometry(width=shot.width, height=shot.height, scale=1.0,
                                 offset_x=monitor["left"], offset_y=monitor["top"])
        return Observation(image=buf.getvalue(), t=(t0 + t1) / 2, geometry=geometry, window=self._active_title(),
                           a11y=self.a11y_tree())

    # -- acting ----------------------------------------------------------------------------

    def execute(self, action: Action) -> ActionResult:
        if isinstance(action, CallUser):
            return ActionResult.failure(CallUser.NOT_AN_ENV_ACTION)
        self._alive(app=not isinstance(action, Terminate))  # ending the episode needs no app
        for name, point in action.points().items():
            if not self._on_screen(point):
                return ActionResult.failure(f"{action.action}: {name} [{point[0]:g}, {point[1]:g}] is off the screen")
        elements = self._elements_under(action)
        try:
            message = self._run(action)
        except EnvError:
            raise
        except Exception as exc:
            self._alive()
            return ActionResult.failure(f"{action.action} failed: {exc}")
        time.sleep(self.config.settle_s)
        data = {"elements": elements} if elements else {}
        return ActionResult.success(message, window=self._active_title(), **data)

    def _elements_under(self, action: Action) -> dict[str, Any]:
        """The named accessible under each point of an action, by field (with --a11y): scripts from runs target it."""
        found = {name: self.element_at(p) for name, p in action.points().items()} if self.config.a11y else {}
        return {name: e.model_dump(mode="json") for name, e in found.items() if e is not None}

    def _run(self, action: Action) -> str:
        xin = self._input
        if xin is None:
            raise EnvError("the desktop is not open (call reset first)")
        at_corner = self.config.failsafe and xin.position() in _corners(*xin.screen_size())
        if at_corner and not isinstance(action, (Wait, Terminate)):
            raise RuntimeError("fail-safe: the mouse is in a corner of the screen (a person took over)")
        match action:
            case MouseMove(coordinate=p):
                xin.move(*_px(p))
            case LeftClick() | RightClick() | MiddleClick() | DoubleClick() | TripleClick():
                x, y = _px(action.coordinate) if action.coordinate else xin.position()
                button = {"right_click": Button.RIGHT, "middle_click": Button.MIDDLE}.get(action.action, Button.LEFT)
                clicks = {"double_click": 2, "triple_click": 3}.get(action.action, 1)
                xin.click(x, y, button, clicks)
            case LeftClickDrag(start_coordinate=start, coordinate=end):
                if start is not None:
                    xin.move(*_px(start))
                xin.button(Button.LEFT, True)
                x0, y0 = xin.position()
                x1, y1 = _px(end)
                for k in range(1, 11):  # intermediate motion, so that apps see a drag
                    xin.move(round(x0 + (x1 - x0) * k / 10), round(y0 + (y1 - y0) * k / 10))
                xin.button(Button.LEFT, False)
            case Scroll(coordinate=p, pixels=pixels) | HScroll(coordinate=p, pixels=pixels):
                clicks = max(1, round(abs(pixels) / self.config.scroll_pixels_per_click))
                x, y = _px(p) if p else xin.position()
                if isinstance(action, Scroll):  # positive: up, as pyautogui.scroll
                    button = Button.WHEEL_UP if pixels > 0 else Button.WHEEL_DOWN
                else:  # positive: right, as pyautogui.hscroll
                    button = Button.WHEEL_RIGHT if pixels > 0 else Button.WHEEL_LEFT
                for _ in range(clicks):
                    xin.click(x, y, button)
            case Key(keys=keys):
                xin.hotkey(keys)
            case Type(text=text):
                xin.type(text)
            case Wait(time=seconds):
                time.sleep(seconds)
            case Terminate(status=status):
                return f"terminated: {status}"
            case _:
                raise RuntimeError(f"the desktop cannot run {action.action!r} (a browser-only action)")
        return ""

    def _on_screen(self, p: tuple[float, float]) -> bool:
        whole = self._sct.monitors[0]
        x, y = _px(p)
        return whole["left"] <= x < whole["left"] + whole["width"] and whole["top"] <= y < whole["top"] + whole["height"]

    # -- checks ----------------------------------------------------------------------------

    def check(self, check: Check) -> ActionResult:
        self._alive()
        if any(v is not None for v in (check.text, check.url, check.selector, check.js)):
            return ActionResult.failure("check: text, url, selector and js are for the browser; the desktop checks window")
        pattern = re.compile(check.window or "")
        deadline = time.monotonic() + check.timeout
        while True:
            title = self._active_title() or ""
            titles = list(self._windows().values())
            if pattern.search(title) or any(pattern.search(t) for t in titles):
                return ActionResult.success(f"check {check.describe()} holds")
            if time.monotonic() >= deadline:
                return ActionResult.failure(
                    f"check {check.describe()} failed within {check.timeout:g}s: windows are {titles!r}"
                )
            time.sleep(CHECK_POLL_S)

    # -- X helpers -------------------------------------------------------------------------

    def _alive(self, app: bool = True) -> None:
        if self._sct is None:
            raise EnvError("the desktop is not open (call reset first)")
        if self._session is not None and not self._session.xvfb.alive:
            raise EnvError(f"the X server {self.display} is gone (Xvfb exited)")
        if self.display and self.display.startswith(":"):
            n = self.display[1:].split(".")[0]
            if not os.path.exists(f"/tmp/.X11-unix/X{n}"):
                raise EnvError(f"the X server {self.display} is gone")
        if app and self._app is not None and self._app.poll() is not None:  # after the server: it takes the app along
            raise EnvError(f"the app {self.config.launch!r} exited (code {self._app.returncode}) under the episode")

    def _windows(self) -> dict[int, str]:
        return windows(self._x, self.config.wm is not WindowManager.NONE)

    def _active_title(self) -> str | None:
        return active_title(self._x, self.config.wm is not WindowManager.NONE)


CHECK_POLL_S = 0.1  # a window check that does not hold reads the window list this often for its whole timeout
DESKTOP_EXTRA = "the desktop env needs guiagent's [desktop] extra (mss, python-xlib): pip install 'guiagent[desktop]'"


def require_desktop_extra() -> None:
    """An EnvError naming the extra to install where mss or python-xlib is missing (before anything starts)."""
    try:
        import mss  # noqa: F401
        import Xlib.display  # noqa: F401
    except ImportError as exc:
        raise EnvError(f"{DESKTOP_EXTRA} ({exc.name or 'a module'} is missing)") from None


def _element(node: A11yNode) -> ElementInfo:
    """An accessible as the targets' element record: its role, name and box (screen points)."""
    x, y, w, h = node.box or (0, 0, 0, 0)
    quoted = node.name.replace('"', '\\"')
    return ElementInfo(tag=node.role, path=node.path, selector=f'role={node.role} name="{quoted}"', role=node.role,
                       name=node.name, rect=(x, y, w, h))


def _corners(width: int, height: int) -> set[tuple[int, int]]:
    return {(0, 0), (width - 1, 0), (0, height - 1), (width - 1, height - 1)}


def _px(p: tuple[float, float]) -> tuple[int, int]:
    """X11 takes whole pixels: round half up, explicitly."""
    return (int(p[0] + 0.5), int(p[1] + 0.5))


def _ensure_xauthority() -> None:
    """python-xlib refuses to connect without an authority file, even to a server (like our Xvfb)
    that asks for none: give it an empty one when the user has none."""
    if os.environ.get("XAUTHORITY") or os.path.exists(os.path.expanduser("~/.Xauthority")):
        return
    import tempfile

    fd, path = tempfile.mkstemp(prefix="guiagent-xauth-")
    os.close(fd)
    os.environ["XAUTHORITY"] = path


def _quietly(fn: Any, *args: Any) -> Any:
    """python-xlib prints an xauth warning to stdout when it connects; keep the CLI's output clean."""
    import contextlib

    with contextlib.redirect_stdout(io.StringIO()):
        return fn(*args)
