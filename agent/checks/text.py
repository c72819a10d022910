"""Metrics on text and plain files, written from the definitions in OSWorld's
desktop_env/evaluators/metrics/general.py (exact_match, check_include_exclude) and vscode.py (compare_text_file)."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def read_text(value: Any) -> str | None:
    """A metric's input as text: a path is read (None when the file is missing), anything else is str()."""
    if isinstance(value, Path):
        return value.read_text(encoding="utf-8", errors="replace") if value.is_file() else None
    return None if value is None else str(value)


def exact_match(result: Any, rules: Any, **_: Any) -> float:
    """1 when the result equals ``rules["expected"]``."""
    text = read_text(result)
    expected = rules.get("expected") if isinstance(rules, dict) else rules
    return float(text is not None and text == str(expected))


def check_include_exclude(result: Any, rules: Any, **_: Any) -> float:
    """1 when the result holds every ``include`` string and no ``exclude`` string."""
    text = read_text(result)
    if text is None or not isinstance(rules, dict):
        return 0.0
    return float(all(s in text for s in rules.get("include", [])) and not any(s in text for s in rules.get("exclude", [])))


def compare_text_file(result: Any, expected: Any, ignore_blanks: bool = False, ignore_case: bool = False,
                      **_: Any) -> float:
    """1 when the two files hold the same text (optionally ignoring whitespace and case)."""
    a, b = read_text(result), read_text(expected)
    if a is None or b is None:
        return 0.0
    if ignore_blanks:
        a, b = " ".join(a.split()), " ".join(b.split())
    if ignore_case:
        a, b = a.lower(), b.lower()
    return float(a == b)


def file_exists(result: Any, rules: Any = None, **_: Any) -> float:
    """1 when the result file exists (and, with ``rules: {exists: false}``, when it does not)."""
    want = not (isinstance(rules, dict) and rules.get("exists") is False)
    return float(isinstance(result, Path) and result.exists() == want)
