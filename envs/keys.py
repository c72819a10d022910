"""Key names: the canonical ones (tools.keys) as Playwright names them."""

from __future__ import annotations

# Canonical key names (tools.keys) -> Playwright's key names.
PLAYWRIGHT_KEYS = {
    "ctrl": "Control", "alt": "Alt", "shift": "Shift", "super": "Meta",
    "Return": "Enter", "Escape": "Escape", "Tab": "Tab", "BackSpace": "Backspace", "Delete": "Delete",
    "Insert": "Insert", "Home": "Home", "End": "End", "Page_Up": "PageUp", "Page_Down": "PageDown",
    "Up": "ArrowUp", "Down": "ArrowDown", "Left": "ArrowLeft", "Right": "ArrowRight", "space": "Space",
    "Caps_Lock": "CapsLock", "Print": "PrintScreen", "Menu": "ContextMenu", "Pause": "Pause",
    "Scroll_Lock": "ScrollLock", "Num_Lock": "NumLock",
    **{f"F{i}": f"F{i}" for i in range(1, 25)},
}


def playwright_key(key: str, combo: bool) -> str:
    """Playwright's name for a canonical key. In a combo a letter or digit is named by its physical
    key (``KeyA``), so that shift+a gives "A" as it does under xdotool; alone, ``a`` types "a"."""
    if combo and len(key) == 1 and key.isascii() and key.isalnum():
        return f"Key{key.upper()}" if key.isalpha() else f"Digit{key}"
    return PLAYWRIGHT_KEYS.get(key, key)
