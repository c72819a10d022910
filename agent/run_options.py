"""``guiagent run``'s options, typed, and the run spec they describe: what `run`, `batch` and `mcp` share."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

from guiagent.agent.loop import LoopConfig
from guiagent.agent.runner import ConfigError
from guiagent.agent.spec import (
    BrowserEnvSpec,
    DesktopEnvSpec,
    EnvKind,
    OraclePolicySpec,
    PolicySpec,
    RunSpec,
    ScriptPolicySpec,
    VLMPolicySpec,
)
from guiagent.envs.desktop import DesktopConfig
from guiagent.envs.sandbox import SandboxConfig
from guiagent.envs.xvfb import parse_screen
from guiagent.policies.judge import JudgeConfig
from guiagent.policies.media import VideoConfig
from guiagent.policies.vlm import VLMConfig
from guiagent.tools import Check
from guiagent.tools.approval import ApprovalRule
from guiagent.tools.secrets import SecretSpec
from guiagent.tools.urlpolicy import UrlPolicy


class RunOptions(BaseModel):
    """The env, policy, model and safety options of ``guiagent run`` (the names and defaults of its options; batch
    and mcp take theirs), from which ``spec`` builds the run spec's tagged unions."""

    model_config = ConfigDict(extra="forbid", arbitrary_types_allowed=True)

    env: EnvKind = "browser"
    policy: Literal["script", "vlm", "oracle"] = "script"
    script: Path | None = None
    task: str | None = None
    start_url: str | None = None
    max_steps: int = 50
    max_format_errors: int = 3
    success: list[str] | None = None
    judge_url: str | None = None
    judge_model: str | None = None
    judge_frames: int = 3
    xvfb: str | None = None
    launch: str | None = None
    window: str | None = None
    monitor: int = 0
    display: str | None = None
    a11y: bool = False
    sandbox: bool | None = None
    network: bool = False
    headed: bool = False
    viewport: str = "1280x800"
    scale: float = 1.0
    chromium: str | None = None
    profile: Path | None = None
    demo_site: bool = False
    demo_layout: Literal["default", "moved"] = "default"
    model_url: str = "http://127.0.0.1:8000/v1"
    model: str = "Qwen/Qwen2.5-VL-7B-Instruct"
    model_family: str = "qwen2.5-vl"
    protocol: str = "tool-call"
    constrained: bool = False
    video_fps: float = 1.0
    history_seconds: float = 30.0
    max_pixels: int | None = None
    video_tokens: int = 768
    sample_fps: float | None = None
    allow: list[str] | None = None
    block: list[str] | None = None
    allow_scheme: list[str] | None = None
    private_network: bool | None = None
    secret: list[str] | None = None
    secrets_file: Path | None = None
    pass_env: list[str] | None = None
    upload_dir: Path | None = None
    approve: list[str] | None = None
    approval_timeout: float = 300.0
    share: bool = False
    cache: Path | None = None
    no_cache: bool = False
    refresh_cache: bool = False

    def spec(self) -> RunSpec:
        """The run spec these options describe; a ConfigError names a bad option."""
        try:
            url_policy = self.url_policy()
            secrets = [SecretSpec.parse(s) for s in self.secret or []]
        except ValueError as exc:  # pydantic's ValidationError is a ValueError
            raise ConfigError(first_error(exc)) from None
        if self.env == "desktop" and self.start_url:
            raise ConfigError("--start-url opens a page in the browser env: a desktop run starts its app (--launch)")
        return RunSpec(
            env=self.browser(url_policy) if self.env == "browser" else DesktopEnvSpec(**self.desktop().model_dump()),
            policy=self.policy_spec(), task=self.task,
            demo_site=self.demo_site, demo_layout=self.demo_layout, sandbox=self.sandbox,
            loop=LoopConfig(max_steps=self.max_steps, max_format_errors=self.max_format_errors),
            secrets=secrets, secrets_file=str(self.secrets_file) if self.secrets_file else None,
            approve=[ApprovalRule(rule=r) for r in self.approve or []], share=self.share,
            approval_timeout_s=self.approval_timeout,
            success=success_check(self.success or []), judge=judge_config(self.judge_url, self.judge_model, self.judge_frames),
        )

    def sample_rate(self) -> float:
        """Frames kept between steps: as asked, else the clip's rate for a model that sees a clip, else none."""
        if self.sample_fps is not None:
            return self.sample_fps
        return self.video_fps if self.policy == "vlm" and self.history_seconds > 0 else 0.0

    def vlm(self) -> VLMConfig:
        return VLMConfig(
            base_url=self.model_url, model=self.model, family=self.model_family, protocol=self.protocol,  # type: ignore[arg-type]
            constrained=self.constrained, max_pixels=self.max_pixels,
            video=VideoConfig(fps=self.video_fps, history_seconds=self.history_seconds, token_budget=self.video_tokens),
        )

    def policy_spec(self) -> PolicySpec:
        if self.no_cache and self.refresh_cache:
            raise ConfigError("--no-cache and --refresh-cache exclude each other")
        if self.policy == "vlm":
            return VLMPolicySpec(vlm=self.vlm())
        if self.policy == "oracle":
            return OraclePolicySpec()
        return ScriptPolicySpec(  # a script's describe targets are grounded by the model
            script=str(self.script) if self.script else None, cache=str(self.cache) if self.cache else None,
            cache_mode="off" if self.no_cache else "refresh" if self.refresh_cache else "use",
            vlm=self.vlm() if self.script is not None else None)

    def url_policy(self) -> UrlPolicy:
        private = self.private_network if self.private_network is not None else (self.policy != "vlm" or self.demo_site)
        return UrlPolicy(allow=self.allow or [], block=self.block or [], private_network=private,
                         schemes=["http", "https", *(self.allow_scheme or [])])

    def browser(self, url_policy: UrlPolicy) -> BrowserEnvSpec:
        width, height = size(self.viewport, "--viewport")
        if self.upload_dir is not None and not self.upload_dir.is_dir():
            raise ConfigError(f"--upload-dir {self.upload_dir} is not a folder: name the folder the page may take files from")
        return BrowserEnvSpec(executable_path=self.chromium, headless=not self.headed, viewport_width=width,
                              viewport_height=height, device_scale_factor=self.scale, sample_fps=self.sample_rate(),
                              profile_dir=str(self.profile.resolve()) if self.profile else None,
                              url_policy=url_policy, pass_env=self.pass_env or [],
                              upload_dir=str(self.upload_dir.resolve()) if self.upload_dir is not None else None,
                              start_url=self.start_url)

    def desktop(self) -> DesktopConfig:
        """The desktop's settings (a suite's desktop tasks in a browser batch take these too)."""
        if self.xvfb is not None:
            try:
                parse_screen(self.xvfb)
            except ValueError as exc:
                raise ConfigError(f"--xvfb: {exc}") from None
        return DesktopConfig(display=self.display, xvfb=self.xvfb, launch=self.launch, window=self.window,
                             monitor=self.monitor, sample_fps=self.sample_rate(), pass_env=self.pass_env or [],
                             a11y=self.a11y, sandbox=SandboxConfig(enabled=bool(self.sandbox), network=self.network))


