"""The trajectory format (a contract, versioned) and its writer and reader.

A trajectory is a folder:
- ``meta.json``: format version, task, env/policy/loop settings, start/end time, outcome;
- ``steps.jsonl``: one ``StepRecord`` per line, appended and flushed as each step ends;
- ``frames/``: each step's observation, ``frames/000012.png``, written when it is captured.

A folder cut short by a crash stays readable up to its last whole line.
"""

from __future__ import annotations

import json
import shlex
import time
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, Field, ValidationError, model_validator

from guiagent.agent.outcome import Declared, EndedBy, Fault, FaultKind, Outcome, Verdict
from guiagent.tools import ActionResult, FrameGeometry, ScreenMapping
from guiagent.tools.files import write_atomic
from guiagent.tools.secrets import Secrets
from guiagent.tools.targets import ResolvedTarget

FORMAT_VERSION = 2
READABLE_VERSIONS = (1, 2)  # version 1 (no declared/verified) is read as version 2: see _migrate_v1
META_FILE = "meta.json"
STEPS_FILE = "steps.jsonl"
FRAMES_DIR = "frames"



def resume_command(root: Path) -> str:
    """The command that continues the episode in ``root``."""
    return f"guiagent run --resume {shlex.quote(str(root))}"


class TrajectoryError(RuntimeError):
    """A trajectory folder that cannot be read or written; the message says what and where."""


class Rebuild(BaseModel):
    """How a resumed segment's world was rebuilt: the recorded actions replayed on a fresh env from the
    episode's start, each step verified (URL/title, SSIM) against its recorded frame before acting."""

    replayed: int = Field(ge=0, description="Recorded steps replayed (and verified) before the segment went on.")
    verified: bool = Field(description="Every replayed step matched its recording.")
    seconds: float = Field(ge=0)
    restored: list[str] = Field(default_factory=list, description="Server-side state files put back to the episode's start.")
    diverged_at: int | None = Field(default=None, description="The step (index) whose screen differed from its recording.")
    what: list[str] = Field(default_factory=list, description="What differed there.")
    anyway: bool = Field(default=False, description="The segment went on from the diverged state (--resume-anyway).")


class Segment(BaseModel):
    """One stretch of the episode run by one process: a resumed episode has several. A resumed segment's
    world was rebuilt by replay (``rebuilt``); one that went on after a divergence is marked there (``anyway``)."""

    started_at: float = Field(default_factory=time.time)
    first_step: int = Field(default=0, ge=0)
    after: Outcome | None = Field(default=None, description="How the previous segment ended: running (killed), error, interrupted.")
    after_reason: str | None = None
    rebuilt: Rebuild | None = Field(default=None, description="How the world was rebuilt for this segment (None: the first, or a live pause).")

    @property
    def diverged(self) -> bool:
        """Went on from a world that did not match the recording (or one not rebuilt at all: an older resume)."""
        return self.rebuilt is None or not self.rebuilt.verified


class TrajectoryMeta(BaseModel):
    """meta.json: everything needed to understand (and rebuild) the episode."""

    format_version: int = FORMAT_VERSION
    task: str
    start_url: str | None = None
    success_check: dict[str, Any] | None = None
    env: dict[str, Any] = Field(default_factory=dict)
    policy: dict[str, Any] = Field(default_factory=dict)
    loop: dict[str, Any] = Field(default_factory=dict)
    extra: dict[str, Any] = Field(default_factory=dict, description="Runner specifics, e.g. the demo site.")
    started_at: float = Field(default_factory=time.time)
    ended_at: float | None = None
    outcome: Outcome = Outcome.RUNNING
    reason: str | None = None
    answer: str | None = None
    ended_by: EndedBy | None = Field(default=None, description="Who or what ended the episode.")
    declared: Declared | None = Field(default=None, description="What the policy said at the end, if anything.")
    verified: list[Verdict] = Field(default_factory=list, description="Each check run on the final world.")
    fault: Fault | None = Field(default=None, description="The fault that ended it (env, model server, policy, check).")
    steps: int = 0
    segments: list[Segment] = Field(default_factory=list)

    @property
    def resumed(self) -> bool:
        return len(self.segments) > 1

    @property
    def diverged(self) -> bool:
        """A resumed segment went on from a world that was not rebuilt and verified (--resume-anyway, or older)."""
        return any(segment.diverged for segment in self.segments[1:])


