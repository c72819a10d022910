"""Scripted automation: a YAML file of actions in screen coordinates, with checks to wait for.

```yaml
task: Sign in and open the list
start_url: /login            # absolute, or relative to the site the runner serves
allow: ["*.example.com"]     # optional: the URL policy's allow/block lists, added to the run's
success: {selector: "#summary[data-complete='true']"}
steps:
  - name: user name
    action: left_click
    coordinate: [640, 220]
  - {action: type, text: demo}
  - action: key
    keys: [Return]
    expect: {url: "/list$", timeout: 5}
  - action: left_click                 # a target instead of a point: found when the step runs
    target: {role: link, name: Settings}
  - {action: left_click, target: {describe: the Save button}, coordinate: [540, 482]}  # point: fallback
```
Targets (``target``, and ``start_target`` for a drag's start) are ``tools.targets.Target``: selector,
text, role (+ name), or describe (grounded by the model, cached in the action cache); a step's
``timeout`` bounds the wait for them.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from guiagent.policies.action_cache import ActionCache, CacheError, CacheMode, default_cache_path
from guiagent.policies.base import Decision, DecisionContext, DecisionSource, PolicyError
from guiagent.policies.targeting import Targeting
from guiagent.tools import ACTIONS_BY_NAME, Action, ActionError, Check, Observation, Terminate, parse_action
from guiagent.tools.actions import describe_validation_error
from guiagent.tools.extras import MissingExtra, need
from guiagent.tools.targets import TARGET_KEYS, ResolvedTarget, Target, TargetScreen

if TYPE_CHECKING:
    from collections.abc import Callable

    from guiagent.policies.grounding import Grounder
    from guiagent.policies.vlm import VLMConfig

PLACEHOLDER = (0, 0)  # stands for a target's point until it is resolved (never executed as such)


class ScriptError(PolicyError):
    """A script that cannot be read; the message names the file and the step."""


class ScriptStep(BaseModel):
    model_config = ConfigDict(arbitrary_types_allowed=True)

    name: str | None = None
    action: Action
    targets: dict[str, Target] = Field(default_factory=dict, description="By point field: coordinate, start_coordinate.")
    expect: Check | None = None


class Script(BaseModel):
    task: str = ""
    start_url: str | None = None
    success: Check | None = None
    steps: list[ScriptStep] = Field(min_length=1)
    allow: list[str] = Field(default_factory=list, description="Hosts added to the run's URL allow list.")
    block: list[str] = Field(default_factory=list, description="Hosts added to the run's URL block list.")


def load_script(path: str | Path) -> Script:
    """Read and validate a script file; every problem names the file and the step."""
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text())
    except OSError as exc:
        raise ScriptError(f"cannot read script {path}: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        raise ScriptError(f"{path}: not valid YAML: {exc}") from None
    return parse_script(data, source=str(path))


def parse_script(data: Any, source: str = "script") -> Script:
    if not isinstance(data, dict) or not isinstance(data.get("steps"), list) or not data["steps"]:
        raise ScriptError(f"{source}: expected a mapping with a non-empty 'steps' list")
    steps = []
    for i, raw in enumerate(data["steps"]):
        where = f"{source}: step {i + 1}"
        if not isinstance(raw, dict):
            raise ScriptError(f"{where}: expected a mapping, got {raw!r}")
        fields = dict(raw)
        name, expect = fields.pop("name", None), fields.pop("expect", None)
        where += f" ({name})" if name else ""
        targets = _parse_targets(fields, where)
        try:
            action = parse_action(fields)
            check = Check.model_validate(expect) if expect is not None else None
        except ActionError as exc:
            raise ScriptError(f"{where}: {exc}") from None
        except ValidationError as exc:
            raise ScriptError(f"{where}: expect: {describe_validation_error(exc)}") from None
        steps.append(ScriptStep(name=name, action=action, targets=targets, expect=check))
    try:
        success = Check.model_validate(data["success"]) if data.get("success") else None
    except ValidationError as exc:
        raise ScriptError(f"{source}: success: {describe_validation_error(exc)}") from None
    lists = {}
    for key in ("allow", "block"):
        value = data.get(key) or []
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ScriptError(f"{source}: {key}: expected a list of host patterns")
        lists[key] = value
    return Script(task=str(data.get("task", "")), start_url=data.get("start_url"), success=success, steps=steps, **lists)


def _parse_targets(fields: dict[str, Any], where: str) -> dict[str, Target]:
    """Take the step's targets out of ``fields``, leaving a placeholder point where none is given (a given
    point stays as the target's fallback)."""
    timeout = fields.pop("timeout", None)
    action_type = ACTIONS_BY_NAME.get(fields.get("action"))  # type: ignore[arg-type]
    point_fields = action_type._point_fields if action_type is not None else ()
    targets = {}
    for field, key in TARGET_KEYS.items():
        if key not in fields:
            continue
        raw = fields.pop(key)
        if field not in point_fields:
            raise ScriptError(f"{where}: {key}: {fields.get('action')!r} has no {field} to point at")
        spec = {"describe": raw} if isinstance(raw, str) else raw
        if not isinstance(spec, dict):
            raise ScriptError(f"{where}: {key}: expected a mapping (selector, text, role, describe), got {raw!r}")
        spec = {**({"timeout": timeout} if timeout is not None else {}), **spec}
        if fields.get(field) is not None:
            spec["fallback"] = fields[field]
        try:
            targets[field] = Target.model_validate(spec)
        except ValidationError as exc:
            raise ScriptError(f"{where}: {key}: {describe_validation_error(exc)}") from None
        fields[field] = spec.get("fallback", PLACEHOLDER)
    if timeout is not None and not targets:
        raise ScriptError(f"{where}: timeout: only a step with a target waits (use expect's timeout for checks)")
    return targets


