"""guiagent: a runtime that lets a vision-language model use a computer: observe, decide, act, record.

The public surface is re-exported here; everything else is internal. Names are imported on first use,
so ``import guiagent`` stays cheap (no Playwright, LangGraph or OpenAI client until you touch them)::

    import guiagent

    with guiagent.BrowserEnv(guiagent.BrowserConfig()) as env:
        env.reset("https://example.com")
        obs = env.observe()
        dialect = guiagent.Dialect.of("qwen2.5-vl", "tool-call", "browser")  # the model, its protocol, the env
        mapping = guiagent.mapping_for(obs, family=dialect.family)         # the screen as the model sees it
        answer = guiagent.actions_from_answer(model_text, mapping, dialect)  # its answer, in the env's input space
        for action in answer.actions:
            env.execute(action)

The repository keeps the layers as top-level folders (``tools/``, ``envs/``, ``policies/``, ``agent/``);
installed, they are one namespace: ``guiagent.tools``, ``guiagent.envs``, ``guiagent.policies``,
``guiagent.agent``.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

# name -> the module that defines it
_EXPORTS: dict[str, str] = {
    # computers to act on (context managers)
    "Env": "guiagent.envs.base",
    "EnvError": "guiagent.envs.base",
    "BrowserEnv": "guiagent.envs.browser",
    "BrowserConfig": "guiagent.envs.browser",
    "DesktopEnv": "guiagent.envs.desktop",
    "DesktopConfig": "guiagent.envs.desktop",
    # deciders
    "Policy": "guiagent.policies.base",
    "PolicyError": "guiagent.policies.base",
    "Decision": "guiagent.policies.base",
    "DecisionContext": "guiagent.policies.base",
    "VLMPolicy": "guiagent.policies.vlm",
    "VLMConfig": "guiagent.policies.vlm",
    "VideoConfig": "guiagent.policies.media",
    "ScriptPolicy": "guiagent.policies.script",
    # the model step, as pure functions
    "Dialect": "guiagent.policies.dialect",
    "mapping_for": "guiagent.policies.answer",
    "actions_from_answer": "guiagent.policies.answer",
    "ScreenAnswer": "guiagent.policies.answer",
    "ParseError": "guiagent.tools.parsing",
    # what envs and policies exchange
    "Observation": "guiagent.tools.observation",
    "ActionResult": "guiagent.tools.observation",
    "ScreenMapping": "guiagent.tools.geometry",
    "FrameGeometry": "guiagent.tools.geometry",
    "CoordinateOutOfRange": "guiagent.tools.geometry",
    "Action": "guiagent.tools.actions",
    "parse_action": "guiagent.tools.actions",
    "Check": "guiagent.tools.checks",
    # security: where the browser may go, secrets by placeholder, actions a person approves
    "UrlPolicy": "guiagent.tools.urlpolicy",
    "SecretSpec": "guiagent.tools.secrets",
    "ApprovalRule": "guiagent.tools.approval",
    # episodes and their trajectories
    "RunSpec": "guiagent.agent.runner",
    "ConfigError": "guiagent.agent.runner",
    "start_episode": "guiagent.agent.runner",
    "resume_episode": "guiagent.agent.runner",
    "LoopConfig": "guiagent.agent.loop",
    "EpisodeResult": "guiagent.agent.loop",
    "Trajectory": "guiagent.agent.trajectory",
    "TrajectoryError": "guiagent.agent.trajectory",
    "StepRecord": "guiagent.agent.trajectory",
    "load_trajectory": "guiagent.agent.trajectory",
    "DemoServer": "guiagent.agent.demo.server",
}

# Written out (not built from _EXPORTS) so that static tools see it; tests/test_api.py checks the two agree.
__all__ = [
    "__version__", "Env", "EnvError", "BrowserEnv", "BrowserConfig", "DesktopEnv", "DesktopConfig", "Policy",
    "PolicyError", "Decision", "DecisionContext", "VLMPolicy", "VLMConfig", "VideoConfig", "ScriptPolicy",
    "Dialect", "mapping_for", "actions_from_answer", "ScreenAnswer", "ParseError", "Observation", "ActionResult",
    "ScreenMapping", "FrameGeometry", "CoordinateOutOfRange", "Action", "parse_action", "Check", "UrlPolicy",
    "SecretSpec", "ApprovalRule", "RunSpec", "ConfigError", "start_episode", "resume_episode", "LoopConfig",
    "EpisodeResult", "Trajectory", "TrajectoryError", "StepRecord", "load_trajectory", "DemoServer",
]


def __getattr__(name: str) -> Any:
    if name == "__version__":
        from importlib.metadata import PackageNotFoundError, version

        try:
            value = version("guiagent")
        except PackageNotFoundError:  # a source tree that was never installed
            value = "0+unknown"
    elif name in _EXPORTS:
        value = getattr(import_module(_EXPORTS[name]), name)
    else:
        raise AttributeError(f"module 'guiagent' has no attribute {name!r}")
    globals()[name] = value  # the next access is a plain lookup
    return value


def __dir__() -> list[str]:
    return sorted(__all__)


if TYPE_CHECKING:  # for type checkers and IDEs; at run time the names above load on first use
    from guiagent.agent.demo.server import DemoServer
    from guiagent.agent.loop import EpisodeResult, LoopConfig
    from guiagent.agent.runner import ConfigError, RunSpec, resume_episode, start_episode
    from guiagent.agent.trajectory import StepRecord, Trajectory, TrajectoryError, load_trajectory
    from guiagent.envs.base import Env, EnvError
    from guiagent.envs.browser import BrowserConfig, BrowserEnv
    from guiagent.envs.desktop import DesktopConfig, DesktopEnv
    from guiagent.policies.answer import ScreenAnswer, actions_from_answer, mapping_for
    from guiagent.policies.base import Decision, DecisionContext, Policy, PolicyError
    from guiagent.policies.dialect import Dialect
    from guiagent.policies.media import VideoConfig
    from guiagent.policies.script import ScriptPolicy
    from guiagent.policies.vlm import VLMConfig, VLMPolicy
    from guiagent.tools.actions import Action, parse_action
    from guiagent.tools.approval import ApprovalRule
    from guiagent.tools.checks import Check
    from guiagent.tools.geometry import CoordinateOutOfRange, FrameGeometry, ScreenMapping
    from guiagent.tools.observation import ActionResult, Observation
    from guiagent.tools.parsing import ParseError
    from guiagent.tools.secrets import SecretSpec
    from guiagent.tools.urlpolicy import UrlPolicy

    __version__: str
