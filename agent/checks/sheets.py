"""Metrics on spreadsheets (.xlsx through openpyxl, .csv through the csv module), written from the definitions in
OSWorld's desktop_env/evaluators/metrics/table.py: ``compare_table`` (every sheet's data equal, then each rule:
``sheet_data``, ``check_cell`` with ``props`` of ``{method, ref}`` on the value, the formula or a style) and ``compare_csv`` (the same rows)."""

from __future__ import annotations

import csv
import math
from pathlib import Path
from typing import Any

Rows = list[list[Any]]


def _trim(rows: Rows) -> Rows:
    """Rows without trailing empty cells and trailing empty rows (editors differ in what they keep)."""
    out = [list(r) for r in rows]
    for r in out:
        while r and r[-1] in (None, ""):
            r.pop()
    while out and not out[-1]:
        out.pop()
    return out


def read_sheets(path: Path, formulas: bool = False) -> list[Rows] | None:
    """Every sheet's rows (values, or formulas where a cell has one); None when the file is missing or unreadable."""
    if not path.is_file():
        return None
    if path.suffix.lower() == ".csv":
        with path.open(newline="", encoding="utf-8", errors="replace") as f:
            return [_trim([[_number(c) for c in row] for row in csv.reader(f)])]
    import openpyxl

    try:
        book = openpyxl.load_workbook(path, data_only=not formulas, read_only=True)
    except Exception:
        return None
    try:
        return [_trim([list(row) for row in sheet.iter_rows(values_only=True)]) for sheet in book.worksheets]
    finally:
        book.close()


def _number(text: str) -> Any:
    try:
        value = float(text)
    except ValueError:
        return text
    return int(value) if value.is_integer() else value


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, int | float) and isinstance(b, int | float):
        return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9)
    return a == b


def _same_rows(a: Rows, b: Rows) -> bool:
    return len(a) == len(b) and all(len(x) == len(y) and all(map(_same, x, y)) for x, y in zip(a, b, strict=True))


def _matches(value: Any, rule: dict[str, Any]) -> bool:
    """OSWorld's ``{method, ref}`` value rules: eq, ne, approx, contains, startswith, ge, le."""
    method, ref = rule.get("method", "eq"), rule["ref"]
    match method:
        case "eq":
            return _same(value, ref)
        case "ne":
            return not _same(value, ref)
        case "approx":
            return isinstance(value, int | float) and abs(value - float(ref)) <= float(rule.get("tolerance", 1e-6))
        case "contains":
            return str(ref) in str(value)
        case "startswith":
            return str(value).startswith(str(ref))
        case "ge":
            return isinstance(value, int | float) and value >= float(ref)
        case "le":
            return isinstance(value, int | float) and value <= float(ref)
    return False


# A cell's style properties that ``check_cell`` reads, after OSWorld's _read_cell_style (metrics/table.py).
STYLE_PROPS = {
    "number_format": lambda c: c.number_format,
    "font_name": lambda c: c.font.name,
    "font_bold": lambda c: c.font.bold,
    "font_italic": lambda c: c.font.italic,
    "font_size": lambda c: c.font.size,
}


def _cell(path: Path, sheet_idx: int, coordinate: str, prop: str) -> Any:
    """The cell's ``value`` (as calculated), ``formula`` (as written) or one of ``STYLE_PROPS``."""
    import openpyxl

    book = openpyxl.load_workbook(path, data_only=prop != "formula")
    try:
        cell = book.worksheets[sheet_idx][coordinate]
        return cell.value if prop in ("value", "formula") else STYLE_PROPS[prop](cell)
    finally:
        book.close()


def compare_table(result: Any, expected: Any = None, rules: list[dict[str, Any]] | None = None, **_: Any) -> float:
    """1 when the result workbook has the expected workbook's data (if one is given) and passes every rule."""
    if not isinstance(result, Path) or read_sheets(result) is None:
        return 0.0
    if isinstance(expected, Path):
        want = read_sheets(expected)
        got = read_sheets(result)
        if want is None or got is None or len(want) != len(got) or not all(map(_same_rows, got, want)):
            return 0.0
    for rule in rules or []:
        kind = rule.get("type")
        if kind == "sheet_data":
            continue  # compared above
        if kind != "check_cell":
            return 0.0
        for prop, spec in rule.get("props", {}).items():
            try:
                value = _cell(result, int(rule.get("sheet_idx", 0)), str(rule["coordinate"]), prop)
            except (IndexError, KeyError, ValueError):
                return 0.0
            if not _matches(value, spec):
                return 0.0
    return 1.0


def compare_csv(result: Any, expected: Any, **_: Any) -> float:
    """1 when the two CSV files hold the same rows (numbers compared as numbers)."""
    if not isinstance(result, Path) or not isinstance(expected, Path):
        return 0.0
    got, want = read_sheets(result), read_sheets(expected)
    return float(got is not None and want is not None and _same_rows(got[0], want[0]))