class ScriptPolicy:
    """Plays a script: step i of the episode is step i of the script (so a resume picks up in place)."""

    kind = "script"

    def __init__(
        self, script: Script, source: str | None = None, vlm: VLMConfig | None = None,
        cache: ActionCache | None = None, grounder: Callable[[], Grounder] | None = None,
    ) -> None:
        self.script = script
        self.source = source
        self.vlm = vlm
        self.targeting = Targeting(grounder or self._grounder, cache)

    @classmethod
    def from_file(
        cls, path: str | Path, vlm: VLMConfig | None = None, cache: str | Path | None = None,
        cache_mode: CacheMode = "use",
    ) -> ScriptPolicy:
        """A script read from ``path``; its describe targets use the model ``vlm`` and the action cache
        ``cache`` (default: beside the script)."""
        script = load_script(path)
        cache_path = Path(cache) if cache else default_cache_path(Path(path))
        described = any(t.describe for step in script.steps for t in step.targets.values())
        if described and cache_mode != "off":
            try:
                need("imagehash", "media", "the action cache of describe targets (or run with --no-cache)")
            except MissingExtra as exc:
                raise ScriptError(str(exc)) from None
        try:
            store = ActionCache(cache_path, cache_mode) if described and cache_mode != "off" else None
        except CacheError as exc:
            raise ScriptError(str(exc)) from None
        return cls(script, source=str(path), vlm=vlm, cache=store)

    def planned_steps(self) -> int:
        """The script's steps, plus the terminate that ends it where its last step is not one."""
        steps = self.script.steps
        return len(steps) + (0 if steps and isinstance(steps[-1].action, Terminate) else 1)

    def _grounder(self) -> Grounder:
        from guiagent.policies.grounding import Grounder
        from guiagent.policies.vlm import VLMConfig

        return Grounder(self.vlm or VLMConfig())

    def decide(self, context: DecisionContext) -> Decision:
        if context.plan_step >= len(self.script.steps):
            return Decision(
                actions=[Terminate(status="success", answer="script finished")],
                label="end of script",
                thought="The script has no steps left.",
                source=DecisionSource.SCRIPT,
            )
        step = self.script.steps[context.plan_step]
        return Decision(
            actions=[step.action],
            targets=[step.targets] if step.targets else [],
            checks=[step.expect] if step.expect else [],
            must_succeed=True,  # a script cannot react to a failed action: its next steps assume it worked
            label=step.name,
            thought=step.name or "",
            source=DecisionSource.SCRIPT,
        )

    def resolve_action(
        self, action: Action, targets: dict[str, Target], observation: Observation,
        screen: TargetScreen | None, regrounding: bool = False,
    ) -> tuple[Action, list[ResolvedTarget], str | None]:
        return self.targeting.resolve_action(action, targets, observation, screen, regrounding)

    def keep(self, resolved: list[ResolvedTarget]) -> None:
        self.targeting.keep(resolved)

    def settings(self) -> dict[str, Any]:
        cache = self.targeting.cache
        return {"kind": self.kind, "source": self.source, "steps": len(self.script.steps),
                **({"cache": str(cache.path), "cache_mode": cache.mode} if cache is not None else {})}