def judge_config(url: str | None, model: str | None, frames: int | None) -> JudgeConfig | None:
    """``--judge-url``/``--judge-model``/``--judge-frames`` as the judge's settings (None: no judge)."""
    if url is None and model is None:
        return None
    if url is None or not model:
        raise ConfigError("the judge needs both --judge-url (its server's OpenAI-compatible root) and --judge-model")
    try:
        return JudgeConfig(base_url=url, model=model, frames=frames or 3)
    except ValidationError as exc:
        raise ConfigError(f"--judge-frames: {first_error(exc)}") from None


COMPACT_CHECK = re.compile(r"^(text|url|selector|js|window|timeout)[:=](.*)$", re.DOTALL)


def success_check(values: list[str]) -> Check | None:
    """``--success`` values as one check (every condition must hold): each a compact ``kind:value`` (url:/list$,
    text:Welcome) or a JSON/YAML object, the form of a suite's ``success:``."""
    if not values:
        return None
    conditions: dict[str, Any] = {}
    for value in values:
        compact = COMPACT_CHECK.match(value.strip())
        if compact:
            conditions[compact[1]] = compact[2]
            continue
        try:
            loaded = yaml.safe_load(value)
        except yaml.YAMLError as exc:
            raise ConfigError(f"--success {value!r}: not kind:value nor a JSON/YAML object ({str(exc).splitlines()[0]})") from None
        if not isinstance(loaded, dict):
            raise ConfigError(f"--success {value!r}: give kind:value (kinds: text, url, selector, js, window) "
                              "or an object such as {\"url\": \"/list$\"}")
        conditions.update(loaded)
    try:
        return Check.model_validate(conditions)
    except ValidationError as exc:
        where = ".".join(str(p) for p in exc.errors()[0]["loc"])
        raise ConfigError(f"--success: {where + ': ' if where else ''}{first_error(exc)}") from None


def size(text: str, option: str) -> tuple[int, int]:
    m = re.fullmatch(r"(\d+)x(\d+)", text)
    if not m:
        raise ConfigError(f"{option} must look like 1280x800, got {text!r}")
    return int(m.group(1)), int(m.group(2))


def first_error(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        return exc.errors()[0]["msg"].removeprefix("Value error, ")
    return str(exc)
