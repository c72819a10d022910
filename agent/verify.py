"""Checks that read the final world, run at the end of every episode whatever ended it: the task's success
check (a rule the env evaluates), and an env's own verdict (a page task's reward). Each becomes a ``Verdict``
that records what it saw and on which frame; ``outcome.settle`` turns them into the outcome."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from guiagent.agent.outcome import CheckKind, Verdict
from guiagent.envs import Env
from guiagent.tools import Check


@runtime_checkable
class VerdictSource(Protocol):
    """An env that judges its own task (a page that keeps a score): its verdict on the world as it is now."""

    def final_verdict(self) -> Verdict | None: ...


def verify_world(env: Env, success: Check | None, frame: str | None) -> list[Verdict]:
    """Every check of the episode on the world as it is now; ``frame``: where that world was seen. Raises the
    env's EnvError when the computer is gone (a check fault: the caller records it)."""
    verdicts: list[Verdict] = []
    if success is not None:
        result = env.check(success)
        saw = result.message or f"{success.describe()} held"
        verdicts.append(Verdict(kind=CheckKind.RULE, passed=result.ok, check=success.model_dump(exclude_none=True),
                                saw=saw, frame=frame))
    if isinstance(env, VerdictSource) and (own := env.final_verdict()) is not None:
        verdicts.append(own if own.frame else own.model_copy(update={"frame": frame}))
    return verdicts