class CheckRecord(BaseModel):
    check: dict[str, Any]
    result: ActionResult


class StepRecord(BaseModel):
    """One line of steps.jsonl."""

    index: int = Field(ge=0)
    label: str | None = None
    t: float = Field(description="Absolute time of the observation the step decided on.")
    t_start: float
    t_end: float
    frame: str = Field(description="Path of the observed frame, relative to the trajectory folder.")
    geometry: FrameGeometry
    mapping: ScreenMapping | None = Field(default=None, description="Model space <-> screen, when a model decided.")
    url: str | None = None
    title: str | None = None
    window: str | None = None
    a11y: str | None = Field(default=None, description="The desktop apps' accessibility tree at the observation "
                             "(OSWorld's linearized form: tag, name, position, size), with --a11y.")
    thought: str = ""
    raw: str | None = None
    format_error: str | None = None
    model_actions: list[dict[str, Any]] = Field(default_factory=list)
    actions: list[dict[str, Any]] = Field(default_factory=list, description="In the env's input space.")
    results: list[ActionResult] = Field(default_factory=list)
    checks: list[CheckRecord] = Field(default_factory=list)
    url_after: str | None = None
    timings_ms: dict[str, float] = Field(default_factory=dict)
    usage: dict[str, int] | None = None
    policy_info: dict[str, Any] = Field(default_factory=dict, description="E.g. a replay's verification of the step.")
    targets: list[ResolvedTarget] = Field(
        default_factory=list, description="A script's targets as written and how each resolved to the point in actions."
    )
    context_frames: list[dict[str, Any]] = Field(
        default_factory=list, description="Frames a sampler kept until the next step's observation: {frame, t}, oldest first."
    )
    approval: dict[str, Any] | None = Field(
        default=None, description="A person's answer before a guarded action: rule, action, approved, note."
    )
    error: str | None = Field(default=None, description="Why the episode failed at this step (policy, env, check), if it did.")
    fault: Fault | None = Field(default=None, description="The typed fault the step ended in, if it did.")
    source: str = Field(default="model", description="Who decided the step: model, script, replay, oracle, page, human, mcp:<client>.")
    frame_after: str | None = Field(default=None, description="The screen after the episode's last step (its outcome).")
    t_after: float | None = None

    @model_validator(mode="before")
    @classmethod
    def _fault_of_v1(cls, data: Any) -> Any:
        """Version 1 named an env fault by its error's prefix only."""
        if isinstance(data, dict) and data.get("fault") is None and str(data.get("error") or "").startswith("env: "):
            return {**data, "fault": {"kind": FaultKind.ENV, "message": data["error"].removeprefix("env: ")}}
        return data


_Written = TypeVar("_Written", StepRecord, TrajectoryMeta)


def frame_name(index: int, suffix: str = "png") -> str:
    return f"{FRAMES_DIR}/{index:06d}.{suffix}"


def after_frame_name(index: int, suffix: str = "png") -> str:
    return f"{FRAMES_DIR}/{index:06d}-after.{suffix}"


