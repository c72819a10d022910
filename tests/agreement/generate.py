"""Seeded pieces of generated answers: screens, points, texts, thoughts and key combinations.

Texts carry what breaks parsers: quotes of both kinds, backslashes, line breaks, tabs, non-ASCII, text that
looks like an argument (``--endpoint=x``), parentheses. Thoughts run over several lines. Screens go from
below the smallest resize limit to above the largest (every family resizes those).
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from typing import TypeVar

# width, height: common screens, a phone, and the resize limits (60x40 is under every family's
# min_pixels; 7680x4320 is over Qwen's max_pixels, so both are resized with a different aspect).
SCREENS: tuple[tuple[int, int], ...] = (
    (1280, 800), (1920, 1080), (1366, 768), (2560, 1600), (3840, 2160), (7680, 4320), (1024, 768),
    (390, 844), (300, 200), (60, 40),
)

PIECES = (
    "hello", "Sign in", "it's", 'say "hi"', "C:\\Users\\me", "line one\nline two", "naïve café", "東京タワー",
    "🙂 ok", "--endpoint=x", "a = f('x')", "tab\there", "50% off", "{json: [1, 2]}", "back\\slash 'quoted'",
    "Ünïcödé ß", "x" * 30, "rm -rf ./tmp", "<b>bold</b>", "two  spaces",
)
WORDS = ("the", "search", "box", "button", "menu", "file", "page", "Submit", "settings", "next", "I", "will",
         "click", "type", "scroll", "the 'Save' entry", 'the "OK" button', "café", "東京", "so", "then", "now")
KEY_COMBOS: tuple[tuple[str, ...], ...] = (
    ("ctrl", "c"), ("ctrl", "shift", "t"), ("alt", "f4"), ("enter",), ("esc",), ("ctrl", "a"), ("pagedown",),
    ("space",), ("tab",), ("shift", "tab"), ("f5",), ("backspace",), ("delete",), ("home",), ("up",),
    ("ctrl", "alt", "delete"),
)

T = TypeVar("T")


def text(rng: random.Random) -> str:
    """Non-empty text to type or answer, with no trailing line break."""
    return " ".join(rng.choice(PIECES) for _ in range(rng.randint(1, 3)))


def thought(rng: random.Random) -> str:
    """A thought over one to four lines."""
    lines = [" ".join(rng.choice(WORDS) for _ in range(rng.randint(3, 9))).capitalize() + "."
             for _ in range(rng.randint(1, 4))]
    if rng.random() < 0.3:
        lines.insert(1, "- first, " + rng.choice(WORDS))
    return "\n".join(lines)


def point(rng: random.Random, extent: tuple[int, int], edge: float = 0.15) -> tuple[int, int]:
    """A whole-number point in [0, w] x [0, h]; now and then on an edge."""
    def axis(n: int) -> int:
        r = rng.random()
        return 0 if r < edge / 2 else n if r < edge else rng.randint(0, n)
    return axis(extent[0]), axis(extent[1])


def beyond(rng: random.Random, extent: tuple[int, int]) -> tuple[int, int]:
    """A point just past the right or bottom edge of the space."""
    x, y = point(rng, extent, edge=0)
    return (extent[0] + rng.randint(1, 40), y) if rng.random() < 0.5 else (x, extent[1] + rng.randint(1, 40))


def box_around(rng: random.Random, p: tuple[int, int], extent: tuple[int, int]) -> tuple[int, int, int, int]:
    """A box inside the space whose centre is ``p`` (to the half unit)."""
    dx = min(p[0], extent[0] - p[0], rng.randint(0, 30))
    dy = min(p[1], extent[1] - p[1], rng.randint(0, 30))
    return p[0] - dx, p[1] - dy, p[0] + dx, p[1] + dy


def cycle(cells: list[T], n: int, seed: int) -> Iterator[tuple[random.Random, T, tuple[int, int]]]:
    """``n`` draws that go through every (cell, screen) pair before repeating one, each with its own seeded rng."""
    grid = [(c, s) for c in cells for s in SCREENS]
    for i in range(n):
        cell, screen = grid[i % len(grid)]
        yield random.Random(f"{seed}:{i}"), cell, screen


Builder = Callable[[random.Random, tuple[int, int]], str]
