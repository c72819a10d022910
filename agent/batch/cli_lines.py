"""The lines ``guiagent batch`` prints: what the batch came to, and how to go on after a stop."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path
from typing import Any


def continue_command(defaulted_out: bool, out: Path) -> str:
    """The command that continues this batch: the one typed, with ``--out`` added where it was left to its default
    (a new default folder would start over)."""
    args = ["guiagent", *sys.argv[1:]]
    if defaulted_out:
        args += ["--out", str(out)]
    return shlex.join(args)


def summary_lines(summary: dict[str, Any], out: Path) -> list[tuple[str, str | None]]:
    """The batch's summary (summary.json's form) as lines to print, each with its style: the verified successes
    and failures, where the results are, the tasks skipped, and how the judge agreed with the rewards."""
    s, table = summary, summary["declared_vs_verified"]
    rate = f" ({s['success_rate']:.0%} of those that ran)" if s["success_rate"] is not None else ""
    lines: list[tuple[str, str | None]] = [(
        f"{s['success']} of {s['episodes']} episodes succeeded (verified){rate}; {s['failure']} failed "
        f"({table['false_success']} false successes); {s['unverified']} unverified; {s['not_run']} could not run. "
        f"Results: {out / 'results.jsonl'}, {out / 'index.html'}", None)]
    lines += [(f"skipped    {task['id']}: {task['reason']}", "yellow") for task in s.get("skipped", [])]
    if (agreement := s.get("judge_agreement")) is not None:
        def share(v: float | None) -> str:
            return "-" if v is None else f"{v:.0%}"

        lines.append((f"judge vs reward on {agreement['episodes']} episodes: precision {share(agreement['precision'])}, "
                      f"recall {share(agreement['recall'])} (of its \"success\")", None))
    return lines