class TrajectoryWriter:
    """Appends steps to a trajectory folder; safe to reopen after a crash (``open``). Once it knows the run's
    secrets (``redact_with``), every step and meta.json it writes has their values redacted: the one place."""

    def __init__(self, root: Path, meta: TrajectoryMeta, count: int) -> None:
        self.root = root
        self.meta = meta
        self.count = count
        self.notes: list[str] = []
        self._secrets: Secrets | None = None
        (root / FRAMES_DIR).mkdir(parents=True, exist_ok=True)
        self._steps = open(root / STEPS_FILE, "a", encoding="utf-8")

    @classmethod
    def create(cls, root: str | Path, meta: TrajectoryMeta) -> TrajectoryWriter:
        root = Path(root)
        if (root / STEPS_FILE).exists() or (root / META_FILE).exists():
            raise TrajectoryError(f"{root} already holds a trajectory: choose another --out or use --resume")
        root.mkdir(parents=True, exist_ok=True)
        write_atomic(root / META_FILE, meta.model_dump_json(indent=2))
        return cls(root, meta, 0)

    @classmethod
    def open(cls, root: str | Path, checkpointed: StepRecord | None = None) -> TrajectoryWriter:
        """Reopen a trajectory to continue it. A half-written last line is completed when
        ``checkpointed`` (the step the checkpoint holds) proves it is that step's line cut short;
        otherwise it is moved aside to steps.jsonl.torn, not lost (the step is redone)."""
        traj = load_trajectory(root)
        path = Path(root) / STEPS_FILE
        notes = []
        if traj.torn_tail is not None:
            whole = path.read_bytes()
            cut = whole.rstrip(b"\n").rfind(b"\n") + 1
            torn = whole[cut:].rstrip(b"\n")  # bytes: the cut may fall inside a UTF-8 character
            line = checkpointed.model_dump_json().encode() if checkpointed is not None else b""
            if checkpointed is not None and checkpointed.index == len(traj.steps) and line.startswith(torn):
                with open(path, "r+b") as f:
                    f.truncate(cut)
                    f.seek(cut)
                    f.write(line + b"\n")
                notes.append(f"{STEPS_FILE}: completed the cut-off line of step {checkpointed.index + 1} from the checkpoint")
                traj.steps.append(checkpointed)
            else:
                with open(path.with_name(STEPS_FILE + ".torn"), "a", encoding="utf-8") as f:
                    f.write(traj.torn_tail + "\n")
                with open(path, "r+b") as f:
                    f.truncate(cut)
                notes.append(f"{STEPS_FILE}: moved a cut-off last line aside to {STEPS_FILE}.torn; its step is redone")
        writer = cls(Path(root), traj.meta, len(traj.steps))
        writer.notes = notes
        return writer

    def write_frame(self, index: int, image: bytes, suffix: str = "png") -> str:
        """Save a step's frame now (before the step ends), so a crash keeps it. Returns its name."""
        return self._write(frame_name(index, suffix), image)

    def write_context_frame(self, index: int, k: int, image: bytes, suffix: str) -> str:
        """Save a frame painted during step ``index``'s actions (for the video context)."""
        return self._write(f"{FRAMES_DIR}/{index:06d}-ctx{k:03d}.{suffix}", image)

    def write_after_frame(self, index: int, image: bytes, suffix: str = "png") -> str:
        """Save the screen after the episode's last step, ``index``."""
        return self._write(after_frame_name(index, suffix), image)

    def _write(self, name: str, image: bytes) -> str:
        with open(self.root / name, "wb") as f:
            f.write(image)
        return name

    def redact_with(self, secrets: Secrets | None) -> None:
        """Redact ``secrets``' values (and their encoded forms) from every record written from now on."""
        self._secrets = secrets or None

    def _redacted(self, model: _Written) -> _Written:
        if self._secrets is None:
            return model
        return type(model).model_validate(self._secrets.redact_obj(model.model_dump(mode="json")))

    def append(self, record: StepRecord) -> bool:
        """Append one step, flushed. A step already recorded is skipped (False): resuming is idempotent."""
        if record.index < self.count:
            return False
        if record.index != self.count:
            raise TrajectoryError(f"step {record.index} would leave a gap after step {self.count - 1}")
        self._steps.write(self._redacted(record).model_dump_json() + "\n")
        self._steps.flush()
        self.count += 1
        self.meta.steps = self.count
        return True

    def update_meta(self, **fields: Any) -> None:
        self.meta = self._redacted(self.meta.model_copy(update=fields))
        write_atomic(self.root / META_FILE, self.meta.model_dump_json(indent=2))

    def finish(self, outcome: Outcome, reason: str | None = None, answer: str | None = None, **fields: Any) -> None:
        """Record how the episode ended; ``fields``: ended_by, declared, verified, fault."""
        self.update_meta(outcome=outcome, reason=reason, answer=answer, ended_at=time.time(), steps=self.count, **fields)

    def close(self) -> None:
        if not self._steps.closed:
            self._steps.close()


