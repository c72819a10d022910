"""The run spec: everything needed to build an episode, stored in meta.json so ``--resume``, replay and batch
rebuild it. The env and the policy are tagged unions (``kind``): each variant holds only its own settings."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from guiagent.agent.approval_wait import DEFAULT_TIMEOUT_S
from guiagent.agent.loop import LoopConfig
from guiagent.agent.replay_source import ReplaySettings
from guiagent.envs.browser import BrowserConfig
from guiagent.envs.desktop import DesktopConfig
from guiagent.policies.judge import JudgeConfig
from guiagent.policies.vlm import VLMConfig
from guiagent.tools import Check
from guiagent.tools.approval import ApprovalRule
from guiagent.tools.secrets import SecretSpec


class ConfigError(ValueError):
    """A run that cannot start as configured; the message names the setting."""


EnvKind = Literal["browser", "desktop"]
PolicyKind = Literal["script", "vlm", "replay", "oracle"]


class BrowserEnvSpec(BrowserConfig):
    """A page in Chromium: the browser's settings and the page it opens first (its dump is the form meta.json's
    ``env`` has)."""

    kind: Literal["browser"] = "browser"
    start_url: str | None = Field(default=None, description="The page opened first (relative: on the demo site; "
                                  "None: the script's or the task's own).")


class DesktopEnvSpec(DesktopConfig):
    """An X display and the app on it: the desktop's settings, its start the app's ``launch`` and ``window``."""

    kind: Literal["desktop"] = "desktop"


EnvSpec = Annotated[BrowserEnvSpec | DesktopEnvSpec, Field(discriminator="kind")]


class ScriptPolicySpec(BaseModel):
    """A script's steps (policies/script.py); ``vlm`` grounds its describe targets."""

    model_config = ConfigDict(extra="forbid")

    kind: Literal["script"] = "script"
    script: str | None = Field(default=None, description="The script file (None: a suite task gives its own).")
    cache: str | None = Field(default=None, description="The script's action cache file (default: beside the script).")
    cache_mode: Literal["use", "refresh", "off"] = "use"
    vlm: VLMConfig | None = Field(default=None, description="The model that grounds describe targets.")


class VLMPolicySpec(BaseModel):
    """A vision-language model on an OpenAI-compatible server decides every step."""

    model_config = ConfigDict(extra="forbid")

    kind: Literal["vlm"] = "vlm"
    vlm: VLMConfig = Field(default_factory=VLMConfig)


class ReplayPolicySpec(ReplaySettings):
    """The steps of a recorded trajectory, verified against it."""

    model_config = ConfigDict(extra="forbid")

    kind: Literal["replay"] = "replay"


class OraclePolicySpec(BaseModel):
    """A suite page task's own oracle (its DOM): only a suite task can give one."""

    model_config = ConfigDict(extra="forbid")

    kind: Literal["oracle"] = "oracle"


PolicySpec = Annotated[ScriptPolicySpec | VLMPolicySpec | ReplayPolicySpec | OraclePolicySpec, Field(discriminator="kind")]

_FLAT_POLICY_FIELDS = ("script", "cache", "cache_mode", "vlm", "replay")
_OWN_FIELDS: dict[str, tuple[str, ...]] = {"script": ("script", "cache", "cache_mode", "vlm"), "vlm": ("vlm",)}


def flat_to_tagged(data: dict[str, Any]) -> dict[str, Any]:
    """A spec in the flat form meta.json had before the tagged unions (``env``/``policy`` as names beside every
    variant's settings: ``browser``, ``desktop``, ``script``, ``vlm``, ...) or with the start URL beside the env
    (a top-level ``start_url``) in today's form; today's form as it is. A start URL goes into a browser env; a
    desktop env never opened one (its start is the app's launch), so there it is dropped."""
    data = dict(data)
    env = data.get("env")
    if env is None or isinstance(env, str):
        browser, desktop = data.pop("browser", None), data.pop("desktop", None)
        kind = env or "browser"
        config = desktop if kind == "desktop" else browser if kind == "browser" else None
        if isinstance(config, BaseModel):
            config = config.model_dump()
        data["env"] = {**(config or {}), "kind": kind}
    if "start_url" in data:
        start_url, env = data.pop("start_url"), data["env"]
        if isinstance(env, BaseModel):
            env = env.model_dump()
        if isinstance(env, dict) and env.get("kind", "browser") == "browser" and start_url is not None:
            data["env"] = {**env, "start_url": env.get("start_url") or start_url}
    policy = data.get("policy")
    if policy is None or isinstance(policy, str):
        kind = policy or "script"
        flat = {k: data.pop(k) for k in _FLAT_POLICY_FIELDS if k in data}
        replay = flat.get("replay")
        if kind == "replay" and replay is not None:
            data["policy"] = {**(replay.model_dump() if isinstance(replay, BaseModel) else replay), "kind": kind}
        else:
            own = {k: v for k, v in flat.items() if k in _OWN_FIELDS.get(kind, ()) and v is not None}
            data["policy"] = {**own, "kind": kind}
    return data


class RunSpec(BaseModel):
    """Everything needed to build an episode; stored in meta.json so ``--resume`` rebuilds it."""

    model_config = ConfigDict(extra="forbid")

    env: EnvSpec = Field(default_factory=BrowserEnvSpec)
    policy: PolicySpec = Field(default_factory=ScriptPolicySpec)
    task: str | None = None
    success: Check | None = Field(default=None, description="The task's success check (overrides the script's).")
    judge: JudgeConfig | None = Field(default=None, description="A second model that judges the episode at its end.")
    demo_site: bool = Field(default=False, description="Serve the bundled demo site; relative URLs point at it.")
    demo_port: int | None = None
    demo_layout: Literal["default", "moved"] = Field(default="default", description="The demo site's layout variant.")
    loop: LoopConfig = Field(default_factory=LoopConfig)
    sandbox: bool | None = Field(default=None, description="A suite's desktop tasks: sandbox the app or not "
                                 "(--sandbox/--no-sandbox; None: as each task says).")
    secrets: list[SecretSpec] = Field(default_factory=list, description="Names only; values come from the environment.")
    secrets_file: str | None = Field(default=None, description="NAME=value file outside the trajectory.")
    approve: list[ApprovalRule] = Field(default_factory=list, description="Actions that wait for a person's approval.")
    approval_timeout_s: float = Field(default=DEFAULT_TIMEOUT_S, ge=0, description=(
        "Unattended, how long a run waits (its env alive) for `guiagent approve` before it stops awaiting approval."))
    share: bool = Field(default=False, description="Files as the umask says (else owner only: 0700/0600).")

    @model_validator(mode="before")
    @classmethod
    def _migrate_flat(cls, data: Any) -> Any:
        return flat_to_tagged(data) if isinstance(data, dict) else data

    @property
    def policy_model(self) -> VLMConfig | None:
        """The model the policy asks (a script's grounding model, a vlm policy's model), if any."""
        return self.policy.vlm if isinstance(self.policy, ScriptPolicySpec | VLMPolicySpec) else None
