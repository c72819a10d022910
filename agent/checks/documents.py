"""Metrics on documents: .docx through python-docx, .pdf through pypdf. ``compare_docx_files`` is written from the
definition in OSWorld's desktop_env/evaluators/metrics/docs.py (the same paragraphs' text); ``check_docx`` and
``check_pdf_text`` are ours, in the same shape, for what the apps suite asks (styles, bold runs, tables)."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def _document(path: Any) -> Any:
    if not isinstance(path, Path) or not path.is_file():
        return None
    import docx

    try:
        return docx.Document(str(path))
    except Exception:
        return None


def _paragraphs(document: Any, ignore_blanks: bool) -> list[str]:
    texts = [p.text for p in document.paragraphs]
    return [" ".join(t.split()) for t in texts if t.strip()] if ignore_blanks else texts


def compare_docx_files(result: Any, expected: Any, ignore_blanks: bool = True, ignore_case: bool = False,
                       **_: Any) -> float:
    """1 when both documents have the same paragraphs' text."""
    a, b = _document(result), _document(expected)
    if a is None or b is None:
        return 0.0
    got, want = _paragraphs(a, ignore_blanks), _paragraphs(b, ignore_blanks)
    if ignore_case:
        got, want = [t.lower() for t in got], [t.lower() for t in want]
    return float(got == want)


def check_docx(result: Any, rules: Any, **_: Any) -> float:
    """1 when the document passes every rule: ``include`` / ``exclude`` (text), ``heading`` ({text, level}),
    ``bold`` (texts that appear in a bold run), ``table`` (the first table's cells, row by row)."""
    document = _document(result)
    if document is None or not isinstance(rules, dict):
        return 0.0
    text = "\n".join(p.text for p in document.paragraphs)
    if not all(s in text for s in rules.get("include", [])) or any(s in text for s in rules.get("exclude", [])):
        return 0.0
    if (heading := rules.get("heading")) is not None:
        style = f"Heading {heading.get('level', 1)}"
        if not any(p.text.strip() == heading["text"] and p.style is not None and p.style.name == style
                   for p in document.paragraphs):
            return 0.0
    bold = " ".join(r.text for p in document.paragraphs for r in p.runs if r.bold)
    if not all(s in bold for s in rules.get("bold", [])):
        return 0.0
    if (table := rules.get("table")) is not None:
        if not document.tables:
            return 0.0
        cells = [[c.text.strip() for c in row.cells] for row in document.tables[0].rows]
        if cells != table:
            return 0.0
    return 1.0


def check_pdf_text(result: Any, rules: Any, **_: Any) -> float:
    """1 when the PDF's text holds every ``include`` string (and no ``exclude`` one)."""
    if not isinstance(result, Path) or not result.is_file() or not isinstance(rules, dict):
        return 0.0
    import pypdf

    try:
        text = "\n".join(page.extract_text() or "" for page in pypdf.PdfReader(str(result)).pages)
    except Exception:
        return 0.0
    return float(all(s in text for s in rules.get("include", [])) and not any(s in text for s in rules.get("exclude", [])))
