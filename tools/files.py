"""Files written whole or not at all: a reader (or a crash) never sees half of one."""

from __future__ import annotations

import os
from pathlib import Path


def write_atomic(path: str | Path, data: str | bytes, encoding: str = "utf-8", private: bool = False) -> None:
    """Write ``data`` to ``path`` through ``<name>.<pid>.tmp`` beside it and ``os.replace``: the old file stays
    whole until the new one is complete (the temporary file follows the umask, as ``path`` would; ``private``:
    readable by its owner only, from the first byte)."""
    path = Path(path)
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")  # two processes writing one file never share a tmp
    raw = data if isinstance(data, bytes) else data.encode(encoding)
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600 if private else 0o666)
        with os.fdopen(fd, "wb") as f:
            f.write(raw)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
