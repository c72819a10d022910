"""Task suites: task files (YAML or JSONL) and the bundled suites demo, desktop, apps (real apps) and miniwob."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from guiagent.agent.suites.model import PageReward, SkippedTask, Start, Suite, SuiteError, SuiteTask, load_suite_file

BUNDLED = ("demo", "desktop", "apps", "miniwob")


def bundled_path(name: str) -> Path:
    return Path(str(resources.files("guiagent.agent.suites").joinpath("bundled", f"{name}.yaml")))


def load_suite(name_or_path: str) -> Suite:
    """A bundled suite by name (demo, desktop, apps, miniwob), a task file by path, or OSWorld task JSON (a file or a folder)."""
    if name_or_path == "miniwob":
        from guiagent.agent.suites.miniwob import miniwob_suite

        return miniwob_suite()
    if name_or_path in BUNDLED:
        return load_suite_file(bundled_path(name_or_path))
    path = Path(name_or_path)
    if not path.exists():
        raise SuiteError(f"no suite {name_or_path!r}: give a task file (.yaml, .jsonl), OSWorld task JSON (a file or a "
                         f"folder) or one of {', '.join(BUNDLED)}")
    if path.is_dir() or (path.suffix == ".json" and not _is_task_file(path)):
        from guiagent.agent.suites.osworld import load_osworld

        return load_osworld(path)
    return load_suite_file(path)


def _is_task_file(path: Path) -> bool:
    """A .json file in our own task-file form (an object with ``tasks``), not an OSWorld task."""
    import json

    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return False  # the OSWorld reader names the problem
    return isinstance(data, dict) and "tasks" in data


__all__ = ["BUNDLED", "PageReward", "SkippedTask", "Start", "Suite", "SuiteError", "SuiteTask", "load_suite", "load_suite_file"]
