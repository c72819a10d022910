"""A desktop task judged from the files its app left: ``AppTaskEnv`` wraps the desktop env and, at the end of the
episode, runs the task's evaluator (agent/checks) on the app's HOME; its verdict is the episode's file check."""

from __future__ import annotations

from typing import Any

from guiagent.agent.checks import Evaluator, evaluate
from guiagent.agent.outcome import CheckKind, Verdict
from guiagent.envs.desktop import DesktopEnv
from guiagent.tools import Action, ActionResult, Check, Key, Observation
from guiagent.tools.targets import ElementInfo, LocatedElement, Target


class AppTaskEnv:
    """A ``DesktopEnv`` whose final verdict reads the files of the app's HOME (a ``VerdictSource``)."""

    kind = "desktop"

    def __init__(self, inner: DesktopEnv, evaluator: Evaluator) -> None:
        self.inner, self.evaluator = inner, evaluator

    def reset(self, url: str | None = None) -> None:
        self.inner.reset(url)

    def observe(self) -> Observation:
        return self.inner.observe()

    def execute(self, action: Action) -> ActionResult:
        return self.inner.execute(action)

    def check(self, check: Check) -> ActionResult:
        return self.inner.check(check)

    def drain_frames(self) -> list[Observation]:
        return self.inner.drain_frames()

    def settings(self) -> dict[str, Any]:
        return self.inner.settings()

    def locate(self, target: Target) -> LocatedElement:
        return self.inner.locate(target)

    def element_at(self, point: tuple[float, float]) -> ElementInfo | None:
        return self.inner.element_at(point)

    def a11y_tree(self) -> str | None:
        return self.inner.a11y_tree()

    def close(self) -> None:
        self.inner.close()

    def final_verdict(self) -> Verdict:
        """The evaluator's score on the HOME as the app left it (waiting a moment for a late save)."""
        check = self.evaluator.model_dump(mode="json", exclude_defaults=True)
        home = self.inner.home
        if home is None:
            return Verdict(kind=CheckKind.FILE, passed=False, reward=0.0, check=check, saw="the app had no HOME of its own")
        for step in self.evaluator.postconfig:  # OSWorld's postconfig, as keys pressed in the app (agent/suites/osworld.py)
            if keys := step.get("keys"):
                self.inner.execute(Key(keys=keys))
        score, saw = evaluate(self.evaluator, home)
        return Verdict(kind=CheckKind.FILE, passed=score >= 1.0, reward=score, saw=saw, check=check)
