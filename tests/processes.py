"""Finding and killing this test process's descendants (a real crash, not a simulated one)."""

from __future__ import annotations

import os
import signal
from pathlib import Path


def _children() -> dict[int, list[int]]:
    tree: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        tree.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    return tree


def descendants(pid: int | None = None) -> list[int]:
    tree, todo, found = _children(), [pid or os.getpid()], []
    while todo:
        for child in tree.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def kill_descendants_named(name: str, sig: int = signal.SIGKILL) -> int:
    """Send ``sig`` to every descendant whose executable name contains ``name``; returns how many."""
    count = 0
    for pid in descendants():
        try:
            comm = Path(f"/proc/{pid}/comm").read_text().strip()
        except OSError:
            continue
        if name in comm:
            os.kill(pid, sig)
            count += 1
    return count
