"""Typing any Unicode text on X11 through XTest, without the keymap race.

X delivers a key press as a keycode; the app turns it into a character with the keyboard mapping it
fetches from the server when it handles the event (after a MappingNotify). xdotool maps a spare
keycode to the character, presses it and maps it back at once: an app that is slow (a loaded
machine) fetches the mapping after it was put back and reads the wrong character (seen as ``??``).
Here a character keeps its keycode once mapped (until the env closes), the mapping is in place on the
server before the press is sent (one request, then a round trip), and a keycode is only ever
reassigned when one text needs more distinct characters than there are spare slots (about 220 on
Xvfb: its empty keycodes and its media keys, two characters each, plain and shifted); only then, for
the characters of such a text beyond that, can a very slow app still read a reassigned key.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

SPECIAL = {"\n": 0xFF0D, "\r": 0xFF0D, "\t": 0xFF09}  # Return, Tab
SHIFT_L = 0xFFE1
XF86_FIRST, XF86_LAST = 0x1008FF00, 0x1008FFFF  # media and launcher keys


def keysym_of(ch: str) -> int:
    """X11's keysym for a character: Latin-1 keysyms are their code points, others 0x1000000 + code point."""
    if ch in SPECIAL:
        return SPECIAL[ch]
    code = ord(ch)
    return code if 0x20 <= code <= 0x7E or 0xA0 <= code <= 0xFF else 0x01000000 + code


class UnicodeTyper:
    """Types text through XTest on one python-xlib ``Display``; puts its keycodes back on ``restore``."""

    def __init__(self, display: Any) -> None:
        self.d = display
        lo, hi = display.display.info.min_keycode, display.display.info.max_keycode
        rows = display.get_keyboard_mapping(lo, hi - lo + 1)
        self.width = len(rows[0])
        self.keys: dict[int, tuple[int, bool]] = {}  # keysym -> (keycode, shift), what the keymap has
        self.original: dict[int, list[int]] = {}  # spare keycode -> its keysyms before us
        media = []
        for i, row in enumerate(rows):
            keycode = lo + i
            if not any(row):
                self.original[keycode] = [0] * self.width
            elif all(s == 0 or XF86_FIRST <= s <= XF86_LAST for s in row):
                media.append((keycode, list(row)))
            else:
                for col in (0, 1):
                    if row[col] and row[col] not in self.keys:
                        self.keys[row[col]] = (keycode, col == 1)
        self.original.update(media)  # empty keycodes first, then media keys (no agent action presses them)
        self.rows = {k: list(row) for k, row in self.original.items()}
        self.slots = [(k, col) for k in self.rows for col in (0, 1)]
        self.used: OrderedDict[int, tuple[int, int]] = OrderedDict()  # keysym -> slot, least recent first
        self.shift = self.keys.get(SHIFT_L, (0, False))[0]

    def type(self, text: str) -> None:
        """Type ``text``; returns once the server has every event (the app then reads it in order)."""
        from Xlib import X
        from Xlib.ext import xtest

        for chunk in self._chunks(text):
            self._map({keysym_of(ch) for ch in chunk})
            for ch in chunk:
                keycode, shift = self._key(keysym_of(ch))
                if shift:
                    xtest.fake_input(self.d, X.KeyPress, self.shift)
                xtest.fake_input(self.d, X.KeyPress, keycode)
                xtest.fake_input(self.d, X.KeyRelease, keycode)
                if shift:
                    xtest.fake_input(self.d, X.KeyRelease, self.shift)
            self.d.sync()

    def keycodes(self, keysyms: list[int]) -> list[tuple[int, bool]]:
        """(keycode, with shift) of each keysym, mapping the ones no key produces (all in place on the
        server when this returns), for pressing them together."""
        self._map(set(keysyms))
        return [self._key(s) for s in keysyms]

    def _key(self, keysym: int) -> tuple[int, bool]:
        if keysym in self.keys:
            return self.keys[keysym]
        keycode, col = self.used[keysym]
        return keycode, col == 1

    def _chunks(self, text: str) -> list[str]:
        """Pieces of ``text`` whose unmapped characters fit the spare keycodes together."""
        chunks, current, new = [], "", set()
        for ch in text:
            sym = keysym_of(ch)
            if sym not in self.keys and sym not in new and len(new) == len(self.slots):
                chunks.append(current)
                current, new = "", set()
            if sym not in self.keys:
                new.add(sym)
            current += ch
        return [c for c in chunks + [current] if c]

    def _map(self, keysyms: set[int]) -> None:
        """Give each of ``keysyms`` that no key produces a slot, reusing the least recently used ones
        not needed now, and wait until the server has the new mapping."""
        missing = [s for s in keysyms if s not in self.keys and s not in self.used]
        for sym in keysyms & self.used.keys():
            self.used.move_to_end(sym)
        if not self.slots and missing:
            raise RuntimeError("this X server has no spare keycode to type non-ASCII text with")
        changed = set()
        for sym in missing:
            taken = {slot for slot in self.used.values()}
            free = [slot for slot in self.slots if slot not in taken]
            if free:
                slot = free[0]
            else:  # the least recently used character not in this chunk gives up its slot
                old = next(s for s in self.used if s not in keysyms)
                slot = self.used.pop(old)
            self.used[sym] = slot
            self.rows[slot[0]][slot[1]] = sym
            changed.add(slot[0])
        for keycode in sorted(changed):
            row = self.rows[keycode]
            # an explicit shifted column: a lone cased letter would read as its lower case unshifted
            sent = row if row[1] else [row[0], row[0], *row[2:]]
            self.d.change_keyboard_mapping(keycode, [tuple(sent)])
        if changed:
            self.d.sync()  # the server has the mapping (and has sent MappingNotify) before any press

    def restore(self) -> None:
        """Put the keycodes we used back as they were."""
        for keycode in sorted({slot[0] for slot in self.used.values()}):
            self.d.change_keyboard_mapping(keycode, [tuple(self.original[keycode])])
        self.used.clear()
        self.d.sync()
