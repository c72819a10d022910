"""How a browser env is set up (BrowserConfig), and how it waits for a check on a page."""

from __future__ import annotations

import re
import time
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from guiagent.tools import Check
from guiagent.tools.urlpolicy import UrlPolicy


class BrowserConfig(BaseModel):
    """How to start the browser. Recorded in meta.json so replay and resume build the same one."""

    model_config = ConfigDict(extra="forbid")

    executable_path: str | None = Field(default=None, description="Chromium binary; found automatically if unset.")
    headless: bool = True
    viewport_width: int = Field(default=1280, ge=200, le=7680)
    viewport_height: int = Field(default=800, ge=200, le=4320)
    device_scale_factor: float = Field(default=1.0, gt=0, le=4)
    profile_dir: str | None = Field(default=None, description="Persistent profile (cookies survive a resume).")
    downloads_dir: str | None = Field(default=None, description="Where downloads are kept (the episode's folder); none: not kept.")
    upload_dir: str | None = Field(
        default=None, description="The only folder a page's file chooser may take files from (none: uploads are refused).")
    dialogs: Literal["accept", "dismiss"] = "accept"
    prompt_text: str = Field(default="", description="Answer given to prompt() dialogs when accepting.")
    settle_timeout_s: float = Field(default=5.0, ge=0, description="Bound on waiting for the page after an action.")
    sample_fps: float = Field(default=0.0, ge=0, le=30, description="Keep repainted frames between observations at this rate (0: off).")
    action_timeout_s: float = Field(default=10.0, gt=0)
    record_elements: bool = Field(default=True, description="Record the element under each pointer action (scripts from runs).")
    observe_timeout_s: float = Field(default=10.0, gt=0)
    url_policy: UrlPolicy | None = Field(
        default_factory=lambda: UrlPolicy(private_network=True),
        description="Where the browser may go, enforced on every request (None: no guard at all).",
    )
    hosts: dict[str, str] = Field(default_factory=dict, description="Name -> address before DNS (tests, offline sites).")
    pass_env: list[str] = Field(default_factory=list, description="Variables Chromium gets beyond a minimal set.")


CHECK_POLL_MS = 100


def wait_for_check(page: Any, check: Check) -> str | None:
    """Wait (bounded by the check's timeout) until every condition holds on ``page``; the first one that
    does not, in words, or None. Playwright's own errors propagate (the caller knows a dead browser)."""
    deadline = time.monotonic() + check.timeout
    remaining_ms = lambda: max(1.0, (deadline - time.monotonic()) * 1000)  # noqa: E731
    if check.window is not None:
        return "window checks are for the desktop env"
    if check.url is not None:
        pattern = re.compile(check.url)
        while not pattern.search(page.url) and time.monotonic() < deadline:
            page.wait_for_timeout(25)
        if not pattern.search(page.url):
            return f"URL {page.url!r} does not match {check.url!r}"
    if check.selector is not None:
        page.wait_for_selector(check.selector, state="attached", timeout=remaining_ms())
    if check.text is not None:
        page.get_by_text(check.text).first.wait_for(state="visible", timeout=remaining_ms())
    if check.js is not None:
        # Polled every CHECK_POLL_MS, not on every animation frame: a check that does not hold (a failed
        # episode) would otherwise keep the renderer, compositor and browser painting for its whole timeout.
        page.wait_for_function(check.js, timeout=remaining_ms(), polling=CHECK_POLL_MS)
    return None
