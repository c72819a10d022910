"""Processes that die with the runtime: Linux's PR_SET_PDEATHSIG, asked for in one place."""

from __future__ import annotations

import ctypes
import signal

PR_SET_PDEATHSIG = 1  # <linux/prctl.h>

try:  # looked up here, in the parent: a child between fork and exec should not load libraries
    _prctl = ctypes.CDLL(None, use_errno=True).prctl
except (OSError, AttributeError):  # not Linux
    _prctl = None


def die_with_parent(sig: int = signal.SIGTERM) -> None:
    """Have the kernel send ``sig`` to this process when its parent dies, even by SIGKILL. Call it in a
    child before exec (``preexec_fn=die_with_parent``) or first thing in a worker. Where the kernel has no
    such call it does nothing: the parent's own cleanup (close, a context manager, a closed pipe) remains."""
    if _prctl is not None:
        _prctl(PR_SET_PDEATHSIG, int(sig))
