"""A desktop task judged from the files its app left: ``AppTaskEnv`` wraps the desktop env and, at the end of the
episode, runs the task's evaluator (agent/checks) on the app's HOME; its verdict is the episode's file check."""

from __future__ import annotations

from guiagent.agent.checks import Evaluator, evaluate
from guiagent.agent.outcome import CheckKind, Verdict
from guiagent.envs import EnvWrapper
from guiagent.envs.desktop import DesktopEnv
from guiagent.tools import Key
from guiagent.tools.targets import ElementInfo, LocatedElement, Target


class AppTaskEnv(EnvWrapper[DesktopEnv]):
    """A ``DesktopEnv`` whose final verdict reads the files of the app's HOME (a ``VerdictSource``)."""

    def __init__(self, inner: DesktopEnv, evaluator: Evaluator) -> None:
        super().__init__(inner)
        self.evaluator = evaluator

    def locate(self, target: Target) -> LocatedElement:
        return self.inner.locate(target)

    def element_at(self, point: tuple[float, float]) -> ElementInfo | None:
        return self.inner.element_at(point)

    def a11y_tree(self) -> str | None:
        return self.inner.a11y_tree()

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
