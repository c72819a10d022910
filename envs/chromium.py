"""Starting Chromium for Playwright: the binary (Debian's), one driver per thread, a browser shared by
episodes, in-page hooks."""

from __future__ import annotations

import os
import re
import shutil
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

from guiagent.envs.base import EnvError
from guiagent.envs.cleanenv import clean_environ
from guiagent.envs.why import why_lines

if TYPE_CHECKING:
    from playwright.sync_api import Browser, BrowserContext, Playwright

    from guiagent.envs.browser_config import BrowserConfig

CHROMIUM_CANDIDATES = ("/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome")

# Flags for a closed network and stable pixels: no background traffic, no smooth scrolling (a wheel
# scroll lands at once), one colour profile.
CHROMIUM_ARGS = [
    "--disable-gpu", "--disable-background-networking", "--disable-component-update",
    "--disable-sync", "--no-first-run", "--disable-quic", "--disable-smooth-scrolling",
    "--force-color-profile=srgb",
    "--disable-features=Translate,MediaRouter,AutofillServerCommunication,OptimizationHints",
]

# Marks, in the page, that an action asked for a new tab, a download or a file chooser, so that settling
# waits for it (and only then): each reaches Playwright tens of milliseconds after the click.
POPUP_HOOK = """
(() => {
  const mark = () => { window.__guiagentPopup = (window.__guiagentPopup || 0) + 1; };
  const chooser = () => { window.__guiagentChooser = (window.__guiagentChooser || 0) + 1; };
  const isFile = el => el instanceof HTMLInputElement && el.type === "file" && !el.disabled;
  for (const name of ["click", "showPicker"]) {
    const own = HTMLInputElement.prototype[name];
    if (own) HTMLInputElement.prototype[name] = function (...args) { if (isFile(this)) chooser(); return own.apply(this, args); };
  }
  const open = window.open;
  window.open = function (...args) { mark(); return open.apply(this, args); };
  const onClick = e => {
    const a = e.target instanceof Element ? e.target.closest("a[href]") : null;
    if (a && (a.target === "_blank" || e.ctrlKey || e.metaKey || e.shiftKey || e.button === 1)) mark();
    // A download link: its download reaches Playwright after the click, later still on a busy machine.
    if (a && a.hasAttribute("download") && !e.defaultPrevented) {
      window.__guiagentDownload = (window.__guiagentDownload || 0) + 1;
    }
    // A file input clicked (or its label): its chooser reaches Playwright after the click.
    const el = e.target instanceof Element ? e.target : null;
    const label = el ? el.closest("label") : null;
    if (e.type === "click" && !e.defaultPrevented && el && (isFile(el) || (label && isFile(label.control)))) chooser();
  };
  document.addEventListener("click", onClick, true);
  document.addEventListener("auxclick", onClick, true);
  // The page's own count of its fetch/XHR work in flight (reading a body included): the settle pass
  // waits on it, so what a response sets off (a dialog, a render) belongs to the action that sent it,
  // however late Playwright reports the request. The end is counted a task later, so the code that
  // awaits the response (reading its body, then e.g. alert()) runs before the count drops.
  window.__guiagentPending = 0;
  const track = p => {
    window.__guiagentPending++;
    const done = () => setTimeout(() => { window.__guiagentPending--; }, 0);
    p.then(done, done);
    return p;
  };
  const fetch = window.fetch;
  window.fetch = function (...args) { return track(fetch.apply(this, args)); };
  for (const name of ["json", "text", "arrayBuffer", "blob", "formData"]) {
    const read = Response.prototype[name];
    Response.prototype[name] = function (...args) { return track(read.apply(this, args)); };
  }
  const send = XMLHttpRequest.prototype.send;
  XMLHttpRequest.prototype.send = function (...args) {
    track(new Promise(r => this.addEventListener("loadend", r, {once: true})));
    return send.apply(this, args);
  };
})();
"""
# Two animation frames (the effects of an action are painted), then what the page still owes:
# popups, downloads and file choosers it asked for and its fetch/XHR work in flight.
PAINTED_JS = """() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(() => {
  const popups = window.__guiagentPopup || 0; window.__guiagentPopup = 0;
  const downloads = window.__guiagentDownload || 0; window.__guiagentDownload = 0;
  const choosers = window.__guiagentChooser || 0; window.__guiagentChooser = 0;
  r({popups, downloads, choosers, pending: window.__guiagentPending || 0});
})))"""
PAGE_IDLE_JS = "() => !window.__guiagentPending"


class PlaywrightDriver:
    """One Playwright driver per thread, shared by the envs of that thread: Playwright's sync API
    refuses a second ``sync_playwright()`` while one runs in the same thread."""

    _local = threading.local()

    @classmethod
    def acquire(cls) -> Playwright:
        if getattr(cls._local, "users", 0) == 0:
            from playwright.sync_api import sync_playwright

            cls._local.playwright = sync_playwright().start()
        cls._local.users = getattr(cls._local, "users", 0) + 1
        return cls._local.playwright

    @classmethod
    def release(cls) -> None:
        cls._local.users -= 1
        if cls._local.users == 0:
            playwright, cls._local.playwright = cls._local.playwright, None
            playwright.stop()


