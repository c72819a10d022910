"""OSWorld's getters that need no VM: ``vm_file`` (a file of the finished world: here, of the episode's HOME),
``rule`` / ``rules`` (the expected value written in the task), ``local_file`` (a file shipped with the task).
After OSWorld's desktop_env/evaluators/getters (file.py: get_vm_file, get_cloud_file; general.py: get_rule)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class GetterError(ValueError):
    """A getter that cannot read what it names (the message says what and where)."""


class Getter(BaseModel):
    """``{type: vm_file, path: ~/report.xlsx}``, ``{type: rule, rules: {...}}``, ``{type: local_file, path: f.xlsx}``."""

    model_config = ConfigDict(extra="allow")

    type: str
    path: str | None = None
    rules: Any = None
    dest: str | None = Field(default=None, description="OSWorld's local copy name (ignored: files are read in place).")


SUPPORTED = ("vm_file", "rule", "rules", "local_file")


def resolve(getter: Getter, home: Path, task_dir: Path | None) -> Any:
    """The value a getter names: a path for files (metrics open them), the rules themselves for rule(s)."""
    if getter.type in ("rule", "rules"):
        return getter.rules
    if getter.path is None:
        raise GetterError(f"the {getter.type} getter needs a path")
    if getter.type == "vm_file":
        return vm_path(getter.path, home)
    if getter.type == "local_file":
        base = task_dir or Path.cwd()
        return base / getter.path
    raise GetterError(f"the getter {getter.type!r} is not supported (supported: {', '.join(SUPPORTED)})")


def vm_path(path: str, home: Path) -> Path:
    """A path of OSWorld's VM (``/home/user/x``, ``~/x``, or relative to HOME) in the episode's HOME; never outside it."""
    for prefix in ("/home/user/", "~/"):
        if path.startswith(prefix):
            path = path[len(prefix):]
    target = (home / path.lstrip("/")).resolve()
    if not target.is_relative_to(home.resolve()):
        raise GetterError(f"{path!r} is outside the episode's HOME")
    return target
