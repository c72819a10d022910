"""An OSWorld evaluator (``func``, ``result``, ``expected``, ``options``; several funcs with ``conj``) run on an
episode's HOME: each getter resolves, each metric scores in [0, 1], the evaluator passes when the score is 1."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from guiagent.agent.checks import documents, sheets, text
from guiagent.agent.checks.getters import SUPPORTED, Getter, GetterError, resolve

Metric = Callable[..., float]
METRICS: dict[str, Metric] = {
    "exact_match": text.exact_match,
    "check_include_exclude": text.check_include_exclude,
    "compare_text_file": text.compare_text_file,
    "file_exists": text.file_exists,
    "compare_table": sheets.compare_table,
    "compare_csv": sheets.compare_csv,
    "compare_docx_files": documents.compare_docx_files,
    "check_docx": documents.check_docx,
    "check_pdf_text": documents.check_pdf_text,
}


class EvaluatorError(ValueError):
    """An evaluator this runtime cannot run (an unsupported func or getter): the task is skipped with this reason."""


class Evaluator(BaseModel):
    """OSWorld's ``evaluator`` block; ``func`` may be a list (then ``result``, ``expected``, ``options`` are too)."""

    model_config = ConfigDict(extra="allow")

    func: str | list[str]
    result: Getter | list[Getter] | None = None
    expected: Getter | list[Getter] | None = None
    options: dict[str, Any] | list[dict[str, Any]] = Field(default_factory=dict)
    conj: Literal["and", "or"] = "and"
    postconfig: list[dict[str, Any]] = Field(default_factory=list)
    timeout: float = Field(default=5.0, ge=0, le=120, description="Seconds to wait for a passing score (apps save late).")

    @model_validator(mode="after")
    def _supported(self) -> Evaluator:
        for name in self.funcs:
            if name not in METRICS:
                raise EvaluatorError(f"the metric {name!r} is not supported (supported: {', '.join(sorted(METRICS))})")
        for getter in [*_listed(self.result), *_listed(self.expected)]:
            if getter is not None and getter.type not in SUPPORTED:
                raise EvaluatorError(f"the getter {getter.type!r} is not supported (supported: {', '.join(SUPPORTED)})")
        return self

    @property
    def funcs(self) -> list[str]:
        return [self.func] if isinstance(self.func, str) else list(self.func)


def _listed(value: Any) -> list[Any]:
    return list(value) if isinstance(value, list) else [value]


def _at(value: Any, i: int, n: int) -> Any:
    return value[i] if isinstance(value, list) and n > 1 else value


def score_once(evaluator: Evaluator, home: Path, task_dir: Path | None = None) -> tuple[float, list[str]]:
    """The evaluator's score on ``home`` now, and what each metric saw (for the record)."""
    funcs = evaluator.funcs
    scores, saw = [], []
    for i, name in enumerate(funcs):
        result, expected = _at(evaluator.result, i, len(funcs)), _at(evaluator.expected, i, len(funcs))
        options = _at(evaluator.options, i, len(funcs)) or {}
        try:
            got = resolve(result, home, task_dir) if result is not None else None
            want = resolve(expected, home, task_dir) if expected is not None else None
        except GetterError as exc:
            scores.append(0.0)
            saw.append(f"{name}: {exc}")
            continue
        score = float(METRICS[name](got, want, **options))
        scores.append(score)
        what = got.name if isinstance(got, Path) else got
        saw.append(f"{name}({what!r}) = {score:g}")
    total = min(scores) if evaluator.conj == "and" else max(scores)
    return total, saw


def evaluate(evaluator: Evaluator, home: Path, task_dir: Path | None = None,
             timeout: float | None = None) -> tuple[float, str]:
    """Score ``home``, waiting up to ``timeout`` (the evaluator's own by default) for it to pass: an app writes
    its file a moment after the keystroke that saves it."""
    deadline = time.monotonic() + (evaluator.timeout if timeout is None else timeout)
    while True:
        score, saw = score_once(evaluator, home, task_dir)
        if score >= 1.0 or time.monotonic() >= deadline:
            return score, "; ".join(saw)
        time.sleep(0.2)
