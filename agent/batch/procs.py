"""Processes of a worker: killing a whole tree, measuring memory (dying with the batch: envs.lifetime)."""

from __future__ import annotations

import psutil


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
