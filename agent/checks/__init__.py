"""Checks that read the files an app left behind: OSWorld's evaluator model (a getter reads the finished world, a
metric ``metric(result, expected, **options) -> float`` compares it), run on the episode's sandbox HOME, which
stands for OSWorld's VM. One module per kind of file: text.py, sheets.py, documents.py; getters.py reads them."""

from __future__ import annotations

from guiagent.agent.checks.evaluator import METRICS, Evaluator, EvaluatorError, Getter, evaluate

__all__ = ["METRICS", "Evaluator", "EvaluatorError", "Getter", "evaluate"]
