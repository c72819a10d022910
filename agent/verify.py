"""Checks that read the final world, run at the end of every episode whatever ended it: the task's success
check (a rule the env evaluates), an env's own verdict (a page task's reward), and the task's judge (a second model
shown the instruction, the answer and the last frames: agent/judging.py). Each becomes a ``Verdict`` that records
what it saw and on which frame; ``outcome.settle`` turns them into the outcome."""

from __future__ import annotations

from pathlib import Path
from typing import Protocol, runtime_checkable

from guiagent.agent.judging import CheckFault, judge_episode
from guiagent.agent.outcome import CheckKind, Declared, Verdict
from guiagent.agent.task import Task
from guiagent.envs import Env

__all__ = ["CheckFault", "VerdictSource", "verify_world"]


@runtime_checkable
class VerdictSource(Protocol):
    """An env that judges its own task (a page that keeps a score): its verdict on the world as it is now."""

    def final_verdict(self) -> Verdict | None: ...


def verify_world(env: Env, task: Task, frame: str | None, declared: Declared | None = None,
                 root: Path | None = None) -> list[Verdict]:
    """Every check of the episode on the world as it is now; ``frame``: where that world was seen (relative to
    ``root``, the episode's folder, where the judge reads the last frames). Raises the env's EnvError when the
    computer is gone, CheckFault when the judge cannot answer (check faults: the caller records them)."""
    verdicts: list[Verdict] = []
    success = task.success
    if success is not None:
        result = env.check(success)
        saw = result.message or f"{success.describe()} held"
        verdicts.append(Verdict(kind=CheckKind.RULE, passed=result.ok, check=success.model_dump(exclude_none=True),
                                saw=saw, frame=frame))
    if isinstance(env, VerdictSource) and (own := env.final_verdict()) is not None:
        verdicts.append(own if own.frame else own.model_copy(update={"frame": frame}))
    if task.judge is not None and root is not None:
        verdicts.append(judge_episode(task.judge, task.instruction, declared, root, frame))
    return verdicts
