"""Finding and killing this test process's descendants (a real crash, not a simulated one)."""

from __future__ import annotations

import os
import signal
import time
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


def kill_descendants_named(name: str, sig: int = signal.SIGKILL, cmdline: bool = False) -> int:
    """Send ``sig`` to every descendant whose executable name (or, with ``cmdline``, command line)
    contains ``name``; with SIGKILL, return once each is dead. Returns how many."""
    killed = []
    for pid in descendants():
        try:
            text = Path(f"/proc/{pid}/{'cmdline' if cmdline else 'comm'}").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if name in text:
            os.kill(pid, sig)
            killed.append(pid)
    if sig == signal.SIGKILL:
        for pid in killed:
            _wait_dead(pid)
    return len(killed)


def _wait_dead(pid: int) -> None:
    """Until the process is dead as its parent sees it: an event (the kernel's), not a guess at a duration.
    A child of ours: until a wait would reap it (not reaped: its Popen does that); the X server's window
    of a killed app goes before that, so /proc's zombie state is not enough. Another's: gone or a zombie."""
    try:
        os.waitid(os.P_PID, pid, os.WEXITED | os.WNOWAIT)
        return
    except ChildProcessError:
        pass
    while True:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            return
        if state in ("Z", "X"):
            return
        time.sleep(0.005)
