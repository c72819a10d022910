"""Processes of a worker: dying with the batch, killing a whole tree, measuring memory."""

from __future__ import annotations

import ctypes
import signal

import psutil


def die_with_parent() -> None:
    """This process gets SIGKILL when its parent dies (Linux PR_SET_PDEATHSIG): a killed batch leaves
    no worker running on its episodes."""
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # 1 = PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass  # not Linux: the worker notices the closed pipe instead


def kill_tree(pid: int) -> int:
    """SIGKILL a process and every descendant (Chromium, its driver, Xvfb, the app); returns how many.
    The tree is read before anything is killed, so orphans are not lost to re-parenting."""
    try:
        root = psutil.Process(pid)
        procs = [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return 0
    for p in procs:
        try:
            p.kill()
        except psutil.NoSuchProcess:
            pass
    psutil.wait_procs(procs, timeout=5)
    return len(procs)


def tree_pss(pid: int) -> int:
    """Proportional set size of a process and its descendants, in bytes (shared pages split fairly)."""
    try:
        root = psutil.Process(pid)
        procs = [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return 0
    total = 0
    for p in procs:
        try:
            total += p.memory_full_info().pss
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            pass
    return total
