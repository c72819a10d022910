"""One action on a Playwright page, through its mouse and keyboard, in CSS pixels."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from guiagent.envs.keys import playwright_key
from guiagent.envs.netguard import network_error
from guiagent.tools import (
    Action,
    Back,
    DoubleClick,
    HScroll,
    Key,
    LeftClick,
    LeftClickDrag,
    MiddleClick,
    MouseMove,
    Navigate,
    RightClick,
    Scroll,
    Terminate,
    TripleClick,
    Type,
    Wait,
)

if TYPE_CHECKING:
    from playwright.sync_api import Page

BUTTONS: dict[str, Literal["left", "middle", "right"]] = {"right_click": "right", "middle_click": "middle"}


class PageInput:
    """Runs actions on a page's mouse and keyboard, and keeps where the mouse is (a click without a point, a drag
    from where the cursor is)."""

    def __init__(self) -> None:
        self.mouse: tuple[float, float] = (0.0, 0.0)

    def move(self, page: Page, p: tuple[float, float], steps: int = 1) -> None:
        page.mouse.move(p[0], p[1], steps=steps)
        self.mouse = (p[0], p[1])

    def run(self, page: Page, action: Action) -> str:
        """Run ``action`` (CSS pixels) on ``page``; a message for a terminate, else empty. Raises on failure."""
        mouse = page.mouse
        match action:
            case MouseMove(coordinate=p):
                self.move(page, p)
            case LeftClick() | RightClick() | MiddleClick() | DoubleClick() | TripleClick():
                p = action.coordinate or self.mouse
                button = BUTTONS.get(action.action, "left")
                count = {"double_click": 2, "triple_click": 3}.get(action.action, 1)
                self.move(page, p)
                mouse.click(p[0], p[1], button=button, click_count=count)
            case LeftClickDrag(start_coordinate=start, coordinate=end):
                self.move(page, start or self.mouse)
                mouse.down()
                self.move(page, end, steps=12)
                mouse.up()
            case Scroll(coordinate=p, pixels=pixels):
                if p is not None:
                    self.move(page, p)
                mouse.wheel(0, -pixels)
            case HScroll(coordinate=p, pixels=pixels):
                if p is not None:
                    self.move(page, p)
                mouse.wheel(pixels, 0)  # positive scrolls right, as pyautogui.hscroll
            case Key(keys=keys):
                names = [playwright_key(k, combo=len(keys) > 1) for k in keys]
                for name in names:
                    page.keyboard.down(name)
                for name in reversed(names):
                    page.keyboard.up(name)
            case Type(text=text):
                page.keyboard.type(text)
            case Wait(time=seconds):
                page.wait_for_timeout(seconds * 1000)
            case Navigate(url=url):
                if error := network_error(page.goto(url, wait_until="load")):
                    raise RuntimeError(f"{error} at {url}")
            case Back():
                if page.go_back(wait_until="load") is None and page.url in ("about:blank", ""):
                    raise RuntimeError("there is no previous page in this tab's history")
            case Terminate(status=status):
                return f"terminated: {status}"
            case _:
                raise RuntimeError(f"the browser cannot run {action.action!r}")
        return ""
