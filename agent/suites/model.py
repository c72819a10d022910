"""Task files: what one task of a suite asks, where it starts, and how its success is read.

A suite is a YAML file (``suite``, optional ``defaults`` merged into every task (a mapping such as ``start``, one
level deep), ``tasks``) or a JSONL
file (one task per line). Paths (``script``) are relative to the file.

```yaml
suite: demo
defaults: {site: demo, max_steps: 10}
tasks:
  - id: sign-in
    instruction: Sign in as demo / demo.
    start: {url: /login}
    success: {url: "/list$"}
    script: demo/sign-in.yaml
    tags: [auth]
    repeats: 2
```
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from guiagent.agent.checks import Evaluator, EvaluatorError, Getter
from guiagent.envs.desktop_session import WindowManager
from guiagent.tools import Check

TASK_ID = r"^[A-Za-z0-9][A-Za-z0-9._-]*$"


class SuiteError(ValueError):
    """A task file that cannot be used; the message names the file, the task and the field."""


class Start(BaseModel):
    """Where a task starts: a URL (absolute, or relative to the task's ``site``), or a desktop app."""

    model_config = ConfigDict(extra="forbid")

    url: str | None = None
    app: str | None = Field(default=None, description="Command that starts the app; {episode} is the episode folder.")
    window: str | None = Field(default=None, description="Regex of the app window's title to wait for.")
    screen: str = Field(default="1280x800x24", description="The private Xvfb's screen, WxHxD.")
    files: list[str] = Field(default_factory=list, description="Folders (relative to the task file) copied into the "
                             "app's fresh HOME, in order.")
    wm: WindowManager = Field(default=WindowManager.NONE, description="The desktop's window manager.")
    sandbox: bool = Field(default=False, description="Run the app sandboxed: its own HOME, no network.")
    network: bool = Field(default=False, description="Give the sandboxed app the network.")

    @model_validator(mode="after")
    def _one_place(self) -> Start:
        if (self.url is None) == (self.app is None):
            raise ValueError("give exactly one of url and app")
        return self


class PageReward(BaseModel):
    """Success read from the page itself: JavaScript expressions evaluated in the task's page."""

    model_config = ConfigDict(extra="forbid")

    setup: str | None = Field(default=None, description="Run once the start page has loaded; {seed} is the episode's seed.")
    ready: str | None = Field(default=None, description="Truthy once the task is ready after setup.")
    instruction: str | None = Field(default=None, description="The instruction, read from the page (after setup).")
    done: str = Field(description="Truthy once the page has ended the episode.")
    reward: str = Field(description="The episode's reward, a number.")
    info: str | None = Field(default=None, description="Other facts to record with the reward (an object).")
    success_above: float = Field(default=0.0, description="The episode succeeded when its reward is above this.")


class SuiteTask(BaseModel):
    """One task of a suite."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(pattern=TASK_ID)
    instruction: str | None = None
    start: Start
    site: Literal["demo", "miniwob"] | None = Field(default=None, description="A bundled site served for the task.")
    initial_state: dict[str, Any] | None = Field(default=None, description="The demo site's or app's state at the start.")
    success: Check | None = None
    reward: PageReward | None = None
    evaluator: Evaluator | None = Field(default=None, description="A check of the files the app left (OSWorld's form).")
    max_steps: int = Field(default=20, ge=1)
    script: str | None = None
    oracle: str | None = Field(default=None, description="JS giving the actions that solve the task from the page (an oracle policy).")
    tags: list[str] = Field(default_factory=list)
    allow: list[str] = Field(default_factory=list, description="Host patterns added to the run's URL allowlist.")
    block: list[str] = Field(default_factory=list, description="Host patterns added to the run's URL blocklist.")
    seeds: list[int] | None = None
    repeats: int = Field(default=1, ge=1, description="Episodes per task when no seeds are given (seeds 0..repeats-1).")

    @model_validator(mode="after")
    def _coherent(self) -> SuiteTask:
        if not self.instruction and not (self.reward and self.reward.instruction):
            raise ValueError("a task needs an instruction (or a reward.instruction read from the page)")
        if self.reward is not None and self.start.app is not None:
            raise ValueError("a reward read from the page needs a browser task (start.url)")
        return self

    @property
    def env(self) -> Literal["browser", "desktop"]:
        return "desktop" if self.start.app else "browser"

    def episode_seeds(self) -> list[int]:
        return list(self.seeds) if self.seeds is not None else list(range(self.repeats))


class SkippedTask(BaseModel):
    """A task of a suite that cannot run here (e.g. an OSWorld task that needs the VM): listed, never dropped."""

    id: str
    reason: str
    source: str | None = None


class Suite(BaseModel):
    name: str
    source: str
    tasks: list[SuiteTask]
    skipped: list[SkippedTask] = Field(default_factory=list, description="Tasks that cannot run here, with the reason.")


def load_suite_file(path: str | Path) -> Suite:
    """Read a YAML or JSONL task file; every problem is one sentence naming the file and the task."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise SuiteError(f"cannot read task file {path}: {exc.strerror or exc}") from None
    if path.suffix == ".jsonl":
        name, defaults, raw_tasks = path.stem, {}, []
        for n, line in enumerate(text.splitlines(), 1):
            if line.strip():
                try:
                    raw_tasks.append(json.loads(line))
                except json.JSONDecodeError as exc:
                    raise SuiteError(f"{path}: line {n} is not JSON: {exc.msg}") from None
    else:
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise SuiteError(f"{path}: not valid YAML: {str(exc).splitlines()[0]}") from None
        if not isinstance(data, dict) or not isinstance(data.get("tasks"), list):
            raise SuiteError(f"{path}: expected a mapping with a 'tasks' list")
        name, defaults, raw_tasks = str(data.get("suite") or path.stem), data.get("defaults") or {}, data["tasks"]
        if not isinstance(defaults, dict):
            raise SuiteError(f"{path}: 'defaults' must be a mapping")
    return build_suite(name, str(path), raw_tasks, defaults, base=path.parent)


def build_suite(name: str, source: str, raw_tasks: list[Any], defaults: dict[str, Any], base: Path | None = None) -> Suite:
    tasks: list[SuiteTask] = []
    seen: set[str] = set()
    for n, raw in enumerate(raw_tasks, 1):
        where = f"{source}: task {n}"
        if not isinstance(raw, dict):
            raise SuiteError(f"{where}: expected a mapping, got {type(raw).__name__}")
        where += f" ({raw['id']})" if isinstance(raw.get("id"), str) else ""
        try:
            merged = {**defaults, **raw}
            for key, value in defaults.items():  # a mapping default (start) is merged one level deep
                if isinstance(value, dict) and isinstance(raw.get(key), dict):
                    merged[key] = {**value, **raw[key]}
            task = SuiteTask.model_validate(merged)
        except ValidationError as exc:
            raise SuiteError(f"{where}: {_describe(exc)}") from None
        except EvaluatorError as exc:
            raise SuiteError(f"{where}: {exc}") from None
        if task.id in seen:
            raise SuiteError(f"{where}: the id {task.id!r} is used twice")
        seen.add(task.id)
        if task.start.files and base is not None:
            folders = [(base / f).resolve() for f in task.start.files]
            if missing := [f for f, p in zip(task.start.files, folders, strict=True) if not p.is_dir()]:
                raise SuiteError(f"{where}: files folder {missing[0]!r} not found (looked in {base})")
            task = task.model_copy(update={"start": task.start.model_copy(update={"files": [str(p) for p in folders]})})
        if task.evaluator is not None and base is not None:
            task = task.model_copy(update={"evaluator": with_local_files(task.evaluator, base)})
        if task.script is not None and base is not None:
            script = (base / task.script).resolve()
            if not script.is_file():
                raise SuiteError(f"{where}: script {task.script!r} not found (looked in {base})")
            task = task.model_copy(update={"script": str(script)})
        tasks.append(task)
    if not tasks:
        raise SuiteError(f"{source}: no tasks")
    return Suite(name=name, source=source, tasks=tasks)


def with_local_files(evaluator: Evaluator, base: Path) -> Evaluator:
    """The evaluator with each ``local_file`` getter's path made absolute against the task file's folder."""
    def fix(value: Any) -> Any:
        if isinstance(value, list):
            return [fix(v) for v in value]
        if isinstance(value, Getter) and value.type == "local_file" and value.path is not None:
            return value.model_copy(update={"path": str((base / value.path).resolve())})
        return value

    return evaluator.model_copy(update={"result": fix(evaluator.result), "expected": fix(evaluator.expected)})


def _describe(exc: ValidationError) -> str:
    first = exc.errors()[0]
    where = ".".join(str(p) for p in first["loc"])
    message = first["msg"].removeprefix("Value error, ")
    return f"{where}: {message}" if where else message
