"""A Chromium tab driven by Playwright: screenshots at device pixels, actions in CSS pixels.

``BrowserConfig`` (envs/browser_config.py) is re-exported here."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

from guiagent.envs import locate as dom
from guiagent.envs.base import ClosingEnv, EnvError, FrameTap
from guiagent.envs.browser_config import BrowserConfig, wait_for_check
from guiagent.envs.chromium import (
    PAGE_IDLE_JS,
    PAINTED_JS,
    POPUP_HOOK,
    PlaywrightDriver,
    SharedBrowser,
    launch_own,
)
from guiagent.envs.chromium import (
    first_line as _first_line,
)
from guiagent.envs.netguard import NetworkGuard, blocked_notes, network_error, refusal
from guiagent.envs.page_input import PageInput
from guiagent.envs.screencast import Screencast
from guiagent.envs.transfers import TransferRefused, keep_downloads, listing, upload_files
from guiagent.tools import (
    Action,
    ActionResult,
    CallUser,
    Check,
    FrameGeometry,
    Navigate,
    Observation,
    Type,
)

if TYPE_CHECKING:
    from playwright.sync_api import (
        Browser,
        BrowserContext,
        Dialog,
        FileChooser,
        Page,
        Playwright,
        Request,
        ViewportSize,
    )
from guiagent.tools.observation import png_size
from guiagent.tools.targets import ElementInfo, LocatedElement, Target

__all__ = ["BrowserConfig", "BrowserEnv", "SharedBrowser"]

# A download the action set off (a clicked download link) is waited for this long even past the settle bound: it is
# what the step did, and a loaded machine starts it late.
DOWNLOAD_START_S = 30.0

class _FollowPopup(Exception):
    """Settling found that the action opened a tab: settle again, on that tab."""


class BrowserEnv(ClosingEnv):
    """The ``Env`` for a Chromium tab. Follows new tabs; reports dialogs and downloads; a page's file chooser
    takes files from the upload folder only (envs/transfers.py).

    With ``shared``, the env opens a fresh context in that already running browser and closes only
    the context; otherwise it starts (and stops) a Chromium of its own.
    """

    kind = "browser"

    def __init__(self, config: BrowserConfig | None = None, shared: SharedBrowser | None = None) -> None:
        self.config = config or BrowserConfig()
        if shared is not None and not shared.serves(self.config):
            raise EnvError("a shared browser cannot serve a persistent profile or another Chromium binary/mode")
        self._shared = shared
        self._pw: Playwright | None = None
        self._browser: Browser | None = None
        self._context: BrowserContext | None = None
        self.page: Page | None = None
        self._pages: list[Page] = []
        self._input = PageInput()  # the mouse and keyboard; it keeps where the mouse is
        self._events: dict[str, list[Any]] = {"dialogs": [], "downloads": [], "new_pages": [], "page_errors": [],
                                              "file_choosers": []}
        self._chooser: FileChooser | None = None  # a page's file chooser the last action opened: the next `type` names the file
        self._wanted_downloads = 0  # download links the current action clicked (see POPUP_HOOK)
        self._inflight = 0
        self._requests_started = 0
        self._crashed: str | None = None
        self._screencast: Screencast | None = None
        self._tap: FrameTap | None = None
        self._guard: NetworkGuard | None = None

    # -- lifecycle -------------------------------------------------------------------------

    def reset(self, url: str | None = None) -> None:
        if url and (refused := refusal(self.config.url_policy, url)):
            raise EnvError(refused)
        if self._context is None:
            self._launch()
        self._chooser = None
        self._drop_extra_pages()
        if url:
            self._goto(url)

    def _launch(self) -> None:
        cfg = self.config
        if cfg.url_policy is not None:
            self._guard = NetworkGuard(cfg.url_policy, cfg.hosts).start()
        context_args: dict[str, Any] = dict(viewport={"width": cfg.viewport_width, "height": cfg.viewport_height},
                                            device_scale_factor=cfg.device_scale_factor, accept_downloads=True)
        if self._shared is not None:
            if self._guard is not None:  # this context's own guard: the policy is the episode's
                context_args["proxy"] = {"server": self._guard.proxy_url, "bypass": "<-loopback>"}
            try:
                browser = self._browser = self._shared.start().browser
                if browser is None:
                    raise EnvError("the shared browser is not running")
                self._context = browser.new_context(**context_args)
            except Exception as exc:
                if isinstance(exc, EnvError):
                    raise
                self.close()
                raise EnvError(f"could not open a browser context: {_first_line(exc)}") from None
            self._init_context()
            return
        try:
            self._pw, self._browser, self._context = launch_own(
                cfg, self._guard.chromium_args() if self._guard is not None else [], context_args)
        except EnvError:
            self.close()
            raise
        self._init_context()

    def _init_context(self) -> None:
        cfg, context = self.config, self._started_context()
        context.set_default_timeout(cfg.action_timeout_s * 1000)
        context.add_init_script(POPUP_HOOK)
        context.on("page", self._on_new_page)
        context.on("request", self._on_request)
        context.on("requestfinished", self._on_request_done)
        context.on("requestfailed", self._on_request_done)
        existing = list(context.pages)
        for p in existing:
            self._track(p)
        self.page = existing[0] if existing else context.new_page()
        if cfg.sample_fps > 0 or self._tap is not None:
            self._screencast = Screencast(context, cfg.sample_fps, cfg.viewport_width, cfg.viewport_height,
                                          cfg.device_scale_factor, tap=self._tap)
        self._events["new_pages"].clear()

    def drain_frames(self) -> list[Observation]:
        """Frames painted since the last call (with ``sample_fps``): what happened during the actions."""
        if self._screencast is None:
            return []
        self._screencast.follow(self._live_page())
        return self._screencast.drain()

    def tap_frames(self, tap: FrameTap) -> bool:
        """Hand the screencast's frames to ``tap`` as they are painted (from ``reset`` on; also without sample_fps)."""
        self._tap = tap
        return True

    def close(self) -> None:
        if self._screencast is not None:
            self._screencast.stop()
            self._screencast = None
        owned = (self._context,) if self._shared is not None else (self._context, self._browser)
        for obj in owned:
            if obj is not None:
                try:
                    obj.close()
                except Exception:
                    pass  # already gone: closing is best effort and idempotent
        if self._pw is not None:
            PlaywrightDriver.release()
        if self._guard is not None:
            self._guard.stop()
            self._guard = None
        self._pw = self._browser = self._context = self.page = None
        self._pages = []

    def settings(self) -> dict[str, Any]:
        return {"kind": self.kind, **self.config.model_dump()}

    # -- observing -------------------------------------------------------------------------

    def observe(self) -> Observation:
        self._follow_late_tab()
        page = self._live_page()
        deadline = time.monotonic() + self.config.observe_timeout_s
        while True:
            t0 = time.time()
            try:
                png = page.screenshot(type="png", caret="initial", timeout=self.config.observe_timeout_s * 1000)
                break
            except Exception as exc:
                self._raise_if_dead(exc)
                # Chromium refuses a capture while a navigation swaps the document: let it finish.
                if "Unable to capture screenshot" not in str(exc) or time.monotonic() > deadline:
                    raise EnvError(f"screenshot failed: {_first_line(exc)}") from None
                page.wait_for_timeout(50)
                page = self._live_page()
        t1 = time.time()
        width, height = png_size(png)
        geometry = FrameGeometry(width=width, height=height, scale=width / self._viewport(page)["width"])
        try:
            title = page.title()
        except Exception:
            title = None
        return Observation(image=png, t=(t0 + t1) / 2, geometry=geometry, url=page.url, title=title)

    @property
    def url(self) -> str | None:
        return self.page.url if self.page is not None else None

    def evaluate(self, expression: str) -> Any:
        """The value of a JavaScript expression in the current page (for a task's reward or setup)."""
        page = self._live_page()
        try:
            return page.evaluate(expression)
        except Exception as exc:
            self._raise_if_dead(exc)
            raise EnvError(f"evaluating {expression[:60]!r} failed: {_first_line(exc)}") from None

    # -- acting ----------------------------------------------------------------------------

    def execute(self, action: Action) -> ActionResult:
        if isinstance(action, CallUser):
            return ActionResult.failure(CallUser.NOT_AN_ENV_ACTION)
        page = self._live_page()
        chooser, self._chooser = self._chooser, None  # any other action closes a chooser left open
        if chooser is not None and isinstance(action, Type):
            return self._choose_files(chooser, action.text)
        for name, point in action.points().items():
            if not self._in_viewport(point):
                vw, vh = self._viewport(page)["width"], self._viewport(page)["height"]
                return ActionResult.failure(
                    f"{action.action}: {name} [{point[0]:g}, {point[1]:g}] is outside the {vw}x{vh} viewport"
                )
        self._follow_late_tab()
        for events in self._events.values():
            events.clear()
        self._requests_started = 0
        self._wanted_downloads = 0
        if self._guard is not None:
            self._guard.drain()
        if isinstance(action, Navigate) and (refused := refusal(self.config.url_policy, action.url)):
            return ActionResult.failure(refused, blocked=[action.url])
        elements = dom.elements_under(page, action) if self.config.record_elements else {}
        try:
            message = self._input.run(page, action)
        except Exception as exc:
            self._raise_if_dead(exc)
            return ActionResult.failure(f"{action.action} failed: {_first_line(exc)}")
        data = self._settle()
        if elements:
            data["elements"] = elements
        notes = [message] if message else []
        if data.get("settle"):
            notes.append(data["settle"])
        if data.get("dialogs"):
            notes += [f"{d['type']} dialog {d['message']!r} was {d['handled']}" for d in data["dialogs"]]
        if data.get("new_tab"):
            notes.append(f"a new tab opened: {data['new_tab']}")
        if data.get("downloads"):
            notes += [f"downloaded {d['path']}" if "path" in d else f"a download of {d['url']} was {d['error']}"
                      for d in data["downloads"]]
        if self._events["file_choosers"]:
            self._chooser = self._events["file_choosers"][-1]
            notes.append(f"a file chooser opened: {listing(self.config.upload_dir)}")
        notes += blocked_notes(data.get("blocked", []))
        return ActionResult.success("; ".join(notes), **data)

    def _choose_files(self, chooser: FileChooser, text: str) -> ActionResult:
        """The file chooser's files, named by the model's text: only from the upload folder (envs/transfers.py)."""
        try:
            files = upload_files(self.config.upload_dir, text, chooser.is_multiple())
        except TransferRefused as exc:
            self._chooser = chooser  # still open: another name may be typed
            return ActionResult.failure(str(exc))
        try:
            chooser.set_files(files)
        except Exception as exc:
            self._raise_if_dead(exc)
            return ActionResult.failure(f"the page's file chooser did not take the file: {_first_line(exc)}")
        data = self._settle()
        data["uploads"] = [{"name": f["name"], "bytes": len(f["buffer"])} for f in files]
        names = ", ".join(f"{f['name']} ({len(f['buffer'])} bytes)" for f in files)
        return ActionResult.success(f"chose {names} from the upload folder in the page's file chooser", **data)

    def locate(self, target: Target) -> LocatedElement:
        """A selector/text/role target's visible element, scrolled into view (raises TargetError)."""
        return dom.locate(self._live_page(), target)

    def element_at(self, point: tuple[float, float]) -> ElementInfo | None:
        return dom.element_at(self._live_page(), point)

    def _in_viewport(self, p: tuple[float, float]) -> bool:
        vp = self._viewport(self._current_page())
        return 0 <= p[0] < vp["width"] and 0 <= p[1] < vp["height"]

    def _settle_pass(self, deadline: float, to_front: bool) -> None:
        page = self._live_page()
        remaining_ms = lambda: max(1.0, (deadline - time.monotonic()) * 1000)  # noqa: E731
        if self._requests_started:
            # Network quiet: no request in flight for 50 ms.
            quiet_since = None
            while time.monotonic() < deadline:
                if self._inflight <= 0:
                    quiet_since = quiet_since or time.monotonic()
                    if time.monotonic() - quiet_since >= 0.05:
                        break
                else:
                    quiet_since = None
                page.wait_for_timeout(10)
        page.wait_for_load_state("load", timeout=remaining_ms())
        if to_front:
            page.bring_to_front()
        painted = page.evaluate(PAINTED_JS)
        if painted["pending"]:
            # The page's fetch/XHR work (and what its responses set off, a dialog included) ends
            # before the result is read; a request that never ends costs the settle timeout only.
            try:
                page.wait_for_function(PAGE_IDLE_JS, timeout=remaining_ms())
            except PlaywrightTimeoutError:
                return
            painted = page.evaluate(PAINTED_JS)
        if painted["popups"] and not self._events["new_pages"]:
            self._started_context().wait_for_event("page", timeout=remaining_ms())
        self._wanted_downloads += painted["downloads"]
        if len(self._events["downloads"]) < self._wanted_downloads:
            try:
                page.wait_for_event("download", timeout=max(remaining_ms(), DOWNLOAD_START_S * 1000))
            except PlaywrightTimeoutError:
                pass  # the page cancelled it, or it never started: the result says what did arrive
        if painted.get("choosers") and not self._events["file_choosers"]:
            try:
                page.wait_for_event("filechooser", timeout=remaining_ms())
            except PlaywrightTimeoutError:
                pass  # a chooser the browser did not open (no user activation): nothing to choose
        if self._events["new_pages"]:
            raise _FollowPopup()

    def _settle(self) -> dict[str, Any]:
        """Wait (bounded) for what the action set off: a new tab, network, a load, a paint."""
        deadline = time.monotonic() + self.config.settle_timeout_s
        data: dict[str, Any] = {}
        new_pages = self._adopt_new_page()
        problem = None
        for _ in range(20):  # a pass is cut short when a navigation destroys the page it waits on
            try:
                self._settle_pass(deadline, to_front=bool(new_pages))
                problem = None
                break
            except _FollowPopup:
                new_pages = self._adopt_new_page() or new_pages
            except Exception as exc:
                self._raise_if_dead(exc)
                problem = _first_line(exc)
                if time.monotonic() >= deadline:
                    break
        if problem:
            data["settle"] = f"page did not settle within {self.config.settle_timeout_s:g}s: {problem}"
        if new_pages:
            data["new_tab"] = self._current_page().url
        data["url"] = self._current_page().url
        if self._screencast is not None:
            self._screencast.follow(self.page)
        if self._events["dialogs"]:
            data["dialogs"] = list(self._events["dialogs"])
        if self._events["page_errors"]:
            data["page_errors"] = list(self._events["page_errors"])
        if downloads := keep_downloads(self._events["downloads"], self.config.downloads_dir):
            data["downloads"] = downloads
        if self._guard is not None and (blocked := [b.describe() for b in self._guard.drain()]):
            data["blocked"] = blocked
        return data

    # -- checks ----------------------------------------------------------------------------

    def check(self, check: Check) -> ActionResult:
        page = self._live_page()
        try:
            failed = wait_for_check(page, check)
        except Exception as exc:
            self._raise_if_dead(exc)
            failed = _first_line(exc)
        if failed:
            return ActionResult.failure(f"check {check.describe()} failed within {check.timeout:g}s: {failed}")
        return ActionResult.success(f"check {check.describe()} holds")

    # -- tabs, events, failures ------------------------------------------------------------

    def _track(self, page: Page) -> None:
        self._pages.append(page)
        page.on("dialog", self._on_dialog)
        page.on("download", lambda d: self._events["downloads"].append(d))
        page.on("filechooser", lambda c: self._events["file_choosers"].append(c))  # intercepted: no dialog opens
        page.on("crash", lambda _: setattr(self, "_crashed", "the page crashed"))
        page.on("pageerror", lambda err: self._events["page_errors"].append(_first_line(err)))

    def _follow_late_tab(self) -> None:
        """Follow a tab that opened after the last action had settled, once it has loaded."""
        if self._adopt_new_page():
            try:
                page = self._current_page()
                page.wait_for_load_state("load", timeout=self.config.settle_timeout_s * 1000)
                page.bring_to_front()
            except Exception as exc:
                self._raise_if_dead(exc)

    def _adopt_new_page(self) -> bool:
        """Switch to the newest tab opened since the last call; True if there was one."""
        new_pages = [p for p in self._events["new_pages"] if not p.is_closed()]
        self._events["new_pages"].clear()
        if new_pages:
            self.page = new_pages[-1]
        return bool(new_pages)

    def _on_new_page(self, page: Page) -> None:
        self._track(page)
        self._events["new_pages"].append(page)

    def _on_dialog(self, dialog: Dialog) -> None:
        accept = self.config.dialogs == "accept"
        if dialog.type == "beforeunload" or accept:
            dialog.accept(self.config.prompt_text) if dialog.type == "prompt" else dialog.accept()
            handled = "accepted"
        else:
            dialog.dismiss()
            handled = "dismissed"
        self._events["dialogs"].append({"type": dialog.type, "message": dialog.message, "handled": handled})

    def _on_request(self, _: Request) -> None:
        self._inflight += 1
        self._requests_started += 1

    def _on_request_done(self, _: Request) -> None:
        self._inflight = max(0, self._inflight - 1)

    def _started_context(self) -> BrowserContext:
        """The browser context; an EnvError if the env is not started."""
        if self._context is None:
            raise EnvError("the browser is not running (call reset first)")
        return self._context

    def _current_page(self) -> Page:
        """The tab the env acts on, as it is (``_live_page`` also checks that the browser and the tab live); an
        EnvError if the env is not started."""
        if self.page is None:
            raise EnvError("the browser is not running (call reset first)")
        return self.page

    def _viewport(self, page: Page) -> ViewportSize:
        """The page's viewport (every context here is opened with one: the config's size if Playwright has none)."""
        return page.viewport_size or {"width": self.config.viewport_width, "height": self.config.viewport_height}

    def _live_page(self) -> Page:
        if self._context is None:
            raise EnvError("the browser is not running (call reset first)")
        if self._crashed:
            raise EnvError(f"the browser is gone: {self._crashed}")
        if self._browser is not None and not self._browser.is_connected():
            raise EnvError("the browser is gone: Chromium closed or crashed")
        if self.page is None or self.page.is_closed():
            open_pages = [p for p in self._pages if not p.is_closed()]
            if not open_pages:
                raise EnvError("the browser has no open tab left")
            self.page = open_pages[-1]
        return self.page

    def _drop_extra_pages(self) -> None:
        for p in list(self._pages):
            if p is not self.page and not p.is_closed():
                p.close()
        self._pages = [p for p in self._pages if not p.is_closed()]

    def _goto(self, url: str) -> None:
        page = self._live_page()
        try:
            if error := network_error(page.goto(url, wait_until="load", timeout=self.config.action_timeout_s * 1000)):
                raise RuntimeError(error)
        except Exception as exc:
            self._raise_if_dead(exc)
            raise EnvError(f"could not open {url}: {_first_line(exc)}") from None

    def _raise_if_dead(self, exc: Exception) -> None:
        text = str(exc)
        dead = (self._browser is not None and not self._browser.is_connected()) or any(
            s in text for s in ("Target page, context or browser has been closed", "Browser has been closed",
                                "Target crashed", "Connection closed")
        )
        if dead or self._crashed:
            raise EnvError(f"the browser is gone: {_first_line(exc)}") from None
