"""What the ``guiagent`` command prints: one line per step, the result, errors, and its log.

Human text goes to the terminal through rich (user text printed literally, never as markup); with
``--json`` the one machine-readable result is the only thing on stdout (steps go to stderr);
``--quiet`` keeps only the result and errors. Diagnostics go through ``logging`` (``-v``, ``-vv``).
"""

from __future__ import annotations

import json
import logging
import sys
import time
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.text import Text

from guiagent.agent.loop import EpisodeResult
from guiagent.agent.outcome import Outcome
from guiagent.agent.trajectory import StepRecord, resume_command
from guiagent.tools.targets import ResolvedTarget, Target


def setup_logging(verbosity: int, quiet: bool) -> None:
    """guiagent's loggers to stderr: warnings by default, info with -v, debug with -vv, errors with --quiet."""
    level = logging.ERROR if quiet else {0: logging.WARNING, 1: logging.INFO}.get(verbosity, logging.DEBUG)
    logger = logging.getLogger("guiagent")
    if not logger.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s", "%H:%M:%S"))
        logger.addHandler(handler)
    logger.setLevel(level)


def describe_actions(record: StepRecord) -> str:
    """``left_click [640, 220]; type text='hi'``, as the step's actions read."""
    parts = []
    for action in record.actions:
        fields = {k: v for k, v in action.items() if k != "action"}
        args = " ".join(f"{v}" if k in ("coordinate", "keys") else f"{k}={v!r}" for k, v in fields.items())
        parts.append(f"{action['action']} {args}".strip())
    return "; ".join(parts)


def describe_target(resolved: ResolvedTarget) -> str:
    """``role button 'Sign in' (dom)``, ``describe 'the Save button' (model, healed: ...)``."""
    how = resolved.source or "unresolved"
    if resolved.healed:
        how += f", healed: {resolved.reason}"
    return f"{Target.model_validate(resolved.target).label()} ({how})"


def step_failed(record: StepRecord) -> bool:
    """A step failed when an action or check failed, the answer did not parse, or it ended the episode in error."""
    return (
        any(not r.ok for r in record.results)
        or any(not c.result.ok for c in record.checks)
        or record.format_error is not None
        or record.error is not None
    )


class Output:
    """The command's voice. ``json_mode``: stdout holds only the final JSON object."""

    def __init__(self, quiet: bool = False, json_mode: bool = False) -> None:
        self.quiet, self.json_mode = quiet, json_mode
        self.out = Console(highlight=False, soft_wrap=True, stderr=json_mode)
        self.err = Console(stderr=True, highlight=False, soft_wrap=True, markup=False)
        self.shown: list[str] = []  # the failure messages printed under steps: the result does not repeat them

    def line(self, text: str, style: str | None = None) -> None:
        """A progress line (hidden by --quiet); ``text`` is printed literally."""
        if not self.quiet:
            self.out.print(Text(text, style=style or ""))

    def error(self, message: str) -> None:
        self.err.print(f"error: {message}")

    def step(self, record: StepRecord, max_steps: int) -> None:
        if self.quiet:
            return
        failed = step_failed(record)
        line = Text(f"step {record.index + 1:>3}/{max_steps}  ")
        described = describe_actions(record)
        if described:
            line.append(described)
            for resolved in record.targets:
                line.append(f"  <- {describe_target(resolved)}", style="dim")
        elif record.format_error is not None:
            line.append("unparseable answer", style="red")
        else:
            line.append("no action", style="red" if failed else "")
        line.append("  ")
        line.append("failed" if failed else "ok", style="red" if failed else "green")
        if record.label:
            line.append(f" {record.label}", style="dim")
        line.append(f"  {_timings(record)}", style="dim")
        self.out.print(line)
        messages: list[str] = []
        for message in [r.message for r in record.results if not r.ok] + [c.result.message for c in record.checks
                                                                            if not c.result.ok]:
            if message not in messages:
                messages.append(message)
        for message in (record.format_error, record.error):  # the step's error often quotes its failed check
            if message and not any(m in message for m in messages):
                messages.append(message)
        for message in messages:
            self.out.print(Text(f"           {message}", style="red"))
        self.shown += messages

    def result(self, result: EpisodeResult, out: Path, started: float, **extra: Any) -> None:
        """The episode's result: a JSON object with --json, else a summary and where to look next."""
        seconds = round(time.time() - started, 3)
        if self.json_mode:
            payload = {**result.model_dump(mode="json"), "trajectory": str(out), "seconds": seconds, **extra}
            sys.stdout.write(json.dumps(payload) + "\n")
            return
        color = {Outcome.SUCCESS: "green", Outcome.UNVERIFIED: "yellow"}.get(result.status, "red")
        summary = Text(result.status.value, style=f"bold {color}")
        summary.append(f" after {result.steps} steps in {seconds:.1f}s" + (f": {self._reason(result.reason)}" if result.reason else ""))
        self.out.print(summary)
        if result.answer:
            self.out.print(Text(f"answer: {result.answer}"))
        if result.declared is not None or result.verified:
            self.out.print(Text(f"declared: {result.declared.status if result.declared else 'nothing'}; verified: "
                                + ("; ".join(f"{v.kind.value} {'passed' if v.passed else 'refused'} ({v.saw})"
                                             for v in result.verified) or "no check")))
        self.out.print(Text(f"trajectory: {out}"))
        if result.status is Outcome.AWAITING_APPROVAL:
            self.out.print(Text(f"answer it: guiagent approve {out} (or --deny, with --note TEXT)"))
        if result.status is Outcome.ERROR:
            self.out.print(Text("the computer or the model server under the agent failed, not the task"))
        if result.status in (Outcome.ERROR, Outcome.INTERRUPTED):
            self.out.print(Text(f"resume with: {resume_command(out)}"))
        self.out.print(Text(f"report: guiagent view {out}"), style="dim")

    def _reason(self, reason: str) -> str:
        """The reason, or where it was printed already (a step's failure ends most failed runs: said once)."""
        for message in self.shown:
            if message in reason:
                where = reason.replace(message, "").rstrip(": ").strip()
                return f"{where or 'a step'} failed (printed above)"
        return reason

    def finished_already(self, result: EpisodeResult, out: Path) -> None:
        """``--resume`` on an episode that has ended: say so, with its outcome, and change nothing."""
        self.out.print(Text(f"{out} is already finished: {result.status.value} after {result.steps} steps"
                            + (f" ({result.reason})" if result.reason else "") + "; nothing to resume"))
        self.out.print(Text(f"report: guiagent view {out}"), style="dim")

    def json_error(self, message: str, code: int) -> None:
        """With --json, a run that could not start still leaves one JSON object on stdout."""
        if self.json_mode:
            sys.stdout.write(json.dumps({"status": "usage-error" if code == 2 else "error", "error": message}) + "\n")


def _timings(record: StepRecord) -> str:
    t = record.timings_ms
    text = "  ".join(f"{k} {t[k]:.0f}ms" for k in ("capture", "decide", "execute") if k in t)
    u = record.usage
    if u and "prompt_tokens" in u:
        visual = u.get("image_tokens", 0) + u.get("video_tokens", 0)
        text += f"  tokens {u['prompt_tokens']}+{u.get('completion_tokens', 0)} (visual {visual})"
    return text
