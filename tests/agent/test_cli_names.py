"""One CLI (issue 21): every option named in a command's help or in the README exists in that command's parser,
flags read as flags, and the output folder is ``-o``/``--out`` on every command that writes one."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import typer.main
from typer.testing import CliRunner

from guiagent.agent.cli import app

README = Path(__file__).resolve().parents[2] / "README.md"
OPTION = re.compile(r"(?<![\w-])--[a-z][a-z0-9-]*")
GROUP = typer.main.get_command(app)
COMMANDS = GROUP.commands  # type: ignore[attr-defined]


def _names(command) -> set[str]:
    return {name for p in command.params for name in (*p.opts, *getattr(p, "secondary_opts", []))}


GLOBAL = _names(GROUP) | {"--help"}


def _help(*args: str) -> str:
    result = CliRunner().invoke(app, [*args, "--help"], terminal_width=400, env={"COLUMNS": "400"})
    assert result.exit_code == 0, result.output
    return result.output


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_help_names_only_options_the_command_has(name: str) -> None:
    text = _help(name)
    unknown = set(OPTION.findall(text)) - _names(COMMANDS[name]) - GLOBAL
    assert not unknown, f"guiagent {name} --help names {sorted(unknown)}, which it does not take"
    assert "<bool>" not in text and "<int>  Log" not in text


def test_the_top_help_shows_flags_as_flags() -> None:
    assert "<bool>" not in _help()


def _readme_commands() -> list[tuple[str, str]]:
    """(command, its options' text) for every ``guiagent COMMAND ...`` line of the README (continued lines joined)."""
    text = re.sub(r"\\\n\s*", " ", README.read_text())
    found = []
    for line in text.splitlines():
        for match in re.finditer(r"guiagent((?: +-[-\w]+)*) +([a-z]+)\b([^`#\n]*)", line):
            if match[2] in COMMANDS:
                found.append((match[2], match[1] + match[3]))
    return found


def test_every_option_the_readme_names_is_in_its_commands_parser() -> None:
    commands = _readme_commands()
    assert len(commands) > 20
    wrong = [(name, option) for name, rest in commands for option in OPTION.findall(rest)
             if option not in _names(COMMANDS[name]) | GLOBAL]
    assert not wrong, f"the README names options its commands do not take: {wrong}"


def test_the_output_option_is_o_and_out_everywhere() -> None:
    for name, command in COMMANDS.items():
        outputs = [p for p in command.params if {"-o", "--out", "--output"} & set(p.opts)]
        assert len(outputs) <= 1, name
        if outputs:
            assert {"-o", "--out"} <= set(outputs[0].opts), f"{name}: {outputs[0].opts}"
    assert {"run", "batch", "demo", "replay", "export", "script", "view"} <= {
        n for n, c in COMMANDS.items() if any("--out" in p.opts for p in c.params)}
