"""OSWorld's task JSON as a suite: a file, or a folder of them (read recursively).

The schema is OSWorld's (xlang-ai/OSWorld, evaluation_examples/examples/<app>/<id>.json): ``id``, ``instruction``,
``config`` (steps ``{type, parameters}`` that set the VM up), ``evaluator`` (``func``, ``result``, ``expected``,
``options``, ``postconfig``; desktop_env/desktop_env.py). Here the episode's sandbox HOME stands for the VM's
``/home/user``; what runs without a VM is mapped onto the apps suite's model:

- ``download`` whose ``url`` is a local path (absolute, ``file://``, or relative to the JSON): the file is placed at
  its ``path`` in the fresh HOME; ``open`` starts the app for the file's kind (Calc, Writer, mousepad); ``launch``
  starts its ``command`` (``/home/user/...`` arguments become paths in HOME); ``execute`` runs its command in HOME
  before the app starts; ``sleep`` is a no-op (the env waits for the app's window instead).
- ``postconfig``: ``activate_window`` and ``sleep`` are no-ops; ``execute`` of ``pyautogui.hotkey(...)`` or
  ``pyautogui.press(...)`` (OSWorld's "save before reading" idiom) is pressed in the app before the check.

Anything else (a step that needs the VM or the internet, an unsupported getter or func) makes the task *skipped*,
with the reason, in the suite's ``skipped`` list; it is never dropped silently. A task's reference script, for
``--policy script``, is ``<stem>.yaml`` beside its JSON (guiagent's own addition; OSWorld has none).
"""

from __future__ import annotations

import hashlib
import json
import re
import shlex
import shutil
import tempfile
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from pydantic import ValidationError

from guiagent.agent.checks import Evaluator, EvaluatorError
from guiagent.agent.checks.getters import vm_path
from guiagent.agent.suites.model import SkippedTask, Suite, SuiteError, build_suite

APPS = {"xlsx": "localc", "xls": "localc", "ods": "localc", "csv": "localc", "docx": "lowriter", "doc": "lowriter",
        "odt": "lowriter", "rtf": "lowriter"}
EDITOR = "mousepad"
VM_HOME = "/home/user/"
PROFILE = Path(__file__).parent / "bundled" / "apps" / "profile"
HOTKEY = re.compile(r"pyautogui\.(hotkey|press)\(([^)]*)\)")


class Unsupported(ValueError):
    """A task this runtime cannot run without a VM; the message is the reason it is skipped."""


