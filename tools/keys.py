"""Key names as Qwen2.5-VL and xdotool write them, normalised to one canonical spelling.

Canonical names: the modifiers ``ctrl``, ``alt``, ``shift``, ``super``; X keysym names for named
keys (``Return``, ``Escape``, ``Page_Down``, ``F5``...); a single printable character for itself.
Each env maps canonical names to its own backend's names.
"""

from __future__ import annotations

MODIFIERS = ("ctrl", "alt", "shift", "super")

NAMED_KEYS = (
    "Return", "Escape", "Tab", "BackSpace", "Delete", "Insert", "Home", "End",
    "Page_Up", "Page_Down", "Up", "Down", "Left", "Right", "space", "Caps_Lock",
    "Print", "Menu", "Pause", "Scroll_Lock", "Num_Lock",
    *(f"F{i}" for i in range(1, 25)),
)

# Punctuation keysyms that xdotool accepts, as the character they type.
_KEYSYM_CHARS = {
    "minus": "-", "plus": "+", "equal": "=", "comma": ",", "period": ".", "slash": "/",
    "backslash": "\\", "semicolon": ";", "apostrophe": "'", "quotedbl": '"', "bracketleft": "[",
    "bracketright": "]", "braceleft": "{", "braceright": "}", "grave": "`", "asciitilde": "~",
    "exclam": "!", "at": "@", "numbersign": "#", "dollar": "$", "percent": "%",
    "asciicircum": "^", "ampersand": "&", "asterisk": "*", "parenleft": "(", "parenright": ")",
    "underscore": "_", "colon": ":", "less": "<", "greater": ">", "question": "?", "bar": "|",
}

_ALIASES = {
    "control": "ctrl", "ctl": "ctrl", "ctrl_l": "ctrl", "ctrl_r": "ctrl", "control_l": "ctrl",
    "control_r": "ctrl", "alt_l": "alt", "alt_r": "alt", "option": "alt", "meta": "super",
    "cmd": "super", "command": "super", "win": "super", "windows": "super", "super_l": "super",
    "super_r": "super", "shift_l": "shift", "shift_r": "shift",
    "enter": "Return", "return": "Return", "kp_enter": "Return", "esc": "Escape",
    "escape": "Escape", "tab": "Tab", "backspace": "BackSpace", "back_space": "BackSpace",
    "delete": "Delete", "del": "Delete", "insert": "Insert", "ins": "Insert", "home": "Home",
    "end": "End", "pageup": "Page_Up", "page_up": "Page_Up", "pgup": "Page_Up", "prior": "Page_Up",
    "pagedown": "Page_Down", "page_down": "Page_Down", "pgdn": "Page_Down", "next": "Page_Down",
    "up": "Up", "down": "Down", "left": "Left", "right": "Right", "arrowup": "Up",
    "arrowdown": "Down", "arrowleft": "Left", "arrowright": "Right", "space": "space",
    "spacebar": "space", "capslock": "Caps_Lock", "caps_lock": "Caps_Lock", "print": "Print",
    "printscreen": "Print", "menu": "Menu", "pause": "Pause", "scroll_lock": "Scroll_Lock",
    "num_lock": "Num_Lock",
}
_ALIASES.update({f"f{i}": f"F{i}" for i in range(1, 25)})
_ALIASES.update({k: k for k in MODIFIERS})


def canonical_key(name: str) -> str:
    """Return the canonical spelling of a key name, or raise ValueError naming it."""
    if not isinstance(name, str) or name == "":
        raise ValueError(f"key name must be a non-empty string, got {name!r}")
    if len(name) == 1:
        if not name.isprintable():
            raise ValueError(f"unknown key name {name!r}")
        return name
    if name in NAMED_KEYS:
        return name
    if name in _KEYSYM_CHARS:
        return _KEYSYM_CHARS[name]
    lowered = name.lower()
    if lowered in _ALIASES:
        return _ALIASES[lowered]
    raise ValueError(f"unknown key name {name!r}")


def split_combo(combo: str) -> list[str]:
    """Split ``"ctrl+shift+t"`` into its keys; a lone ``"+"`` stays a key."""
    if combo == "+" or "+" not in combo:
        return [combo]
    parts = combo.split("+")
    if parts[-1] == "":  # "ctrl++" means ctrl and plus
        parts = parts[:-2] + ["+"]
    return [p.strip() for p in parts]
