"""Finding and killing this test process's descendants (a real crash, not a simulated one), through psutil."""

from __future__ import annotations

import os
import signal
import time

import psutil


def kill_descendants_named(name: str, sig: int = signal.SIGKILL, cmdline: bool = False) -> int:
    """Send ``sig`` to every descendant whose executable name (or, with ``cmdline``, command line)
    contains ``name``; with SIGKILL, return once each is dead. Returns how many."""
    killed = []
    for proc in psutil.Process().children(recursive=True):
        try:
            text = " ".join(proc.cmdline()) if cmdline else proc.name()
        except psutil.Error:  # gone meanwhile, or a zombie
            continue
        if name in text:
            proc.send_signal(sig)
            killed.append(proc)
    if sig == signal.SIGKILL:
        for proc in killed:
            _wait_dead(proc)
    return len(killed)


def _wait_dead(proc: psutil.Process) -> None:
    """Until the process is dead as its parent sees it: an event (the kernel's), not a guess at a duration.
    A child of ours: until a wait would reap it (not reaped: its Popen does that); the X server's window
    of a killed app goes before that, so a zombie state alone is not enough. Another's: gone or a zombie."""
    try:
        os.waitid(os.P_PID, proc.pid, os.WEXITED | os.WNOWAIT)
        return
    except ChildProcessError:
        pass
    while True:
        try:
            if proc.status() in (psutil.STATUS_ZOMBIE, psutil.STATUS_DEAD):
                return
        except psutil.NoSuchProcess:
            return
        time.sleep(0.005)