def load_osworld(path: Path) -> Suite:
    """The tasks of an OSWorld JSON file or folder; the ones that cannot run here are in ``skipped``."""
    files = sorted(p for p in path.rglob("*.json")) if path.is_dir() else [path]
    if not files:
        raise SuiteError(f"{path}: no OSWorld task JSON (*.json) in this folder")
    raw_tasks, skipped = [], []
    for file in files:
        try:
            data = json.loads(file.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise SuiteError(f"{file}: not an OSWorld task JSON: {exc}") from None
        if not isinstance(data, dict) or not isinstance(data.get("id"), str):
            raise SuiteError(f"{file}: not an OSWorld task JSON: expected an object with an 'id'")
        try:
            raw_tasks.append(task_of(data, file))
        except Unsupported as exc:
            skipped.append(SkippedTask(id=data["id"], reason=str(exc), source=str(file)))
    name = path.stem if path.is_file() else path.name
    if not raw_tasks:
        return Suite(name=name, source=str(path), tasks=[], skipped=skipped)
    suite = build_suite(name, str(path), raw_tasks, {})
    return suite.model_copy(update={"skipped": skipped})


def task_of(data: dict[str, Any], file: Path) -> dict[str, Any]:
    """One OSWorld task as a suite task (a mapping for ``build_suite``), or ``Unsupported`` with the reason."""
    stage = _stage(file, data["id"])
    app, window, before = None, None, []
    for step in data.get("config") or []:
        kind, params = step.get("type"), step.get("parameters") or {}
        if kind == "download":
            for item in params.get("files") or []:
                _download(item, file.parent, stage)
        elif kind in ("open", "launch"):
            if app is not None:
                raise Unsupported(f"config: a second app to start ({kind}); one app per episode here")
            app, window = _open(params) if kind == "open" else (_command(params.get("command")), None)
        elif kind == "execute":
            before.append(_command(params.get("command")))
        elif kind != "sleep":
            raise Unsupported(f"config step {kind!r} needs OSWorld's VM (supported: download from a local path, "
                              "open, launch, execute, sleep)")
    if app is None:
        raise Unsupported("config: no app to start (open or launch)")
    if before:
        app = "sh -c " + shlex.quote("; ".join([*before, f"exec {app}"]))
    evaluator = data.get("evaluator")
    if not isinstance(evaluator, dict):
        raise Unsupported("no evaluator")
    for getter in _getters(evaluator):
        if getter.get("type") == "cloud_file":
            raise Unsupported("the evaluator's cloud_file getter needs the internet")
        if getter.get("type") == "local_file":
            getter["path"] = str((file.parent / str(getter.get("path"))).resolve())
    keys = [_postconfig(step) for step in evaluator.get("postconfig") or []]
    try:
        Evaluator.model_validate({**evaluator, "postconfig": [{"keys": k} for k in keys if k]})
    except (EvaluatorError, ValidationError) as exc:
        message = exc.errors()[0]["msg"].removeprefix("Value error, ") if isinstance(exc, ValidationError) else str(exc)
        raise Unsupported(f"evaluator: {message}") from None
    script = file.with_suffix(".yaml")
    return {
        "id": data["id"], "instruction": data.get("instruction") or "",
        "start": {"app": app, "window": window, "wm": "openbox", "sandbox": True, "files": [str(PROFILE), str(stage)]},
        "evaluator": {**evaluator, "postconfig": [{"keys": k} for k in keys if k]},
        "script": str(script) if script.is_file() else None,
        "tags": ["osworld", *[str(a) for a in data.get("related_apps") or []]],
    }


def _stage(file: Path, task_id: str) -> Path:
    """The folder the task's downloads are placed in (copied into each episode's HOME), fresh for each read."""
    digest = hashlib.sha1(f"{file.resolve()}\0{task_id}".encode()).hexdigest()[:16]
    stage = Path(tempfile.gettempdir()) / "guiagent-osworld" / digest
    shutil.rmtree(stage, ignore_errors=True)
    stage.mkdir(parents=True)
    return stage


def _download(item: dict[str, Any], base: Path, stage: Path) -> None:
    url, dest = str(item.get("url") or ""), str(item.get("path") or "")
    parsed = urlparse(url)
    if parsed.scheme in ("http", "https", "ftp"):
        raise Unsupported(f"config: download of {url[:80]!r} needs the internet (give a local path)")
    source = Path(parsed.path) if parsed.scheme == "file" else base / url
    if not source.is_file():
        raise Unsupported(f"config: download source {url!r} not found (looked in {base})")
    target = vm_path(dest, stage)
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, target)


def _in_home(arg: str) -> str:
    """A VM path argument as a path in the episode's HOME (the app starts there)."""
    for prefix in (VM_HOME, "~/"):
        if arg.startswith(prefix):
            return arg[len(prefix):] or "."
    return arg


def _command(command: Any) -> str:
    if isinstance(command, str) and command.strip():
        return command
    if isinstance(command, list) and command and all(isinstance(c, str) for c in command):
        return shlex.join(_in_home(c) for c in command)
    raise Unsupported(f"config: a command must be a string or a list of strings, got {command!r}")


def _open(params: dict[str, Any]) -> tuple[str, str]:
    path = _in_home(str(params.get("path") or ""))
    if not path:
        raise Unsupported("config: open needs a path")
    app = APPS.get(Path(path).suffix.lower().lstrip("."), EDITOR)
    flags = " --norestore --nologo" if app != EDITOR else ""
    return f"{app}{flags} {shlex.quote(path)}", re.escape(Path(path).name)


def _getters(evaluator: dict[str, Any]) -> list[dict[str, Any]]:
    found = []
    for key in ("result", "expected"):
        value = evaluator.get(key)
        found += [g for g in (value if isinstance(value, list) else [value]) if isinstance(g, dict)]
    return found


def _postconfig(step: dict[str, Any]) -> str | None:
    """The keys a postconfig step presses (None: a no-op here); ``Unsupported`` for the rest."""
    kind, params = step.get("type"), step.get("parameters") or {}
    if kind in ("sleep", "activate_window"):
        return None
    if kind == "execute":
        command = params.get("command")
        text = " ".join(command) if isinstance(command, list) else str(command)
        if (match := HOTKEY.search(text)) is not None:
            keys = [k.strip().strip("'\"") for k in match.group(2).split(",") if k.strip()]
            if keys:
                return "+".join(keys)
    raise Unsupported(f"evaluator: postconfig step {kind!r} ({json.dumps(params)[:80]}) needs OSWorld's VM")
