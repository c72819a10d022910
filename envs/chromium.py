"""Starting Chromium for Playwright: the binary (Debian's), one driver per thread, in-page hooks."""

from __future__ import annotations

import os
import shutil
import threading
from pathlib import Path
from typing import Any

from guiagent.envs.base import EnvError

CHROMIUM_CANDIDATES = ("/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome")

# Flags for a closed network and stable pixels: no background traffic, no smooth scrolling (a wheel
# scroll lands at once), one colour profile.
CHROMIUM_ARGS = [
    "--disable-gpu", "--disable-background-networking", "--disable-component-update",
    "--disable-sync", "--no-first-run", "--disable-quic", "--disable-smooth-scrolling",
    "--force-color-profile=srgb",
    "--disable-features=Translate,MediaRouter,AutofillServerCommunication,OptimizationHints",
]

# Marks, in the page, that an action asked for a new tab, so that settling waits for it (and
# only then): a popup reaches Playwright tens of milliseconds after the click that opened it.
POPUP_HOOK = """
(() => {
  const mark = () => { window.__guiagentPopup = (window.__guiagentPopup || 0) + 1; };
  const open = window.open;
  window.open = function (...args) { mark(); return open.apply(this, args); };
  const onClick = e => {
    const a = e.target instanceof Element ? e.target.closest("a[href]") : null;
    if (a && (a.target === "_blank" || e.ctrlKey || e.metaKey || e.shiftKey || e.button === 1)) mark();
  };
  document.addEventListener("click", onClick, true);
  document.addEventListener("auxclick", onClick, true);
})();
"""
PAINTED_JS = """() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(() => {
  const popups = window.__guiagentPopup || 0; window.__guiagentPopup = 0; r(popups);
})))"""


class PlaywrightDriver:
    """One Playwright driver per thread, shared by the envs of that thread: Playwright's sync API
    refuses a second ``sync_playwright()`` while one runs in the same thread."""

    _local = threading.local()

    @classmethod
    def acquire(cls) -> Any:
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