class Trajectory(BaseModel):
    """A trajectory read back, with what could not be read said in ``problems``."""

    root: Path
    meta: TrajectoryMeta
    steps: list[StepRecord]
    problems: list[str] = Field(default_factory=list)
    torn_tail: str | None = Field(default=None, description="A half-written last line, if any.")

    def frame_path(self, step: StepRecord) -> Path:
        return self.root / step.frame


def _migrate_v1(meta: dict[str, Any]) -> dict[str, Any]:
    """A version-1 meta.json as version 2. Version 1 wrote ``success`` for a policy's declared success whether or
    not a check ran; it ran the success check (when there was one) before accepting it, and a page task's reward
    rewrote the outcome. So: a success with a success check or a page reward stays verified (the check or the
    reward passed); one with neither is ``unverified``."""
    meta = {**meta, "format_version": FORMAT_VERSION}
    if meta.get("outcome") == Outcome.SUCCESS:
        reward = (meta.get("extra") or {}).get("page", {}).get("reward")
        if meta.get("success_check"):
            meta["verified"] = [{"kind": "rule", "passed": True, "check": meta["success_check"], "saw": "it held (version 1)"}]
        elif reward is not None:
            meta["verified"] = [{"kind": "reward", "passed": True, "reward": reward, "saw": f"reward {reward:g}"}]
        else:
            meta["outcome"] = Outcome.UNVERIFIED.value
        meta["declared"] = {"status": "success", "answer": meta.get("answer")}
    return meta


def load_trajectory(root: str | Path) -> Trajectory:
    """Read a trajectory folder. Raises TrajectoryError for what makes it unreadable; tolerates a
    half-written last line and missing frames (listed in ``problems``)."""
    root = Path(root)
    if not root.is_dir():
        raise TrajectoryError(f"{root}: no such trajectory folder")
    meta_path = root / META_FILE
    if not meta_path.exists():
        what = "an empty folder" if not any(root.iterdir()) else "no meta.json"
        raise TrajectoryError(f"{root}: not a trajectory ({what})")
    try:
        raw_meta = json.loads(meta_path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise TrajectoryError(f"{meta_path}: unreadable: {exc}") from None
    version = raw_meta.get("format_version") if isinstance(raw_meta, dict) else None
    if version not in READABLE_VERSIONS:
        raise TrajectoryError(
            f"{meta_path}: unknown format version {version!r} (this guiagent reads versions "
            f"{', '.join(map(str, READABLE_VERSIONS))})"
        )
    if version == 1:
        raw_meta = _migrate_v1(raw_meta)
    try:
        meta = TrajectoryMeta.model_validate(raw_meta)
    except ValidationError as exc:
        raise TrajectoryError(f"{meta_path}: invalid: {exc.errors()[0]['loc']}: {exc.errors()[0]['msg']}") from None
    steps: list[StepRecord] = []
    problems: list[str] = []
    torn = None
    steps_path = root / STEPS_FILE
    lines = steps_path.read_text(encoding="utf-8", errors="replace").split("\n") if steps_path.exists() else []
    if lines and lines[-1] == "":
        lines.pop()
    elif lines:
        torn = lines.pop()  # no newline after it: the writer died mid-line
        problems.append(f"{STEPS_FILE}: last line is incomplete (cut off while being written); ignored")
    for n, line in enumerate(lines, 1):
        try:
            step = StepRecord.model_validate_json(line)
        except ValidationError:
            if n == len(lines) and torn is None:
                torn = line
                problems.append(f"{STEPS_FILE}: line {n} is not a whole record; ignored")
                continue
            problems.append(f"{STEPS_FILE}: line {n} is not a valid step record; ignored")
            continue
        if step.index != len(steps):
            problems.append(f"{STEPS_FILE}: line {n} has step index {step.index}, expected {len(steps)}; ignored")
            continue
        if not (root / step.frame).exists():
            problems.append(f"step {step.index + 1}: frame {step.frame} is missing")
        steps.append(step)
    return Trajectory(root=root, meta=meta, steps=steps, problems=problems, torn_tail=torn)
