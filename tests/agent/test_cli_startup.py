"""``guiagent --help``, ``--version`` and usage errors answer without importing the runtime.

Counted in modules, not timed (bench/cli_startup.py prints the times): each command imports what it
needs when it runs, so help and bad usage never load Playwright, LangGraph, images or the model client (typer itself uses pydantic).
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from typer.models import CommandInfo

from guiagent.agent.cli import app

HEAVY = ("playwright", "langgraph", "openai", "httpx", "PIL", "numpy", "av", "yaml", "mss", "pyarrow")

PROBE = """
import contextlib, io, json, sys
before = set(sys.modules)
sys.argv = ["guiagent", *json.loads(sys.argv[1])]
from guiagent.agent.cli import app
out = io.StringIO()
with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
    try:
        app()
    except SystemExit as exc:
        code = exc.code
print(json.dumps({"code": code, "modules": sorted(set(sys.modules) - before), "out": out.getvalue()}))
"""


def _probe(*args: str) -> dict:
    proc = subprocess.run([sys.executable, "-c", PROBE, json.dumps(args)], capture_output=True, text=True, check=True)
    return json.loads(proc.stdout)


def _heavy(modules: list[str]) -> list[str]:
    ours = {"guiagent", "guiagent.agent", "guiagent.agent.cli", "guiagent.agent.cli_common",
            "guiagent.agent.cli_drivers"}  # cli_drivers: typer only, as cli
    return [m for m in modules if m.split(".")[0] in HEAVY or (m.startswith("guiagent") and m not in ours)]


def _command_name(command: CommandInfo) -> str:
    if command.name:
        return command.name
    assert command.callback is not None
    return command.callback.__name__


def _commands() -> list[str]:
    return sorted(_command_name(c) for c in app.registered_commands)


def test_help_and_version_import_nothing_of_the_runtime() -> None:
    for args in (["--help"], ["--version"]):
        probe = _probe(*args)
        assert probe["code"] in (0, None), probe["out"]
        assert _heavy(probe["modules"]) == [], args
    assert "guiagent " in _probe("--version")["out"]


@pytest.mark.parametrize("command", _commands())
def test_each_commands_help_and_usage_error_are_light(command: str) -> None:
    probe = _probe(command, "--help")
    assert probe["code"] in (0, None), probe["out"]
    assert _heavy(probe["modules"]) == []
    bad = _probe(command, "--no-such-option")
    assert bad["code"] == 2 and "--no-such-option" in bad["out"]
    assert _heavy(bad["modules"]) == []


def test_choices_are_shown_as_choices() -> None:
    text = " ".join(_probe("run", "--help")["out"].split())
    assert "script|vlm" in text and "browser|desktop" in text
