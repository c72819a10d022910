"""The live view: watch an episode or a batch in a browser, approve, pause, take over and hand back.

``live_episode`` runs an episode with its live view (``run --live``); ``watch_folder`` serves the view of a folder
another process writes (``guiagent watch``, ``batch --live``).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from guiagent.agent.live.controls import ControlError, LiveControls
from guiagent.agent.live.folder import BatchFolder, EpisodeFolder, open_folder
from guiagent.agent.live.screen import LiveScreen
from guiagent.agent.live.server import LiveServer
from guiagent.agent.loop import EpisodeResult, StepCallback
from guiagent.agent.outside import NO_DECISION_LIMIT_S
from guiagent.agent.runner import RunSpec, start_episode
from guiagent.agent.trajectory import StepRecord


def announcement(server: LiveServer) -> str:
    """The one line that gives the view's URL (its token in it): printed once, where the command prints."""
    where = "this machine only" if server.host in ("127.0.0.1", "::1", "localhost") else f"{server.host} (--live-host)"
    return f"live view: {server.url} (listening on {where}; the token in the URL is the only key)"


def live_episode(spec: RunSpec, out: Path, host: str, announce: Callable[[str], None],
                 on_step: StepCallback | None = None) -> EpisodeResult:
    """Run a new episode into ``out`` with its live view at ``host``: a person can approve, pause, take over."""
    controls, screen = LiveControls(), LiveScreen()
    # a person may pause, or drive, for as long as they like: the loop's wait for a decision must not end the episode
    # (a model's own requests keep their client's timeouts)
    spec = spec.model_copy(update={"loop": spec.loop.model_copy(update={"decide_timeout_s": NO_DECISION_LIMIT_S})})

    def both(record: StepRecord, max_steps: int) -> None:
        controls.on_step(record, max_steps)
        if on_step is not None:
            on_step(record, max_steps)

    with LiveServer(EpisodeFolder(out), controls, host, screen=screen) as server:
        announce(announcement(server))
        result = start_episode(spec, out, on_step=both, approver=controls.approver, wrap_policy=controls.wrap, tap=screen)
        threading.Event().wait(1.0)  # the page's last update (it polls every POLL_S) shows how it ended
        return result


def _answer_by_resume(root: Path) -> Callable[[bool, str | None], None]:
    """Answer an unattended episode's pending approval as ``guiagent approve`` does: resume it with the answer."""
    def answer(approved: bool, note: str | None) -> None:
        from guiagent.agent.runner import ConfigError, resume_episode

        meta = EpisodeFolder(root).snapshot()
        if meta["outcome"] != "awaiting-approval":
            raise ControlError(f"the episode is not awaiting approval (its outcome is {meta['outcome']})")

        def run() -> None:
            try:
                resume_episode(root, approval={"approved": approved, "note": note})
            except (ConfigError, OSError) as exc:
                raise ControlError(str(exc)) from None

        threading.Thread(target=run, name="approve", daemon=True).start()

    return answer


@contextmanager
def watch_folder(root: Path, host: str, announce: Callable[[str], None], port: int = 0) -> Iterator[LiveServer]:
    """Serve the live view of the episode or batch folder ``root`` (raises ValueError for neither)."""
    folder = open_folder(root)
    on_answer = _answer_by_resume(root) if isinstance(folder, EpisodeFolder) else None
    with LiveServer(folder, None, host, port, on_answer=on_answer) as server:
        announce(announcement(server))
        yield server


__all__ = ["BatchFolder", "ControlError", "EpisodeFolder", "LiveControls", "LiveScreen", "LiveServer", "announcement", "live_episode",
           "watch_folder"]
