"""What may be recorded: text that is valid UTF-8.

A Python ``str`` can hold lone surrogates (a server may send ``"\\udcc1"`` as a JSON escape, a page
may hold one in its title); UTF-8 cannot encode them, so the trajectory, the checkpoint, an export
or the report would fail or silently turn them into ``?``. Every string that enters the recorded
state goes through ``recordable`` once: a lone surrogate is replaced by its escape, ``\\udcc1`` as
Python's ``backslashreplace`` writes it, so the text is valid and nothing of it is lost.
"""

from __future__ import annotations

from typing import Any


def first_lone_surrogate(text: str) -> int | None:
    """The index of the first lone surrogate in ``text``, or None when it is valid Unicode text."""
    if text.isascii():
        return None
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        return exc.start
    return None


def recordable(text: str) -> str:
    """``text`` itself when it is valid UTF-8; else a copy with each lone surrogate escaped."""
    if first_lone_surrogate(text) is None:
        return text
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def recordable_tree(value: Any) -> Any:
    """A copy of a JSON-like value (dicts, lists, strings, numbers) with every string, keys
    included, made recordable."""
    if isinstance(value, str):
        return recordable(value)
    if isinstance(value, dict):
        return {recordable(k) if isinstance(k, str) else k: recordable_tree(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [recordable_tree(v) for v in value]
    return value


def excerpt(value: Any, most: int = 60) -> str:
    """``repr(value)`` cut to ``most`` characters, for messages about outside input; never fails
    (a huge integer or a deeply nested list has no repr)."""
    try:
        text = repr(value)
    except (ValueError, RecursionError):
        return f"<{type(value).__name__} too large to show>"
    return text if len(text) <= most else text[: most - 3] + "..."
