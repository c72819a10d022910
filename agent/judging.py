"""The judge as one of an episode's final checks: the wiring that gives the judge model (policies/judge.py) the
episode's instruction, its declared answer and its last K frames, and turns the answer into a ``Verdict``.

The frames are read from the episode's folder, so a resumed episode is judged on its whole recording: the frames
of its last steps and the screen it ended on (``frames/000012.png`` ..., then ``frames/000012-after.png``).
A judge that cannot answer (its server down, refusing, or answering no verdict) raises ``CheckFault``: the episode
ends in ``error`` (resumable; a batch retries it), never in a failure of the task.
"""

from __future__ import annotations

import re
from pathlib import Path

from guiagent.agent.outcome import CheckKind, Declared, Verdict
from guiagent.agent.trajectory import FRAMES_DIR
from guiagent.policies.base import PolicyError
from guiagent.policies.judge import Judge, JudgeConfig

STEP_FRAME = re.compile(r"^\d{6}\.[a-z]+$")  # a step's observation, not a video-context frame
SAW_CHARS = 200


class CheckFault(RuntimeError):
    """A final check could not run (a judge that did not answer); the message says why, for people."""


def last_frames(root: Path, final: str | None, k: int) -> list[str]:
    """The last ``k`` frames of the episode in ``root`` (names relative to it), oldest first: the step frames, then
    ``final`` (the screen it ended on) where it is another frame."""
    folder = root / FRAMES_DIR
    names = sorted(f"{FRAMES_DIR}/{p.name}" for p in folder.iterdir() if STEP_FRAME.match(p.name)) if folder.is_dir() else []
    if final is not None and final not in names and (root / final).is_file():
        names.append(final)
    return names[-k:]


def judge_episode(config: JudgeConfig, instruction: str, declared: Declared | None, root: Path,
                  frame: str | None) -> Verdict:
    """The judge's verdict on the episode recorded in ``root``; ``frame``: the screen it ended on."""
    shown = last_frames(root, frame, config.frames)
    if not shown:
        raise CheckFault("the judge could not run: the episode recorded no frame to show it")
    answer = declared.answer if declared is not None else None
    judge = Judge(config)
    try:
        verdict = judge.judge(instruction, answer, [(root / name).read_bytes() for name in shown])
    except PolicyError as exc:
        raise CheckFault(f"the judge could not give a verdict: {exc}") from None
    finally:
        judge.close()
    reasons = verdict.reasons.strip()
    saw = f"{verdict.verdict}: {reasons[:SAW_CHARS]}" + ("..." if len(reasons) > SAW_CHARS else "")
    settings = config.model_dump(include={"base_url", "model", "frames", "max_pixels", "constrained"})
    return Verdict(kind=CheckKind.JUDGE, passed=verdict.passed, check={**settings, "shown": shown, "answer": answer},
                   saw=saw, frame=shown[-1], reasons=reasons)
