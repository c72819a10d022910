"""Scripted automation: a YAML file of actions in screen coordinates, with checks to wait for.

```yaml
task: Sign in and open the list
start_url: /login            # absolute, or relative to the site the runner serves
success: {selector: "#summary[data-complete='true']"}
steps:
  - name: user name
    action: left_click
    coordinate: [640, 220]
  - {action: type, text: demo}
  - action: key
    keys: [Return]
    expect: {url: "/list$", timeout: 5}
```
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from guiagent.policies.base import Decision, DecisionContext, PolicyError
from guiagent.tools import Action, ActionError, Check, Terminate, parse_action
from guiagent.tools.actions import describe_validation_error


class ScriptError(PolicyError):
    """A script that cannot be read; the message names the file and the step."""


class ScriptStep(BaseModel):
    model_config = ConfigDict(arbitrary_types_allowed=True)

    name: str | None = None
    action: Action
    expect: Check | None = None


class Script(BaseModel):
    task: str = ""
    start_url: str | None = None
    success: Check | None = None
    steps: list[ScriptStep] = Field(min_length=1)


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
        try:
            action = parse_action(fields)
            check = Check.model_validate(expect) if expect is not None else None
        except ActionError as exc:
            raise ScriptError(f"{where}: {exc}") from None
        except ValidationError as exc:
            raise ScriptError(f"{where}: expect: {describe_validation_error(exc)}") from None
        steps.append(ScriptStep(name=name, action=action, expect=check))
    try:
        success = Check.model_validate(data["success"]) if data.get("success") else None
    except ValidationError as exc:
        raise ScriptError(f"{source}: success: {describe_validation_error(exc)}") from None
    return Script(task=str(data.get("task", "")), start_url=data.get("start_url"), success=success, steps=steps)


class ScriptPolicy:
    """Plays a script: step i of the episode is step i of the script (so a resume picks up in place)."""

    kind = "script"

    def __init__(self, script: Script, source: str | None = None) -> None:
        self.script = script
        self.source = source

    @classmethod
    def from_file(cls, path: str | Path) -> "ScriptPolicy":
        return cls(load_script(path), source=str(path))

    def decide(self, context: DecisionContext) -> Decision:
        if context.step >= len(self.script.steps):
            return Decision(
                actions=[Terminate(status="success", answer="script finished")],
                label="end of script",
                thought="The script has no steps left.",
            )
        step = self.script.steps[context.step]
        return Decision(
            actions=[step.action],
            checks=[step.expect] if step.expect else [],
            must_succeed=True,  # a script cannot react to a failed action: its next steps assume it worked
            label=step.name,
            thought=step.name or "",
        )

    def settings(self) -> dict[str, Any]:
        return {"kind": self.kind, "source": self.source, "steps": len(self.script.steps)}
