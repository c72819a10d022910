"""``guiagent run``'s options as a run spec: what `run` and `batch` share."""

from __future__ import annotations

import re
from types import SimpleNamespace
from typing import Any

import yaml
from pydantic import ValidationError

from guiagent.agent.loop import LoopConfig
from guiagent.agent.runner import ConfigError, RunSpec
from guiagent.envs.browser import BrowserConfig
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


def run_spec(options: dict[str, Any]) -> RunSpec:
    """The run spec that ``guiagent run``'s options describe (option name -> value); ``batch`` builds its
    episodes' base spec with it too."""
    o = SimpleNamespace(**options)
    if o.xvfb is not None:
        try:
            parse_screen(o.xvfb)
        except ValueError as exc:
            raise ConfigError(f"--xvfb: {exc}") from None
    if o.no_cache and o.refresh_cache:
        raise ConfigError("--no-cache and --refresh-cache exclude each other")
    width, height = size(o.viewport, "--viewport")
    fps = o.sample_fps if o.sample_fps is not None else (o.video_fps if o.policy == "vlm" and o.history_seconds > 0 else 0.0)
    vlm = None
    if o.policy == "vlm" or o.script is not None:  # a script's describe targets are grounded by this model
        given = {"max_pixels": o.max_pixels} if o.max_pixels is not None else {}
        vlm = VLMConfig(
            base_url=o.model_url, model=o.model, family=o.model_family, protocol=o.protocol, constrained=o.constrained, **given,
            video=VideoConfig(fps=o.video_fps, history_seconds=o.history_seconds, token_budget=o.video_tokens),
        )
    private = o.private_network if o.private_network is not None else (o.policy != "vlm" or o.demo_site)
    upload_dir = getattr(o, "upload_dir", None)
    sandbox = getattr(o, "sandbox", None)
    if upload_dir is not None and not upload_dir.is_dir():
        raise ConfigError(f"--upload-dir {upload_dir} is not a folder: name the folder the page may take files from")
    try:
        url_policy = UrlPolicy(allow=o.allow or [], block=o.block or [], private_network=private,
                               schemes=["http", "https", *(o.allow_scheme or [])])
        secrets = [SecretSpec.parse(s) for s in o.secret or []]
    except ValueError as exc:  # pydantic's ValidationError is a ValueError
        raise ConfigError(first_error(exc)) from None
    return RunSpec(
        env=o.env, policy=o.policy, vlm=vlm,
        desktop=DesktopConfig(display=o.display, xvfb=o.xvfb, launch=o.launch, window=o.window, monitor=o.monitor,
                              sample_fps=fps, pass_env=o.pass_env or [],
                              a11y=bool(getattr(o, "a11y", False)),
                              sandbox=SandboxConfig(enabled=bool(sandbox), network=bool(getattr(o, "network", False)))),
        sandbox=sandbox,
        browser=BrowserConfig(executable_path=o.chromium, headless=not o.headed, viewport_width=width,
                              viewport_height=height, device_scale_factor=o.scale, sample_fps=fps,
                              profile_dir=str(o.profile.resolve()) if o.profile else None,
                              url_policy=url_policy, pass_env=o.pass_env or [],
                              upload_dir=str(upload_dir.resolve()) if upload_dir is not None else None),
        script=str(o.script) if o.script else None, task=o.task, start_url=o.start_url,
        cache=str(o.cache) if o.cache else None,
        cache_mode="off" if o.no_cache else "refresh" if o.refresh_cache else "use",
        demo_site=o.demo_site, demo_layout=o.demo_layout,
        loop=LoopConfig(max_steps=o.max_steps, max_format_errors=o.max_format_errors),
        secrets=secrets, secrets_file=str(o.secrets_file) if o.secrets_file else None,
        approve=[ApprovalRule(rule=r) for r in o.approve or []], share=o.share,
        approval_timeout_s=300.0 if getattr(o, "approval_timeout", None) is None else o.approval_timeout,
        success=success_check(o.success or []), judge=judge_config(options),
    )


def judge_config(options: dict[str, Any]) -> JudgeConfig | None:
    """``--judge-url``/``--judge-model``/``--judge-frames`` as the judge's settings (None: no judge)."""
    url, model, frames = options.get("judge_url"), options.get("judge_model"), options.get("judge_frames") or 3
    if url is None and model is None:
        return None
    if url is None or not model:
        raise ConfigError("the judge needs both --judge-url (its server's OpenAI-compatible root) and --judge-model")
    try:
        return JudgeConfig(base_url=url, model=model, frames=frames)
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
