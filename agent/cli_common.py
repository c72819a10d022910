"""What the ``guiagent`` commands share: exit codes, running an episode and reporting it, default folders.

Only typer and the standard library load here at start-up (as in agent/cli.py): the rest is imported when used.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from typer.core import TyperCommand, TyperGroup, TyperOption

if TYPE_CHECKING:
    from guiagent.agent.cli_output import Output
    from guiagent.agent.loop import EpisodeResult
    from guiagent.agent.outcome import Outcome
    from guiagent.agent.run_options import RunOptions

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
EXIT_UNVERIFIED = 3  # the policy says it is done, and no check verified it
EXIT_INTERRUPTED = 130  # 128 + SIGINT, as shells report it; SIGTERM stops a run the same way


def _flags_as_flags(params):  # noqa: ANN001, ANN202 (typer's own vendored click types)
    for param in params:
        if isinstance(param, TyperOption) and (param.is_flag or param.count) and param.metavar is None:
            param.metavar = ""
    return params


class FlagCommand(TyperCommand):
    """A command whose help shows flags as flags: no ``<bool>`` type beside ``--json`` or ``--headed``."""

    def get_params(self, ctx):  # noqa: ANN001, ANN201
        return _flags_as_flags(super().get_params(ctx))


class FlagGroup(TyperGroup):
    """The top command, with its flags (--version, -v, -q) shown as flags."""

    def get_params(self, ctx):  # noqa: ANN001, ANN201
        return _flags_as_flags(super().get_params(ctx))


def plain_flags(app: typer.Typer) -> None:
    """Every command of ``app`` shows its flags as flags (FlagCommand)."""
    for command in app.registered_commands:
        if command.cls in (None, TyperCommand):
            command.cls = FlagCommand


def execute(fn: Callable[[], EpisodeResult], out: Path, output: Output) -> None:
    """Run an episode and exit with its code; a run that could not start leaves no folder behind."""
    from pydantic import ValidationError

    from guiagent.agent.interrupts import EpisodeInterrupted, ExitAfterInterrupt
    from guiagent.agent.outputs import OutputError
    from guiagent.agent.rebuild import RebuildDiverged
    from guiagent.agent.runner import ConfigError
    from guiagent.agent.trajectory import TrajectoryError
    from guiagent.envs import EnvError
    from guiagent.policies import PolicyError

    ExitAfterInterrupt.seconds = 30.0  # this process owns its exit: a hung close after Ctrl-C does not keep it
    existed = out.exists()
    started = time.time()
    try:
        result = fn()
    except EpisodeInterrupted as stop:  # recorded as interrupted: say where, and how to go on
        output.result(stop.result, stop.root, started)
        raise typer.Exit(EXIT_INTERRUPTED) from None
    except KeyboardInterrupt:
        output.error("interrupted before the episode started: nothing was recorded")
        raise typer.Exit(EXIT_INTERRUPTED) from None
    except RebuildDiverged as exc:  # the resume stopped before going on: nothing recorded was changed
        output.error(str(exc))
        output.json_error(str(exc), EXIT_FAILED)
        raise typer.Exit(EXIT_FAILED) from None
    except (ConfigError, TrajectoryError, OutputError, ValidationError, EnvError, PolicyError) as exc:
        # Could not even start (bad setting, no Chromium, unreadable script): nothing was recorded.
        message = setting_error(exc) if isinstance(exc, ValidationError) else str(exc)
        if not existed:
            remove_unstarted(out)
        output.error(message)
        output.json_error(message, EXIT_USAGE)
        raise typer.Exit(EXIT_USAGE) from None
    output.result(result, out, started)
    raise typer.Exit(exit_code(result.status))


def exit_code(outcome: Outcome) -> int:
    """The exit code of an episode's outcome (documented in the module's docstring and the README)."""
    from guiagent.agent.outcome import Outcome

    return {Outcome.SUCCESS: EXIT_OK, Outcome.UNVERIFIED: EXIT_UNVERIFIED}.get(outcome, EXIT_FAILED)


def setting_error(exc: Any) -> str:
    first = exc.errors()[0]
    where = ".".join(str(p) for p in first["loc"])
    return f"invalid setting {where}: {first['msg'].removeprefix('Value error, ')}"


def remove_unstarted(out: Path) -> None:
    """Remove a folder this command created for a run that never started (no meta.json in it)."""
    import shutil

    if out.is_dir() and not (out / "meta.json").exists():
        shutil.rmtree(out, ignore_errors=True)


def default_out(prefix: str) -> Path:
    return Path("runs") / f"{prefix}-{time.strftime('%Y%m%d-%H%M%S')}"


def refuse_finished(folder: Path, output: Output) -> None:
    """``--resume`` on an episode that has ended says so, with its outcome and exit code, and changes nothing."""
    from guiagent.agent.loop import EpisodeResult
    from guiagent.agent.trajectory import TrajectoryError, load_trajectory

    try:
        traj = load_trajectory(folder)
    except TrajectoryError:
        return  # resume_episode names the problem
    m = traj.meta
    if not m.outcome.finished or traj.torn_tail is not None:
        return  # running, or finished with its last line cut: resume_episode says what it does
    result = EpisodeResult(status=m.outcome, reason=m.reason, answer=m.answer, steps=len(traj.steps),
                           ended_by=m.ended_by, declared=m.declared, verified=m.verified)
    if output.json_mode:
        output.result(result, folder, time.time(), already_finished=True)
    else:
        output.finished_already(result, folder)
    raise typer.Exit(exit_code(m.outcome))


def suite_task(options: RunOptions, suite: str, seed: int | None, target: Path, output: Output) -> EpisodeResult:
    """``run --suite FILE --task ID``: the suite's task gives the start, check, limits and script; run's options
    the policy, model and env settings (the bundled sites are on 127.0.0.1, as in batch)."""
    from guiagent.agent.batch import run_suite_task
    from guiagent.agent.runner import ConfigError
    from guiagent.agent.safeguards import terminal_approver

    given = [f"--{k.replace('_', '-')}" for k in ("script", "start_url", "success", "launch", "window") if getattr(options, k)]
    if given:
        raise ConfigError(f"--suite takes the task's own {', '.join(given)}: leave {'it' if len(given) == 1 else 'them'} out")
    settings = options.model_copy(update={"task": None, "demo_site": True, "env": "browser"})  # the task's env decides
    return run_suite_task(suite, options.task, target, settings.spec(), desktop=settings.desktop(), seed=seed,
                          on_step=output.step, approver=terminal_approver())



def with_options_of(source: Callable[..., None], leaving: set[str]) -> Callable[[Callable[..., None]], Callable[..., None]]:
    """Give a command every option of ``source`` (another command) but those in ``leaving``, with their names, help
    and defaults; their values reach it as ``run_options``."""
    import functools
    import inspect

    def give(command: Callable[..., None]) -> Callable[..., None]:
        borrowed = [p for p in inspect.signature(source, eval_str=True).parameters.values() if p.name not in leaving]
        own = [p for p in inspect.signature(command, eval_str=True).parameters.values() if p.name != "run_options"]

        @functools.wraps(command)
        def wrapper(**kwargs: Any) -> None:
            command(run_options={p.name: kwargs.pop(p.name) for p in borrowed}, **kwargs)

        wrapper.__signature__ = inspect.Signature(own + borrowed)  # type: ignore[attr-defined]
        wrapper.__annotations__ = {p.name: p.annotation for p in own + borrowed}
        del wrapper.__wrapped__
        return wrapper

    return give
