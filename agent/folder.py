"""Claiming a trajectory folder: a run writes only into a folder it holds an exclusive lock on.

A new run takes a folder that does not exist or is empty; a resumed run takes the folder of its
trajectory. The lock (``flock`` on ``.guiagent.lock``, released by the kernel when the process dies)
keeps two processes out of one folder. Every refusal happens before anything is written.
"""

from __future__ import annotations

import fcntl
import os
import shutil
from pathlib import Path

from guiagent.agent.outputs import RUN_LOCK, OutputError, check_folder
from guiagent.agent.trajectory import META_FILE, TrajectoryError

LOCK_FILE = RUN_LOCK


class FolderClaim:
    """The lock on one folder, held until ``release`` (or the process's end)."""

    def __init__(self, root: Path, fd: int, created: bool) -> None:
        self.root, self._fd, self._created = root, fd, created
        self._kept = {p.name for p in root.iterdir()}  # what the caller put there (an app's initial state)

    def discard_if_unstarted(self) -> None:
        """A new run that stopped before its meta.json leaves no folder behind (it was empty)."""
        if (self.root / META_FILE).exists():
            return
        for entry in self.root.iterdir():
            if entry.name not in self._kept and entry.name != LOCK_FILE:
                shutil.rmtree(entry) if entry.is_dir() and not entry.is_symlink() else entry.unlink()
        self.release()
        (self.root / LOCK_FILE).unlink(missing_ok=True)
        if self._created and not any(self.root.iterdir()):
            self.root.rmdir()

    def release(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)  # closing the descriptor drops the flock
            self._fd = -1

    def __enter__(self) -> FolderClaim:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def claim_new(root: Path, created: bool | None = None, allowed: frozenset[str] = frozenset()) -> FolderClaim:
    """Lock ``root`` for a new run; refuse (nothing written) a file or a folder that holds anything but
    ``allowed`` names (the run's own inputs, e.g. an app's initial state). ``created``: the caller made
    the folder just now (it goes again with an unstarted run)."""
    refuse_unless_empty(root, allowed=allowed)
    created = not root.exists() if created is None else created
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise TrajectoryError(f"cannot create the folder {root}: {exc.strerror}") from None
    claim = _lock(root, created)
    try:
        refuse_unless_empty(root, probe_lock=False, allowed=allowed)  # another run may have filled it between look and lock
    except TrajectoryError:
        claim.release()
        raise
    return claim


def claim_existing(root: Path) -> FolderClaim:
    """Lock the folder of a trajectory being resumed."""
    return _lock(root, created=False)


def refuse_unless_empty(root: Path, probe_lock: bool = True, allowed: frozenset[str] = frozenset(),
                        command: str = "run") -> None:
    """Raise TrajectoryError unless ``root`` is absent or empty (a lock file not held counts as empty, and
    so do ``allowed`` names): the rule of agent/outputs.py, in one sentence."""
    try:
        if root.is_dir():
            found = [p.name for p in root.iterdir() if p.name != LOCK_FILE and p.name not in allowed]
            if probe_lock and (root / LOCK_FILE).exists():
                _check_not_held(root)
            if not found:
                return
        check_folder(root, "--out", command)
    except OutputError as exc:
        raise TrajectoryError(str(exc)) from None
    except OSError as exc:
        raise TrajectoryError(f"cannot read the folder {root}: {exc.strerror}") from None


def _check_not_held(root: Path) -> None:
    try:
        fd = os.open(root / LOCK_FILE, os.O_RDONLY)
    except OSError:
        return
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        raise TrajectoryError(_in_use(root)) from None
    finally:
        os.close(fd)  # also drops the probe's lock


def _lock(root: Path, created: bool) -> FolderClaim:
    try:
        fd = os.open(root / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        raise TrajectoryError(f"cannot write into {root}: {exc.strerror}") from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise TrajectoryError(_in_use(root)) from None
    os.ftruncate(fd, 0)
    os.write(fd, f"{os.getpid()}\n".encode())
    return FolderClaim(root, fd, created)


def _in_use(root: Path) -> str:
    try:
        pid = (root / LOCK_FILE).read_text().strip() or "?"
    except OSError:
        pid = "?"
    return f"{root} is in use by another guiagent run (pid {pid}): wait for it to end, or choose another folder"
