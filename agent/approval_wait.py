"""An unattended approval that keeps the world: the run waits (its env alive) for ``guiagent approve DIR``
from another process, signalled through files in the run folder (owner-only), up to a timeout.

The waiting run writes ``approval-request.json`` and polls for ``approval-answer.json``; the approve
command sees the request while the run's folder lock is held (the run is alive), writes the answer
(atomically, 0600) and waits for the run to take it. Past the timeout the run takes the request back
and stops ``awaiting-approval``; a later ``guiagent approve`` then resumes it by rebuilding the world.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from guiagent.agent.folder import LOCK_FILE
from guiagent.agent.safeguards import ApprovalTimeout
from guiagent.tools.files import write_atomic

REQUEST_FILE = "approval-request.json"
ANSWER_FILE = "approval-answer.json"
DEFAULT_TIMEOUT_S = 300.0


def _write_private(path: Path, data: dict[str, Any]) -> None:
    write_atomic(path, json.dumps(data), private=True)


def _take(path: Path) -> dict[str, Any] | None:
    """Read and remove a signal file, if it is there."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    path.unlink(missing_ok=True)
    return data if isinstance(data, dict) else None


class FolderApprover:
    """Answers an approval request with what ``guiagent approve`` writes into ``root``, waiting up to
    ``timeout_s``; raises ApprovalTimeout past it. ``on_wait`` hears the request when the wait starts and
    None when it ends (the runner marks meta.json awaiting-approval meanwhile)."""

    def __init__(self, root: Path, timeout_s: float = DEFAULT_TIMEOUT_S, poll_s: float = 0.1) -> None:
        self.root, self.timeout_s, self.poll_s = root, timeout_s, poll_s
        self.on_wait: Callable[[dict[str, Any] | None], None] = lambda request: None

    def __call__(self, request: dict[str, Any]) -> dict[str, Any]:
        request_path, answer_path = self.root / REQUEST_FILE, self.root / ANSWER_FILE
        answer_path.unlink(missing_ok=True)  # a stale answer is not this request's
        deadline = time.monotonic() + self.timeout_s
        self.on_wait(request)  # meta.json says awaiting approval before the request appears, for whoever sees it
        try:
            _write_private(request_path, {**request, "pid": os.getpid(), "timeout_s": self.timeout_s})
            while time.monotonic() < deadline:
                answer = _take(answer_path)
                if answer is not None:
                    return {"approved": bool(answer.get("approved")), "note": answer.get("note")}
                time.sleep(self.poll_s)
            request_path.unlink(missing_ok=True)
            answer = _take(answer_path)  # an answer that came as the time ran out still counts
            if answer is not None:
                return {"approved": bool(answer.get("approved")), "note": answer.get("note")}
            raise ApprovalTimeout(f"no answer within {self.timeout_s:g}s")
        finally:
            request_path.unlink(missing_ok=True)
            self.on_wait(None)


def _run_alive(root: Path) -> bool:
    """Whether a process holds the folder's lock (a run is in it)."""
    import fcntl

    try:
        fd = os.open(root / LOCK_FILE, os.O_RDONLY)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    return False


def waiting_run(root: Path) -> dict[str, Any] | None:
    """The request of a live run waiting in ``root`` for an answer, if one is."""
    path = root / REQUEST_FILE
    if not path.exists() or not _run_alive(root):
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def signal_answer(root: Path, answer: dict[str, Any], handover_s: float = 60.0) -> bool:
    """Give a waiting run its answer; True once it took it, False if it stopped first (then no answer is left
    behind, and the caller resumes the episode itself)."""
    path = root / ANSWER_FILE
    _write_private(path, answer)
    deadline = time.monotonic() + handover_s
    while time.monotonic() < deadline:
        if not path.exists():
            return True  # taken
        if not _run_alive(root):  # it stopped (its time ran out) without taking it
            if path.exists():
                path.unlink(missing_ok=True)
                return False
            return True
        time.sleep(0.05)
    path.unlink(missing_ok=True)
    return False
