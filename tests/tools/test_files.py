"""write_atomic: the file is the old one or the new one, never a part, and no temporary file stays behind."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from guiagent.tools.files import write_atomic


def test_a_write_replaces_the_whole_file(tmp_path: Path) -> None:
    path = tmp_path / "meta.json"
    write_atomic(path, "first, and longer than the second")
    write_atomic(path, "naïve")
    assert path.read_text(encoding="utf-8") == "naïve"
    write_atomic(path, b"\x00bytes")
    assert path.read_bytes() == b"\x00bytes"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["meta.json"]


def test_a_failed_write_keeps_the_old_file_and_leaves_no_temporary(tmp_path: Path) -> None:
    path = tmp_path / "meta.json"
    write_atomic(path, "old")
    with pytest.raises(UnicodeEncodeError):
        write_atomic(path, "half \udcff")  # a lone surrogate: fails while the temporary file is written
    assert path.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["meta.json"]


def test_the_file_follows_the_umask(tmp_path: Path) -> None:
    previous = os.umask(0o022)
    try:
        write_atomic(tmp_path / "shared.json", "{}")
    finally:
        os.umask(previous)
    assert stat.S_IMODE((tmp_path / "shared.json").stat().st_mode) == 0o644
