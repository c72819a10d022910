"""``guiagent replay``: re-execute a recorded trajectory on a fresh env, verify every step, report.

The replay is itself recorded as a new trajectory. Before each step the live screen is compared with
the recorded one (policies.replay); each divergence is saved with the two frames and their diff, and
summed up in ``divergence.json`` and ``divergence.txt`` in the replay's folder.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel

from guiagent.agent.loop import EpisodeResult, LoopConfig, StepCallback
from guiagent.agent.outputs import check_folder
from guiagent.agent.replay_source import DIVERGENCE_DIR, replay_policy
from guiagent.agent.runner import DESKTOP_STATE, ConfigError, RunSpec, start_episode
from guiagent.agent.safeguards import Approver
from guiagent.agent.spec import DesktopEnvSpec, ReplayPolicySpec
from guiagent.agent.trajectory import StepRecord, Trajectory, load_trajectory

REPORT_JSON = "divergence.json"
REPORT_TEXT = "divergence.txt"


class ReplayReport(BaseModel):
    source: str
    replay: str
    mode: str
    threshold: float
    recorded_steps: int
    replayed_steps: int
    skipped: list[str]
    outcome: str
    reason: str | None
    divergences: list[dict]


def recorded_answers(steps: list[StepRecord]) -> Approver:
    """A replay's approver: each request answered as the person answered it when the step was recorded (a step
    recorded without an approval is refused: the recording never ran it past a person)."""
    answers = {s.index: s.approval for s in steps if s.approval is not None}

    def answer(request: dict[str, Any]) -> dict[str, Any]:
        given = answers.get(request["step"])
        if given is None:
            return {"approved": False, "note": "the recorded run did not ask for this approval"}
        return {"approved": bool(given.get("approved")), "note": given.get("note")}

    return answer


def replay_trajectory(
    source: Path, out: Path, mode: Literal["strict", "lenient"] = "strict", threshold: float = 0.95,
    on_step: StepCallback | None = None,
) -> tuple[EpisodeResult, ReplayReport]:
    """Replay ``source`` into ``out`` (new or empty: agent/outputs.py); returns the episode's result and
    the divergence report."""
    check_folder(out, "--out", "replay")
    traj = load_trajectory(source)
    if not traj.steps:
        raise ConfigError(f"{source}: no whole step to replay" + (f" ({'; '.join(traj.problems)})" if traj.problems else ""))
    if "spec" not in traj.meta.extra:
        raise ConfigError(f"{source}: meta.json has no run spec: cannot build the same env")
    spec = RunSpec.model_validate(traj.meta.extra["spec"])
    env = spec.env
    if isinstance(env, DesktopEnvSpec) and env.launch and str(Path(source).resolve()) in env.launch:
        # an app whose state lives in the trajectory: start fresh
        launch = env.launch.replace(str(Path(source).resolve() / DESKTOP_STATE), str(out.resolve() / DESKTOP_STATE))
        env = env.model_copy(update={"launch": launch})
    replay = ReplayPolicySpec(source=str(Path(source).resolve()), mode=mode, threshold=threshold)
    spec = spec.model_copy(update={
        "policy": replay, "demo_port": None, "env": env,
        "loop": LoopConfig(max_steps=len(traj.steps) + 1, max_format_errors=0),
    })
    out.mkdir(parents=True, exist_ok=True)
    site_url = None
    if spec.demo_site:  # pick the port now, so that recorded URLs can be mapped to it while verifying
        spec.demo_port = _free_port()
        site_url = f"http://127.0.0.1:{spec.demo_port}"
    policy, facts = replay_policy(replay, out, site_url)
    result = start_episode(spec, out, on_step=on_step, built=(policy, facts), approver=recorded_answers(traj.steps))
    replayed = load_trajectory(out)
    divergences = []
    for d in policy.divergences:
        stem = f"{DIVERGENCE_DIR}/step-{d.step:06d}"
        frames = {k: f"{stem}-{k}.png" for k in ("recorded", "live", "diff") if (out / f"{stem}-{k}.png").exists()}
        divergences.append({"step": d.step, "label": d.label, "similarity": d.score, "reasons": d.reasons, "frames": frames})
    report = ReplayReport(
        source=str(source), replay=str(out), mode=mode, threshold=threshold, recorded_steps=len(traj.steps),
        replayed_steps=len(replayed.steps), skipped=traj.problems, outcome=result.status, reason=result.reason,
        divergences=divergences,
    )
    (out / REPORT_JSON).write_text(report.model_dump_json(indent=2))
    (out / REPORT_TEXT).write_text(report_text(report, replayed))
    return result, report


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def report_text(report: ReplayReport, replayed: Trajectory) -> str:
    lines = [
        f"replay of {report.source}",
        f"into {report.replay} ({report.mode}, similarity threshold {report.threshold})",
        f"{report.replayed_steps} of {report.recorded_steps} recorded steps replayed; outcome {report.outcome}"
        + (f": {report.reason}" if report.reason else ""),
    ]
    lines += [f"skipped: {p}" for p in report.skipped]
    scores = [float(s.policy_info["similarity"]) for s in replayed.steps if s.policy_info.get("similarity") is not None]
    if scores:
        lines.append(f"similarity: min {min(scores):.3f}, mean {sum(scores) / len(scores):.3f}")
    if not report.divergences:
        lines.append("no divergence: every step matched its recording")
    for d in report.divergences:
        score = f"{d['similarity']:.3f}" if d["similarity"] is not None else "-"
        label = f" ({d['label']})" if d["label"] else ""
        lines.append(f"step {d['step'] + 1}{label}: similarity {score}: {'; '.join(d['reasons'])}")
        for kind, path in d["frames"].items():
            lines.append(f"    {kind}: {path}")
    return "\n".join(lines) + "\n"
