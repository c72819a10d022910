"""Why a process that guiagent started failed, for a person: the command as run and the lines of its stderr that
say why (an error, a missing file or library, a refused permission), not a truncated tail."""

from __future__ import annotations

import re
import shlex

MAX_LINES = 6
# Lines that usually carry the cause; where none matches, the last lines are kept (a traceback ends with its cause).
_CAUSE = re.compile(r"error|cannot|can't|could not|couldn't|no such|not found|missing|denied|refused|fatal|failed|"
                    r"\(EE\)|No module|sandbox|/dev/shm|shared librar|permission", re.IGNORECASE)


def why_lines(stderr: str, limit: int = MAX_LINES) -> list[str]:
    """The lines of ``stderr`` that say why, in order, without repeats; at most ``limit``."""
    lines: list[str] = []
    for line in (raw.strip() for raw in stderr.splitlines()):
        if line and line not in lines:
            lines.append(line)
    causes = [line for line in lines if _CAUSE.search(line)]
    return (causes or lines)[-limit:]


def failure(what: str, argv: list[str], how: str, stderr: str) -> str:
    """``what`` did not start: the command (binary and flags), how it ended, and why (its stderr's telling lines)."""
    head = f"{what}: {shlex.join(argv)} {how}".rstrip()
    lines = why_lines(stderr)
    return head + (":\n" + "\n".join(f"  {line}" for line in lines) if lines else " (it printed nothing)")
