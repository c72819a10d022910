"""Trajectories to trainer-neutral samples: turns of text with ``<image>`` placeholders, and images.

Labels are recomputed for the trainer's own resize: each recorded action is in screen coordinates with
its frame's geometry, so the model-space label is ``smart_resize(frame, min_pixels, max_pixels)``'s
mapping of that point, exactly what the trainer will show the model.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field

from guiagent.agent.outcome import Outcome
from guiagent.agent.trajectory import StepRecord, Trajectory, load_trajectory
from guiagent.policies.dialect import Dialect
from guiagent.policies.families import DEFAULT_FAMILY, ModelFamily
from guiagent.tools import LeftClickDrag, MouseMove, ScreenMapping, parse_action
from guiagent.tools.actions import EnvKind
from guiagent.tools.geometry import MIN_PIXELS
from guiagent.tools.parsing import FN_RESULT, Protocol

IMAGE = "<image>"

ThoughtSource = Literal["model", "recorded", "none"]
HumanSteps = Literal["keep", "drop", "corrections"]
"""What a person's steps (the live view's takeover) become: samples like any other step (keep); context only, never
a target (drop); or the only targets, each in the episode of the policy it corrected (corrections)."""
HUMAN = "human"


class ExportOptions(BaseModel):
    family: str = Field(default=DEFAULT_FAMILY, description="The model family the labels are written for.")
    protocol: Protocol = "tool-call"
    min_pixels: int = MIN_PIXELS
    max_pixels: int = 1280 * 28 * 28
    history_images: int = Field(default=2, ge=0, description="Earlier screenshots shown as images (K).")
    history_steps: int = Field(default=8, ge=0, description="Earlier steps shown as turns.")
    per_episode: bool = False
    only_success: bool = Field(default=False, description="Only episodes a check verified as successes.")
    include_unverified: bool = Field(default=False, description="With only_success: also those only their policy called done.")
    exclude_resumed: bool = Field(default=False, description=(
        "Leave out episodes resumed on a world that was not rebuilt and verified by replay (diverged, --resume-anyway)."))
    keep_unparsed: bool = False
    thought: ThoughtSource = Field(
        default="model",
        description="The assistant's thought: what a model wrote (a script step's name is not a thought), "
        "whatever the step recorded, or none.",
    )
    divergent: dict[str, set[int]] = Field(default_factory=dict, description="Trajectory -> steps a replay found divergent.")
    human: HumanSteps = Field(default="keep", description="A person's steps: keep, drop (context only), or corrections only.")


class Turn(BaseModel):
    role: Literal["system", "user", "assistant"]
    text: str
    loss: bool | None = None  # assistant turns: trained on (True) or context only (False)


class Provenance(BaseModel):
    """Where a sample's outcome comes from: the episode's outcome, what its policy declared, what checked it."""

    outcome: Outcome
    declared: str | None = Field(default=None, description="success, failure, or None: the policy declared nothing.")
    verified_by: list[str] = Field(default_factory=list, description="The checks that passed: rule, reward, judge.")
    refused_by: list[str] = Field(default_factory=list)
    rebuilt: int = Field(default=0, description="Resumed segments whose world was rebuilt by replay and verified.")
    diverged: bool = Field(default=False, description="A resumed segment went on from an unverified world.")

    @classmethod
    def of(cls, traj: Trajectory) -> Provenance:
        m = traj.meta
        return cls(outcome=m.outcome, declared=m.declared.status if m.declared else None,
                   verified_by=[v.kind.value for v in m.verified if v.passed],
                   refused_by=[v.kind.value for v in m.verified if not v.passed],
                   rebuilt=sum(1 for s in m.segments[1:] if not s.diverged), diverged=m.diverged)


class Sample(BaseModel):
    turns: list[Turn]
    images: list[Path]
    source: str
    step: int | None = None
    provenance: Provenance | None = None
    decided_by: str | None = Field(default=None, description="Who decided the target step (model, script, human...).")


class Skipped(BaseModel):
    source: str
    reason: str


def _labels(step: StepRecord, mapping: ScreenMapping, family: ModelFamily):
    """The step's actions in the trainer's model space, as the model would emit them."""
    actions = []
    for data in step.actions:
        action = parse_action(data)
        if family.keeps_drag_start and isinstance(action, LeftClickDrag):
            actions.append(action.map_points(mapping.input_to_model))
            continue
        if isinstance(action, LeftClickDrag) and action.start_coordinate is not None:
            # the model drags from where the cursor is: move there first
            actions.append(MouseMove(coordinate=action.start_coordinate).map_points(mapping.input_to_model))
            action = LeftClickDrag(coordinate=action.coordinate)
        actions.append(action.map_points(mapping.input_to_model))
    if not actions:
        raise ValueError("no action")
    return actions


def env_kind(traj: Trajectory) -> EnvKind:
    """The env kind a trajectory drove (what its model was offered); desktop when unrecorded."""
    return "browser" if traj.meta.env.get("kind") == "browser" else "desktop"


def thought_of(step: StepRecord, source: ThoughtSource) -> str:
    """The step's thought as the export writes it: a model's own words (it left raw output), all, or none."""
    if source == "none" or (source == "model" and step.raw is None):
        return ""
    return step.thought


def target_text(step: StepRecord, mapping: ScreenMapping, dialect: Dialect, thought: ThoughtSource = "model") -> str:
    """The step as the model answers in ``dialect`` (its family's form, in its env kind), points in the family's
    coordinate space (an action the model is not offered there raises ActionError, a ValueError: no label)."""
    return dialect.format_answer(_labels(step, mapping, dialect.family), thought_of(step, thought))


def _result_text(step: StepRecord, protocol: Protocol) -> str:
    text = "\n".join(r.message or ("ok" if r.ok else "failed") for r in step.results) or "ok"
    return f"<tool_response>\n{text}\n</tool_response>" if protocol == "tool-call" else f"{FN_RESULT}: {text}"


def _usable(traj: Trajectory, options: ExportOptions, skipped: list[Skipped]) -> list[StepRecord]:
    out = []
    divergent = options.divergent.get(str(traj.root.resolve()), set())
    for step in traj.steps:
        where = f"{traj.root} step {step.index + 1}"
        if step.format_error and not options.keep_unparsed:
            skipped.append(Skipped(source=where, reason=f"the model's answer did not parse: {step.format_error}"))
        elif step.index in divergent:
            skipped.append(Skipped(source=where, reason="a replay found this step divergent"))
        elif not traj.frame_path(step).exists():
            skipped.append(Skipped(source=where, reason=f"frame {step.frame} is missing"))
        elif not step.actions:
            skipped.append(Skipped(source=where, reason="no action was taken"))
        else:
            out.append(step)
    return out


def build_samples(roots: list[Path], options: ExportOptions) -> tuple[list[Sample], list[Skipped]]:
    """Samples from every usable step (or episode) of ``roots``, and what was skipped and why."""
    samples: list[Sample] = []
    skipped: list[Skipped] = []
    Dialect.of(options.family, options.protocol, "desktop")  # a protocol the family does not answer in: its ValueError
    for root in roots:
        traj = load_trajectory(root)
        skipped += [Skipped(source=str(root), reason=p) for p in traj.problems]
        if options.only_success and not _wanted(traj.meta.outcome, options):
            wanted = "a verified success" + (" or unverified" if options.include_unverified else "")
            skipped.append(Skipped(source=str(root), reason=f"outcome is {traj.meta.outcome.value}, not {wanted}"))
            continue
        if options.exclude_resumed and traj.meta.diverged:  # a world rebuilt and verified by replay is the same world
            skipped.append(Skipped(source=str(root), reason=f"resumed on a world not verified by replay "
                                                             f"({len(traj.meta.segments)} segments)"))
            continue
        steps = _usable(traj, options, skipped)
        dialect = Dialect.of(options.family, options.protocol, env_kind(traj))
        labelled = []
        for step in steps:
            mapping = dialect.family.mapping(step.geometry, options.min_pixels, options.max_pixels)
            try:
                labelled.append((step, mapping, target_text(step, mapping, dialect, options.thought)))
            except ValueError as exc:
                skipped.append(Skipped(source=f"{root} step {step.index + 1}", reason=f"not exportable: {exc}"))
        targets = _targets([s for s, _, _ in labelled], options.human)
        if not targets:
            continue
        if options.per_episode:
            samples.append(_sample(traj, dialect, labelled, len(labelled) - 1, options, episode=True, targets=targets))
        else:
            samples += [_sample(traj, dialect, labelled, i, options, episode=False, targets=targets) for i in sorted(targets)]
    return samples, skipped


def _targets(steps: list[StepRecord], human: HumanSteps) -> set[int]:
    """The positions in ``steps`` trained on: every step, all but a person's, or only a person's corrections (their
    steps in an episode that a policy drove too: the context is the policy's episode up to the takeover)."""
    if human == "keep":
        return set(range(len(steps)))
    mine = {i for i, s in enumerate(steps) if s.source == HUMAN}
    if human == "drop":
        return set(range(len(steps))) - mine
    return mine if len(mine) < len(steps) else set()


def _sample(traj: Trajectory, dialect: Dialect, labelled, i: int, options: ExportOptions, episode: bool,
            targets: set[int]) -> Sample:
    step, mapping, target = labelled[i]
    system = dialect.system_prompt(mapping)
    first = 0 if episode else max(0, i - options.history_steps)
    with_image = set(range(first, i + 1)) if episode else set(range(max(first, i - options.history_images), i + 1))
    turns = [Turn(role="system", text=system)]
    images: list[Path] = []
    user = dialect.family.task_text(traj.meta.task)
    for j in range(first, i + 1):
        s, _, text = labelled[j]
        if j in with_image:
            user += f"\n{IMAGE}"
            images.append(traj.frame_path(s))
        turns.append(Turn(role="user", text=user))
        turns.append(Turn(role="assistant", text=text, loss=j in targets if episode else j == i))
        user = _result_text(s, options.protocol)
    return Sample(turns=turns, images=images, source=str(traj.root), step=None if episode else step.index,
                  provenance=Provenance.of(traj), decided_by=None if episode else step.source)


def _wanted(outcome: Outcome, options: ExportOptions) -> bool:
    return outcome is Outcome.SUCCESS or (options.include_unverified and outcome is Outcome.UNVERIFIED)


def load_divergent(reports: list[Path]) -> dict[str, set[int]]:
    """Steps that replays found divergent, by source trajectory (from their divergence.json)."""
    found: dict[str, set[int]] = {}
    for report in reports:
        data = json.loads(Path(report).read_text())
        found.setdefault(str(Path(data["source"]).resolve()), set()).update(d["step"] for d in data["divergences"])
    return found