def find_chromium(explicit: str | None = None) -> str:
    """The Chromium binary to drive: ``explicit``, ``$GUIAGENT_CHROMIUM``, or Debian's package."""
    candidates = (explicit,) if explicit else (os.environ.get("GUIAGENT_CHROMIUM"), *CHROMIUM_CANDIDATES)
    for candidate in candidates:
        if candidate and (Path(candidate).is_file() or shutil.which(candidate)):
            return shutil.which(candidate) or candidate
    if explicit:
        raise EnvError(f"Chromium not found at {explicit!r}")
    raise EnvError(
        "Chromium not found: install Debian's package (apt-get install chromium) "
        "or pass --chromium PATH / set GUIAGENT_CHROMIUM"
    )


class SharedBrowser:
    """One Chromium process kept across episodes (a batch worker's): each ``BrowserEnv`` built on it
    gets a fresh context (its own cookies, storage, cache, permissions) and closes only that context,
    so an episode pays for a new context (tens of ms), not for starting Chromium.

    Playwright's sync API is bound to the thread that starts it: use the browser from that thread.
    """

    def __init__(self, executable_path: str | None = None, headless: bool = True) -> None:
        self.executable_path, self.headless = executable_path, headless
        self._pw: Playwright | None = None
        self.browser: Browser | None = None

    def start(self) -> SharedBrowser:
        if self.browser is None:
            executable = find_chromium(self.executable_path)
            args: list[str] = []
            try:
                self._pw = PlaywrightDriver.acquire()
                # Each episode's context brings its own proxy (its URL policy's guard); WebRTC must not
                # send UDP around it. The browser sees a clean environment, as an env's own would.
                args = [*chromium_args(), "--force-webrtc-ip-handling-policy=disable_non_proxied_udp"]
                self.browser = self._pw.chromium.launch(executable_path=executable, headless=self.headless,
                                                        args=args, env={**clean_environ([])})
            except Exception as exc:
                self.close()
                raise EnvError(start_failure(exc, executable, args)) from None
        return self

    @property
    def alive(self) -> bool:
        return self.browser is not None and self.browser.is_connected()

    def serves(self, config: Any) -> bool:
        """Whether an env with ``config`` (a BrowserConfig) can run on this browser: same binary and
        mode, no persistent profile, no variables passed to the browser's environment."""
        return config.profile_dir is None and config.headless == self.headless and not config.pass_env and (
            config.executable_path in (None, self.executable_path))

    def close(self) -> None:
        if self.browser is not None:
            try:
                self.browser.close()
            except Exception:
                pass  # already gone
        if self._pw is not None:
            PlaywrightDriver.release()
        self._pw = self.browser = None

    def __enter__(self) -> SharedBrowser:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.close()


def chromium_args() -> list[str]:
    args = list(CHROMIUM_ARGS)
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        args.append("--no-sandbox")  # Chromium refuses to sandbox as root
    return args


def first_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    line = text.splitlines()[0]
    return line.removeprefix("Error: ")


# A browser's stderr lines (Playwright keeps them under "Browser logs:" or in its call log, "  - [pid=N][err] ...").
_BROWSER_ERR = re.compile(r"^(?:\s*- )?\[pid=\d+\]\[err\] (.*)$", re.MULTILINE)
_EXIT = re.compile(r"<process did exit: exitCode=(\w+), signal=(\w+)>")
_NOISE = re.compile(r"DevTools listening|dbus|Fontconfig|crashpad|ERROR:viz_main_impl|GPU process", re.IGNORECASE)
MAX_WHY_LINES = 6


def start_failure(exc: BaseException, executable: str, args: list[str]) -> str:
    """Why Chromium did not start, for a person: the binary and the flags guiagent gave it, how it exited, and the
    lines of its stderr that say why (a missing library, the sandbox, /dev/shm), not only Playwright's first line."""
    text = str(exc)
    why = why_lines("\n".join(line for line in _BROWSER_ERR.findall(text) if not _NOISE.search(line)), MAX_WHY_LINES + 1)
    exited = _EXIT.search(text)
    how = ""
    if exited:
        how = f"; it exited with code {exited[1]}" if exited[1] != "null" else f"; it was killed by {exited[2]}"
    head = f"could not start Chromium: {executable} {' '.join(args)}".rstrip() + how
    if not why:
        return f"{head}: {first_line(exc)}"
    shown = why[:MAX_WHY_LINES] + ([f"... and {len(why) - MAX_WHY_LINES} more lines"] if len(why) > MAX_WHY_LINES else [])
    return head + ":\n" + "\n".join(f"  {line}" for line in shown)


def launch_own(cfg: BrowserConfig, extra_args: list[str],
               context_args: dict[str, Any]) -> tuple[Playwright, Browser | None, BrowserContext]:
    """Chromium of the env's own (or its persistent profile's context) with ``extra_args`` (the network guard's)
    and its first context: the thread's driver, the browser (None for a profile) and the context. A failure
    releases what it took and raises EnvError saying why Chromium did not start."""
    executable = find_chromium(cfg.executable_path)
    args = chromium_args() + extra_args
    env: dict[str, str | float | bool] = {**clean_environ(cfg.pass_env)}
    pw = PlaywrightDriver.acquire()
    browser = None
    try:
        if cfg.profile_dir:
            context = pw.chromium.launch_persistent_context(
                cfg.profile_dir, executable_path=executable, headless=cfg.headless, args=args, env=env, **context_args)
        else:
            browser = pw.chromium.launch(executable_path=executable, headless=cfg.headless, args=args, env=env)
            context = browser.new_context(**context_args)
    except Exception as exc:
        if browser is not None:
            try:
                browser.close()
            except Exception:
                pass  # already gone
        PlaywrightDriver.release()
        raise EnvError(start_failure(exc, executable, args)) from None
    return pw, browser, context
