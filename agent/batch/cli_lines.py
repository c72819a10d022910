"""The lines ``guiagent batch`` prints to go on after a stop."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path


def continue_command(defaulted_out: bool, out: Path) -> str:
    """The command that continues this batch: the one typed, with ``--out`` added where it was left to its default
    (a new default folder would start over)."""
    args = ["guiagent", *sys.argv[1:]]
    if defaulted_out:
        args += ["--out", str(out)]
    return shlex.join(args)
