"""How an episode ends: the ending a terminate makes, the screen it ended on, and the conclusion that runs the
final checks on that world, settles the outcome and writes it to meta.json."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from guiagent.agent.outcome import Declared, EndedBy, Ending, Fault, FaultKind, Verdict, settle
from guiagent.agent.task import Task
from guiagent.agent.trajectory import TrajectoryWriter
from guiagent.agent.verify import CheckFault, verify_world
from guiagent.envs import Env, EnvError
from guiagent.policies import Decision, DecisionSource
from guiagent.tools import Terminate


def terminate_ending(decision: Decision, done: Terminate) -> dict[str, Any]:
    """How a terminate ends the episode: the policy's declaration, or the page's own end (not a declaration)."""
    if decision.source is DecisionSource.PAGE:
        return Ending(by=EndedBy.PAGE).model_dump(mode="json")
    declared = Declared(status=done.status, answer=done.answer, by=decision.recorded_source)
    return Ending(by=EndedBy.POLICY, declared=declared).model_dump(mode="json")


class Concluder:
    """Ends an episode of ``task`` on ``env``, recorded by ``writer``."""

    def __init__(self, env: Env, task: Task, writer: TrajectoryWriter, max_steps: int) -> None:
        self.env, self.task, self.writer, self.max_steps = env, task, writer, max_steps

    def step_limit(self) -> Ending:
        return Ending(by=EndedBy.STEP_LIMIT, why=f"reached the step limit ({self.max_steps}) without finishing")

    def observe_after(self, step: int) -> tuple[str | None, float | None]:
        """The screen the episode ended on (what the last action or a failed check left) and its time, if it can
        be seen."""
        try:
            obs = self.env.observe()
        except EnvError:
            return None, None  # the env is gone: the step's own frame is the last there is
        return self.writer.write_after_frame(step, obs.image, obs.image_format), obs.t

    def conclude(self, state: Mapping[str, Any], ending: Ending, frame: str | None) -> dict[str, Any]:
        """End the episode: run its checks on the final world (unless a fault took it), settle the outcome, and
        write it to meta.json: nothing is written there before the verdicts that decide it. (The writer redacts
        what it writes; the update returned passes the node's ``recordable``.)"""
        verified: list[Verdict] = []
        fault = ending.fault
        if fault is None:
            try:
                verified = verify_world(self.env, self.task, frame, ending.declared, self.writer.root)
            except (EnvError, CheckFault) as exc:  # the world is gone before it could be judged
                fault = Fault(kind=FaultKind.CHECK, message=f"the final checks could not run: {exc}")
        settled = settle(ending.by, ending.declared, verified, fault, ending.why)
        reason, answer = settled.reason, state.get("answer")
        self.writer.finish(settled.outcome, reason, answer, ended_by=ending.by, declared=ending.declared,
                           verified=verified, fault=fault)
        return {"status": settled.outcome.value, "reason": reason, "answer": answer, "ending": ending.model_dump(mode="json")}
