"""An episode on its own thread whose steps an outside driver decides (the MCP server, the live view).

The episode is the one ``guiagent run`` starts (``start_episode``), with an ExternalPolicy: the env lives on
the episode's thread (Playwright's sync API is bound to it), and the driver reaches it only through decisions.
``step`` submits one decision and returns the recorded step; ``end`` declares the end and returns the outcome,
settled by the task's checks as for any run.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from guiagent.agent.loop import EpisodeResult
from guiagent.agent.runner import RunSpec, start_episode
from guiagent.agent.safeguards import Approver
from guiagent.agent.trajectory import StepRecord
from guiagent.policies import Decision, DecisionContext, PolicyError
from guiagent.policies.external import ExternalPolicy
from guiagent.tools import Terminate

NO_DECISION_LIMIT_S = 7 * 24 * 3600.0
"""The loop's wait for one decision when a person or a client decides: a week (they answer when they answer)."""


class EpisodeOver(RuntimeError):
    """The episode ended (or never started): no step can be taken; the message says how it ended."""


class OutsideRun:
    """Run ``spec``'s episode into ``out`` on a thread of its own, its decisions from ``policy``."""

    def __init__(self, spec: RunSpec, out: Path, policy: ExternalPolicy, from_policy: dict[str, Any],
                 approver: Approver | None = None) -> None:
        loop = spec.loop.model_copy(update={"decide_timeout_s": NO_DECISION_LIMIT_S})
        self.spec, self.out, self.policy = spec.model_copy(update={"loop": loop}), out, policy
        self._built = (policy, from_policy)
        self._approver = approver
        self._cond = threading.Condition()
        self._records: dict[int, StepRecord] = {}
        self.result: EpisodeResult | None = None
        self.error: BaseException | None = None
        self._done = False
        self._thread = threading.Thread(target=self._run, name=f"episode {out.name}", daemon=True)

    def start(self, timeout: float = 120.0) -> DecisionContext:
        """Start the episode; returns its first step's context once the first screen is observed."""
        self._thread.start()
        return self.turn(timeout)

    def _run(self) -> None:
        try:
            self.result = start_episode(self.spec, self.out, on_step=self._on_step, built=self._built,
                                        approver=self._approver)
        except BaseException as exc:  # reported to the driver as the reason nothing more can run
            self.error = exc
        finally:
            self.policy.close("the episode ended")
            with self._cond:
                self._done = True
                self._cond.notify_all()

    def _on_step(self, record: StepRecord, max_steps: int) -> None:
        with self._cond:
            self._records[record.index] = record
            self._cond.notify_all()

    @property
    def done(self) -> bool:
        with self._cond:
            return self._done

    def why_over(self) -> str:
        """How the episode ended, in a sentence."""
        if self.error is not None:
            return f"the episode could not go on: {self.error}"
        if self.result is not None:
            return f"the episode ended: {self.result.status.value}" + (f" ({self.result.reason})" if self.result.reason else "")
        return "the episode has not started"

    def turn(self, timeout: float = 120.0) -> DecisionContext:
        """The step that waits for a decision now (its screen is the current one). Raises EpisodeOver."""
        context = None
        waited = 0.0
        while context is None and not self.done and waited < timeout:
            context = self.policy.wait_turn(min(1.0, timeout - waited))
            waited += 1.0
        if context is None:
            raise EpisodeOver(self.why_over() if self.done else f"no step was ready within {timeout:g}s")
        return context

    def step(self, decision: Decision, timeout: float = 120.0) -> StepRecord:
        """Take one step with ``decision`` (for the step ``turn`` gave); returns it as recorded."""
        self.turn(timeout)
        try:
            index = self.policy.submit(decision)
        except PolicyError:
            raise EpisodeOver(self.why_over()) from None
        with self._cond:
            self._cond.wait_for(lambda: index in self._records or self._done, timeout)
            record = self._records.get(index)
        if record is None:
            raise EpisodeOver(self.why_over())
        return record

    def end(self, decision: Decision, timeout: float = 300.0) -> EpisodeResult:
        """End the episode with ``decision`` (a terminate) and wait for its settled outcome."""
        if not any(isinstance(a, Terminate) for a in decision.actions):
            raise ValueError("an episode ends with a terminate action")
        if not self.done:
            try:
                self.step(decision, timeout)
            except EpisodeOver:
                pass
        return self.wait(timeout)

    def wait(self, timeout: float | None = None) -> EpisodeResult:
        """The episode's result once its thread ends. Raises EpisodeOver when it ended without one."""
        self._thread.join(timeout)
        if self.result is None:
            raise EpisodeOver(self.why_over())
        return self.result

    def close(self, why: str = "the driver left", timeout: float = 60.0) -> None:
        """Stop a running episode (the waiting step fails with ``why``) and wait for its thread."""
        self.policy.close(why)
        if self._thread.is_alive():
            self._thread.join(timeout)
