"""Files between a page and the disk: uploads only from the folder the user names, downloads only into
the episode's folder.

A page's file chooser (an ``<input type=file>`` clicked) never opens a dialog: the env holds it, and the
model chooses by typing a file's name. Only a regular file inside ``upload_dir`` (links resolved first,
so a link out of it is refused) is read and handed to the page; without an upload folder nothing is.
A download is saved under ``downloads_dir`` by a name cut to its last part and made safe and unique;
without a downloads folder it is dropped.
"""

from __future__ import annotations

import mimetypes
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypedDict

from guiagent.envs.chromium import first_line

if TYPE_CHECKING:
    from playwright.sync_api import Download

MAX_UPLOAD_BYTES = 50 * 2**20  # what Playwright hands a page in one file
MAX_NAME_CHARS = 200
NO_UPLOADS = ("uploads are off: a page's file chooser takes files only from a folder the user names "
              "(guiagent run --upload-dir FOLDER); nothing was chosen")


class TransferRefused(ValueError):
    """An upload or a download the rules refuse; the message is the sentence the model is told."""


class FilePayload(TypedDict):
    name: str
    mimeType: str
    buffer: bytes


def listing(upload_dir: str | None, most: int = 10) -> str:
    """The files the model may choose, for the note that a chooser opened."""
    if upload_dir is None:
        return NO_UPLOADS
    try:
        names = sorted(p.name for p in Path(upload_dir).iterdir() if p.is_file())
    except OSError:
        names = []
    shown = ", ".join(names[:most]) + (f" and {len(names) - most} more" if len(names) > most else "")
    return "type the name of a file in the upload folder to choose it" + (f" (there: {shown})" if shown else " (it is empty)")


def upload_files(upload_dir: str | None, text: str, multiple: bool) -> list[FilePayload]:
    """The files named in ``text`` (one a line), read from ``upload_dir``; TransferRefused says why not."""
    if upload_dir is None:
        raise TransferRefused(NO_UPLOADS)
    root = Path(upload_dir).resolve()
    names = [line.strip().strip("'\"") for line in text.splitlines() if line.strip().strip("'\"")]
    if not names:
        raise TransferRefused("type the name of a file in the upload folder to choose it")
    if len(names) > 1 and not multiple:
        raise TransferRefused(f"this file chooser takes one file, not {len(names)}: nothing was chosen")
    files: list[FilePayload] = []
    for name in names:
        given = Path(name)
        try:
            real = (given if given.is_absolute() else root / given).resolve(strict=True)
        except (OSError, RuntimeError):
            raise TransferRefused(f"there is no file {name!r} in the upload folder: nothing was chosen") from None
        if not real.is_relative_to(root):
            raise TransferRefused(f"{name!r} is outside the upload folder: only its files can be chosen; nothing was chosen")
        if not real.is_file():
            raise TransferRefused(f"{name!r} is not a file in the upload folder: nothing was chosen")
        with open(real, "rb") as f:
            data = f.read(MAX_UPLOAD_BYTES + 1)
        if len(data) > MAX_UPLOAD_BYTES:
            raise TransferRefused(f"{name!r} is larger than {MAX_UPLOAD_BYTES // 2**20} MB: nothing was chosen")
        kind = mimetypes.guess_type(real.name)[0] or "application/octet-stream"
        files.append({"name": real.name, "mimeType": kind, "buffer": data})
    return files


def safe_name(suggested: str) -> str:
    """A download's name as one plain file name: its last part, without control characters or leading dots."""
    name = re.split(r"[/\\]", suggested)[-1]
    name = re.sub(r"[\x00-\x1f\x7f]", "_", name).strip().lstrip(".")
    return name[-MAX_NAME_CHARS:] or "download"


def download_target(downloads_dir: str | None, suggested: str) -> Path:
    """Where a download is saved: a new file directly in ``downloads_dir`` (made if need be)."""
    if downloads_dir is None:
        raise TransferRefused("not kept: downloads are kept only in an episode's folder, and this browser has none")
    root = Path(downloads_dir)
    if root.is_symlink():
        raise TransferRefused(f"not kept: the downloads folder {root} is a link")
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise TransferRefused(f"not kept: cannot make the downloads folder {root}: {exc.strerror}") from None
    name = safe_name(suggested)
    stem, dot, suffix = name.rpartition(".") if "." in name else (name, "", "")
    target, n = root / name, 1
    while target.exists() or target.is_symlink():  # never over an earlier download, never through a link
        target = root / (f"{stem} ({n}){dot}{suffix}" if dot else f"{name} ({n})")
        n += 1
    return target


def keep_downloads(downloads: list[Download], downloads_dir: str | None) -> list[dict[str, Any]]:
    """Save each download into ``downloads_dir`` under a safe new name; what a download became: its path, or why it
    was not kept (one not kept is deleted from Playwright's temporary folder)."""
    kept: list[dict[str, Any]] = []
    for download in downloads:
        try:
            target = download_target(downloads_dir, download.suggested_filename)
            download.save_as(target)
            kept.append({"url": download.url, "path": str(target)})
        except TransferRefused as exc:
            _drop(download)
            kept.append({"url": download.url, "error": str(exc)})
        except Exception as exc:
            kept.append({"url": download.url, "error": f"not kept: {first_line(exc)}"})
    return kept


def _drop(download: Download) -> None:
    """Delete a download that is not kept (Playwright holds it in a temporary folder until then)."""
    try:
        download.delete()
    except Exception:
        pass  # the context's end removes it anyway
