"""Where a command may write: one rule for every command's output folder (and output file).

A command writes into a new or empty folder, or into its own kind of folder to continue it (``batch``
its batch folder, ``export`` its export, ``run --resume`` its trajectory). A file it writes is new, or
one it wrote before (a report, a script, a video) to replace. Anything else is refused in one sentence
before anything is written: a file where a folder goes, a path under a file, a folder of another kind
(a trajectory, a batch, an export, anything not empty), a link that leads nowhere. Links are followed:
a link is judged by what it points at.
"""

from __future__ import annotations

import os
from enum import StrEnum
from pathlib import Path

# The marks of each kind of folder (the modules that write them keep the same names; a test checks).
META_FILE = "meta.json"  # agent/trajectory.py
RESULTS_FILE = "results.jsonl"  # agent/batch/results.py
BATCH_LOCK = ".batch.lock"  # agent/batch/engine.py
TRAINING_FILE = "TRAINING.md"  # agent/export/writers.py
EXPORT_HEADING = "# Training on this export"
RUN_LOCK = ".guiagent.lock"  # agent/folder.py: a lock nobody holds counts as empty
REPORT_MARK = '<meta name="generator" content="guiagent view">'
SCRIPT_MARK = "# Written by `guiagent script`"


class OutputError(ValueError):
    """A command's output path that the rule refuses; the message is one sentence."""


class Kind(StrEnum):
    """What is at a path a command would write."""

    ABSENT = "absent"
    EMPTY = "empty"
    TRAJECTORY = "trajectory"
    BATCH = "batch"
    EXPORT = "export"
    FOLDER = "folder"  # a non-empty folder of anything else
    FILE = "file"
    UNDER_FILE = "under-file"  # a path whose parent is a file: nothing can be made there
    BROKEN_LINK = "broken-link"  # a link to nothing (or to a loop)


class FileKind(StrEnum):
    """The files a command writes, each recognised by its own mark."""

    REPORT = "report"
    SCRIPT = "script"
    MP4 = "mp4"
    GIF = "gif"


_FOLDER_NAMES = {Kind.TRAJECTORY: "a trajectory", Kind.BATCH: "a batch folder", Kind.EXPORT: "an export folder"}
_FILE_NAMES = {FileKind.REPORT: ("report", "a report"), FileKind.SCRIPT: ("script", "a script"),
               FileKind.MP4: ("mp4", "an mp4"), FileKind.GIF: ("GIF", "a GIF")}


def _file_above(path: Path) -> Path | None:
    """The nearest existing ancestor of ``path`` (itself excluded) if it is not a folder."""
    for parent in path.parents:
        if parent.exists():
            return None if parent.is_dir() else parent
    return None


def kind_of(path: Path) -> Kind:
    """What ``path`` is, for a command that would write there (links followed)."""
    if path.is_symlink() and not path.exists():
        try:
            target = path.resolve()
        except (OSError, RuntimeError):  # a loop of links
            return Kind.BROKEN_LINK
        return Kind.UNDER_FILE if _file_above(target) is not None else Kind.BROKEN_LINK
    if not path.exists():
        return Kind.UNDER_FILE if _file_above(path) is not None else Kind.ABSENT
    if not path.is_dir():
        return Kind.FILE
    try:
        names = {p.name for p in path.iterdir()}
    except OSError as exc:
        raise OutputError(f"cannot read the folder {path}: {exc.strerror}") from None
    if META_FILE in names:
        return Kind.TRAJECTORY
    if RESULTS_FILE in names or BATCH_LOCK in names:
        return Kind.BATCH
    if TRAINING_FILE in names and _head(path / TRAINING_FILE).startswith(EXPORT_HEADING.encode()):
        return Kind.EXPORT
    return Kind.EMPTY if names <= {RUN_LOCK} else Kind.FOLDER


def _head(path: Path, size: int = 4096) -> bytes:
    try:
        with open(path, "rb") as f:
            return f.read(size)
    except OSError:
        return b""


def _file_kind(path: Path) -> FileKind | None:
    """Which of our files ``path`` is, by its mark, or None."""
    head = _head(path)
    if REPORT_MARK.encode() in head or b" - guiagent</title>" in head:  # the latter: reports written before the mark
        return FileKind.REPORT
    if head.startswith(SCRIPT_MARK.encode()):
        return FileKind.SCRIPT
    if head.startswith(b"GIF8"):
        return FileKind.GIF
    if head[4:8] == b"ftyp":  # an ISO media file (mp4)
        return FileKind.MP4
    return None


def _blocker(path: Path) -> Path | None:
    """The file above ``path`` (or above where its link leads) that stops anything being made there."""
    return _file_above(path.resolve() if path.is_symlink() else path)


def _where(path: Path) -> str:
    """``path``, and where a link leads."""
    if path.is_symlink():
        return f"{path} (a link to {os.readlink(path)})"
    return str(path)


def check_folder(path: Path, option: str, command: str, own: Kind | None = None) -> Kind:
    """Refuse (OutputError) unless ``path`` is absent, empty, or of the ``own`` kind; returns its kind."""
    kind = kind_of(path)
    if kind in (Kind.ABSENT, Kind.EMPTY) or kind == own:
        return kind
    where = _where(path)
    rule = f"{command} writes only into a new or empty folder" + (f" or {_FOLDER_NAMES[own]} to continue" if own else "")
    if kind == Kind.FILE:
        raise OutputError(f"{where} is a file, not a folder: give {option} a new or empty folder")
    if kind == Kind.UNDER_FILE:
        raise OutputError(f"{where} lies under {_blocker(path)}, which is a file: give {option} a new or empty folder")
    if kind == Kind.BROKEN_LINK:
        raise OutputError(f"{where} leads to nothing: give {option} a new or empty folder")
    if kind == Kind.TRAJECTORY and command == "run":
        raise OutputError(f"{where} already holds a trajectory: choose another --out or use --resume")
    if kind in _FOLDER_NAMES:
        raise OutputError(f"{where} is {_FOLDER_NAMES[kind]}: {rule}; choose another {option}")
    found = sorted(p.name for p in path.iterdir() if p.name != RUN_LOCK)
    listed = ", ".join(found[:4]) + (f" and {len(found) - 4} more" if len(found) > 4 else "")
    what = "is not empty and holds no trajectory of this run" if command == "run" else "is not empty"
    raise OutputError(f"{where} {what} ({listed}): {rule}; choose another {option}")


def check_file(path: Path, option: str, own: FileKind) -> None:
    """Refuse (OutputError) unless ``path`` is a new file in a folder that is or can be made, or a
    ``own`` file written before (replaced)."""
    kind = kind_of(path)
    where = _where(path)
    what, a_what = _FILE_NAMES[own]
    if kind == Kind.ABSENT:
        return
    if kind == Kind.FILE:
        if _file_kind(path) == own:
            return
        raise OutputError(f"{where} is a file this command did not write: give {option} a new file (or {a_what} "
                          "written before, to replace it)")
    if kind == Kind.UNDER_FILE:
        raise OutputError(f"{where} lies under {_blocker(path)}, which is a file: give {option} a new file in a folder")
    if kind == Kind.BROKEN_LINK:
        raise OutputError(f"{where} leads to nothing: give {option} a new file")
    raise OutputError(f"{where} is a folder: give {option} the {what} file to write")
