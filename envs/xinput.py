"""Mouse and keys on X11 through XTest (python-xlib), on the env's own connection to its display.

pyautogui talks to the display that ``$DISPLAY`` named when it was imported, once per process; an env
that starts its own Xvfb (a new display each episode) could only use it by replacing its private
connection. XTest is what pyautogui sends underneath: the same events, on a connection the env owns.
Buttons and wheel as X numbers them: 1 left, 2 middle, 3 right, 4/5 wheel up/down, 6/7 left/right.
"""

from __future__ import annotations

import time
from enum import IntEnum
from typing import Any

from guiagent.envs.keymap import UnicodeTyper, keysym_of

# Canonical modifier names (tools.keys) -> their X keysym names; named keys are X keysym names already.
MODIFIER_KEYSYMS = {"ctrl": "Control_L", "alt": "Alt_L", "shift": "Shift_L", "super": "Super_L"}


class Button(IntEnum):
    LEFT = 1
    MIDDLE = 2
    RIGHT = 3
    WHEEL_UP = 4
    WHEEL_DOWN = 5
    WHEEL_LEFT = 6
    WHEEL_RIGHT = 7


class XInput:
    """Pointer and keyboard of one python-xlib ``Display``; ``restore`` gives back keycodes it mapped."""

    def __init__(self, display: Any) -> None:
        self.d = display
        self._typer: UnicodeTyper | None = None

    @property
    def typer(self) -> UnicodeTyper:
        if self._typer is None:
            self._typer = UnicodeTyper(self.d)
        return self._typer

    def _fake(self, event: int, detail: int = 0, **kw: int) -> None:
        from Xlib.ext import xtest

        xtest.fake_input(self.d, event, detail, **kw)

    # -- pointer ---------------------------------------------------------------------------

    def position(self) -> tuple[int, int]:
        pointer = self.d.screen().root.query_pointer()
        return pointer.root_x, pointer.root_y

    def screen_size(self) -> tuple[int, int]:
        screen = self.d.screen()
        return screen.width_in_pixels, screen.height_in_pixels

    def move(self, x: int, y: int) -> None:
        from Xlib import X

        self._fake(X.MotionNotify, x=x, y=y)
        self.d.sync()

    def button(self, button: Button, down: bool) -> None:
        from Xlib import X

        self._fake(X.ButtonPress if down else X.ButtonRelease, int(button))
        self.d.sync()

    def click(self, x: int, y: int, button: Button = Button.LEFT, clicks: int = 1, interval_s: float = 0.05) -> None:
        """Move to (x, y), then ``clicks`` presses and releases ``interval_s`` apart (a double click's timing)."""
        self.move(x, y)
        for i in range(clicks):
            if i:
                time.sleep(interval_s)
            self.button(button, True)
            self.button(button, False)

    # -- keys ------------------------------------------------------------------------------

    def keysym(self, key: str) -> int:
        """The keysym of a canonical key name; a character must be on the keyboard (type it otherwise)."""
        from Xlib import XK

        if len(key) == 1:
            sym = keysym_of(key)
            if sym not in self.typer.keys:
                raise RuntimeError(f"key {key!r} is not supported on the desktop (no key of its keyboard types it; "
                                   "type it as text)")
            return sym
        sym = XK.string_to_keysym(MODIFIER_KEYSYMS.get(key, key))
        if not sym:
            raise RuntimeError(f"key {key!r} is not supported on the desktop (X has no key of that name)")
        return sym

    def hotkey(self, keys: list[str], interval_s: float = 0.02) -> None:
        """Press ``keys`` in order and release them in reverse (a named key the keyboard lacks, such as
        F24, is given a spare keycode first); a character that needs shift is pressed with it."""
        from Xlib import X

        codes = self.typer.keycodes([self.keysym(k) for k in keys])
        shift = self.typer.shift
        held: list[int] = []
        for keycode, shifted in codes:
            for code in ([shift] if shifted and shift not in held else []) + [keycode]:
                if code not in held:
                    self._fake(X.KeyPress, code)
                    held.append(code)
            self.d.sync()
            time.sleep(interval_s)
        for code in reversed(held):
            self._fake(X.KeyRelease, code)
        self.d.sync()

    def type(self, text: str) -> None:
        """Any text, ASCII or not (envs.keymap: keycodes mapped before the presses, kept in place)."""
        self.typer.type(text)

    def restore(self) -> None:
        """Give back the keycodes mapped for characters and keys (on a display we share)."""
        if self._typer is not None:
            self._typer.restore()
