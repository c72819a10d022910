"""The optional parts of guiagent (pyproject's extras): a missing one is named in one sentence, with how to get it."""

from __future__ import annotations

import importlib
from types import ModuleType


class MissingExtra(ImportError):
    """A feature's module is not installed; the message names the extra that brings it."""


def need(module: str, extra: str, feature: str) -> ModuleType:
    """``module``, imported; a MissingExtra naming ``extra`` (and what it is for: ``feature``) where it is missing."""
    try:
        return importlib.import_module(module)
    except ImportError:
        raise MissingExtra(f"{feature} needs guiagent's [{extra}] extra ({module.split('.')[0]} is not installed): "
                           f"pip install 'guiagent[{extra}]'") from None
