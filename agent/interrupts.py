"""How an episode stops when someone stops it: Ctrl-C and SIGTERM become a recorded ``interrupted`` outcome
(resumable), an unexpected error is recorded as an internal fault, and a process that owns its exit leaves even
if closing the computer hangs."""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import NoReturn

from guiagent.agent.loop import Episode, EpisodeResult
from guiagent.agent.outcome import EndedBy, Fault, FaultKind, Outcome
from guiagent.agent.trajectory import TrajectoryWriter, resume_command


class EpisodeInterrupted(KeyboardInterrupt):
    """Ctrl-C or SIGTERM stopped an episode; its outcome (``interrupted``) is recorded and in ``result``."""

    def __init__(self, result: EpisodeResult, root: Path) -> None:
        super().__init__(result.reason)
        self.result, self.root = result, root


class Signals:
    """Which stop signal arrived, if any: Ctrl-C reaches Chromium too, so an episode can end in the
    browser's death before the KeyboardInterrupt surfaces; the user still interrupted it."""

    received: str | None = None


def _in_playwright_listener(frame: FrameType | None) -> bool:
    """Whether Python is running one of Playwright's event listeners (inside its message dispatch)."""
    while frame is not None:
        code = frame.f_code
        if code.co_name == "dispatch" and code.co_filename.endswith(os.path.join("playwright", "_impl", "connection.py")):
            return True
        frame = frame.f_back
    return False


@contextmanager
def stop_signals() -> Iterator[Signals]:
    """Ctrl-C and SIGTERM stop an episode as ``interrupted`` (recorded, resumable)."""
    seen = Signals()
    if threading.current_thread() is not threading.main_thread():
        yield seen
        return

    def interrupt(signum: int, frame: FrameType | None) -> None:
        seen.received = "SIGTERM" if signum == signal.SIGTERM else "Ctrl-C"
        if _in_playwright_listener(frame):
            # Raised there, Playwright would catch it, print a traceback and go on: send the signal
            # again a moment later, to land outside the listener.
            threading.Timer(0.05, os.kill, (os.getpid(), signum)).start()
            return
        # A Playwright call cut short by this interrupt still gets its answer from the driver, which
        # then finds no caller and logs "Cannot find command to respond" with a traceback: expected
        # now, so not shown.
        logging.getLogger("playwright").setLevel(logging.CRITICAL)
        raise KeyboardInterrupt(seen.received)

    previous = {sig: signal.signal(sig, interrupt) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield seen
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def run_guarded(episode: Episode, writer: TrajectoryWriter, run: Callable[[], EpisodeResult],
                 signals: Signals) -> EpisodeResult:
    """Run; an interrupt or an unexpected error still leaves meta.json saying what happened."""
    try:
        result = run()
    except KeyboardInterrupt as exc:
        _interrupted(writer, str(exc) or "Ctrl-C")
    except Exception as exc:  # a bug: recorded as what it is
        fault = Fault(kind=FaultKind.INTERNAL, message=f"{type(exc).__name__}: {exc}")
        writer.finish(Outcome.ERROR, str(fault), fault=fault, ended_by=EndedBy.FAULT)
        raise
    if signals.received and result.status is Outcome.ERROR:  # the env died of the same Ctrl-C
        _interrupted(writer, signals.received)
    return result


class ExitAfterInterrupt:
    """A process that owns its exit (the CLI, a batch worker) sets ``seconds``: once an interrupt is recorded, the
    process exits that long after it even if closing the computer hangs (seen: a browser driver that never answers
    the close after a Ctrl-C landed inside one of its calls). A program that embeds guiagent leaves it None."""

    seconds: float | None = None


def _exit_if_stuck(seconds: float, root: Path) -> None:
    def stop() -> None:
        sys.stderr.write(f"closing the computer did not finish {seconds:g}s after the interrupt: exiting anyway "
                         f"(the episode is recorded; resume with: {resume_command(root)})\n")
        sys.stderr.flush()
        os._exit(130)

    timer = threading.Timer(seconds, stop)
    timer.daemon = True
    timer.start()


def _interrupted(writer: TrajectoryWriter, how: str) -> NoReturn:
    reason = (f"interrupted ({how}) during step {writer.count + 1}, after {writer.count} recorded steps; "
              f"resume with: {resume_command(writer.root)}")
    writer.finish(Outcome.INTERRUPTED, reason, ended_by=EndedBy.INTERRUPTED)
    if ExitAfterInterrupt.seconds is not None:
        _exit_if_stuck(ExitAfterInterrupt.seconds, writer.root)
    raise EpisodeInterrupted(EpisodeResult(status=Outcome.INTERRUPTED, reason=reason, steps=writer.count,
                                           ended_by=EndedBy.INTERRUPTED), writer.root)
