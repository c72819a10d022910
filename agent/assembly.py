"""The parts of an episode built from its run spec (policy, env, safeguards, approver, demo site), and the guarded
run of the episode they make: what start and resume (agent/runner.py) share."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path

from guiagent.agent.approval_wait import FolderApprover
from guiagent.agent.demo.server import DemoServer
from guiagent.agent.interrupts import Signals, run_guarded
from guiagent.agent.loop import Episode, EpisodeResult, StepCallback
from guiagent.agent.outcome import EndedBy, Outcome
from guiagent.agent.replay_source import replay_policy
from guiagent.agent.safeguards import Approver, Safeguards, describe_request
from guiagent.agent.spec import (
    ConfigError,
    DesktopEnvSpec,
    OraclePolicySpec,
    ReplayPolicySpec,
    RunSpec,
    ScriptPolicySpec,
    VLMPolicySpec,
)
from guiagent.agent.task import Task
from guiagent.agent.trajectory import TrajectoryWriter
from guiagent.agent.watch_mark import FolderTap
from guiagent.envs import Env, FrameTap, FrameTapping
from guiagent.envs.browser import BrowserEnv, SharedBrowser
from guiagent.envs.desktop import DesktopEnv
from guiagent.policies import Policy
from guiagent.policies.script import ScriptPolicy
from guiagent.policies.vlm import VLMConfig, VLMPolicy
from guiagent.tools.secrets import SecretError, Secrets, placeholders

SCRIPT_COPY = "script.yaml"
DEMO_STATE = "demo-state.json"
DESKTOP_STATE = "desktop-state.json"


class Assembly:
    """What start and resume share to assemble an episode in ``root`` around an open ExitStack: the approver, the
    demo site, the policy, the env and, once the writer is there, the episode itself, run guarded. Everything
    opened is closed with the stack."""

    def __init__(self, spec: RunSpec, root: Path, stack: ExitStack, signals: Signals, approver: Approver | None,
                 wait_approval: bool, on_step: StepCallback | None, tap: FrameTap | None = None) -> None:
        self.spec, self.root, self.stack, self.signals, self.on_step = spec, root, stack, signals, on_step
        self.tap = tap
        if approver is None and wait_approval and spec.approve and spec.approval_timeout_s > 0:
            approver = FolderApprover(root, spec.approval_timeout_s)
        self.approver = approver

    def demo_site(self, anywhere_if_taken: bool = False) -> DemoServer:
        """The bundled site on the spec's port (any free one if it has none, or, ``anywhere_if_taken``, if it is taken)."""
        spec = self.spec
        try:
            server = DemoServer(port=spec.demo_port or 0, state_path=self.root / DEMO_STATE, layout=spec.demo_layout)
        except OSError:
            if not anywhere_if_taken:
                raise
            server = DemoServer(port=0, state_path=self.root / DEMO_STATE, layout=spec.demo_layout)
        return self.stack.enter_context(server)

    def policy(self, built: tuple[Policy, dict] | None, site_url: str | None,
               wrap: Callable[[Policy], Policy] | None = None) -> tuple[Policy, dict]:
        """The caller's policy, or one built from the spec, with what it says of the task; ``wrap`` wraps it."""
        policy, from_policy = built or build_policy(self.spec, self.root, site_url)
        return (wrap(policy) if wrap is not None else policy), from_policy

    def safeguards(self, texts: list[str]) -> Safeguards:
        return safeguards(self.spec, texts, self.approver)

    def env(self, given: Env | None, shared: SharedBrowser | None) -> Env:
        """The caller's env, or one built from the spec; closed with the stack. Its frames also go to the tap (a
        live view in this process), else to the episode folder's live frame once a view of another process
        watches it (agent/watch_mark.py); stopped, and the live frame deleted, with the stack."""
        env = given or build_env(self.spec, self.root, shared)
        self.stack.callback(env.close)
        if isinstance(env, FrameTapping):
            tap = self.tap
            if tap is None:
                folder_tap = FolderTap(self.root).start()
                self.stack.callback(folder_tap.close)
                tap = folder_tap
            env.tap_frames(tap)
        return env

    def run(self, env: Env, policy: Policy, task: Task, writer: TrajectoryWriter, guards: Safeguards,
            go: Callable[[Episode], EpisodeResult], prepare: Callable[[Episode], None] | None = None) -> EpisodeResult:
        """The episode of these parts, run by ``go`` with interrupts turned into a recorded stop."""
        announce_waits(self.approver, writer)
        episode = Episode(env, policy, task, writer, self.spec.loop, on_step=self.on_step, safeguards=guards)
        self.stack.callback(episode.close)
        if prepare is not None:
            prepare(episode)
        return run_guarded(episode, writer, lambda: go(episode), self.signals)


def episode_vlm_config(spec: RunSpec) -> VLMConfig:
    """The model settings of an episode, on every path that builds one (run, resume, batch local and Ray, routed
    servers, page tasks): the dialect offered to the model (its vocabulary) follows the env the episode drives."""
    return (spec.policy_model or VLMConfig()).model_copy(update={"env": spec.env.kind})


def build_policy(spec: RunSpec, root: Path, site_url: str | None) -> tuple[Policy, dict]:
    """The spec's policy for an episode in ``root``, with what it says of the task (a script's task, start, checks)."""
    match spec.policy:
        case VLMPolicySpec():
            return VLMPolicy(episode_vlm_config(spec)), {}
        case ReplayPolicySpec() as replay:
            return replay_policy(replay, root, site_url)
        case OraclePolicySpec():
            raise ConfigError("an oracle policy reads a suite task's page: give the task with --suite FILE --task ID (or run a batch)")
        case ScriptPolicySpec() as given:
            return _script_policy(given, root)


def _script_policy(given: ScriptPolicySpec, root: Path) -> tuple[Policy, dict]:
    if given.script is None:
        raise ConfigError("--policy script needs --script FILE")
    script_path = Path(given.script)
    policy = ScriptPolicy.from_file(script_path, vlm=given.vlm, cache=given.cache, cache_mode=given.cache_mode)
    copy = root / SCRIPT_COPY
    if script_path.resolve() != copy.resolve():
        shutil.copyfile(script_path, copy)  # the trajectory carries its own script, for resume
    policy.source = str(copy)
    script = policy.script
    return policy, {"task": script.task, "start_url": script.start_url, "success": script.success,
                    "allow": script.allow, "block": script.block, "text": script_path.read_text()}


def safeguards(spec: RunSpec, texts: list[str], approver: Approver | None) -> Safeguards:
    """Load the run's secrets (from the environment or the secrets file) and its approval rules; a placeholder in
    ``texts`` that names no secret of the run is a ConfigError."""
    try:
        secrets = Secrets.load(spec.secrets, os.environ, spec.secrets_file) if spec.secrets else None
    except SecretError as exc:
        raise ConfigError(str(exc)) from None
    known = {s.name for s in spec.secrets}
    for text in texts:
        unknown = sorted(placeholders(text) - known)
        if unknown:
            raise ConfigError(f"{{{{{unknown[0]}}}}} is used but is not a secret of this run: pass --secret {unknown[0]}")
    return Safeguards(secrets=secrets, rules=list(spec.approve), approver=approver)


def build_env(spec: RunSpec, root: Path, shared: SharedBrowser | None = None) -> Env:
    """The spec's env; a browser keeps its downloads in ``root``, in ``shared``'s browser if one is given."""
    if isinstance(spec.env, DesktopEnvSpec):
        return DesktopEnv(spec.env)
    return BrowserEnv(spec.env.model_copy(update={"downloads_dir": str(root / "downloads")}), shared=shared)


def announce_waits(approver: Approver | None, writer: TrajectoryWriter) -> None:
    """While a waiting approver waits, meta.json says the episode is awaiting approval (and how to give it)."""
    if not isinstance(approver, FolderApprover):
        return

    def waiting(request: dict | None) -> None:
        if request is None:
            writer.update_meta(outcome=Outcome.RUNNING, reason=None, ended_by=None)
            return
        reason = (f"waiting up to {approver.timeout_s:g}s for approval of {describe_request(request)}: "
                  f"guiagent approve {writer.root} [--deny]")
        writer.update_meta(outcome=Outcome.AWAITING_APPROVAL, reason=reason, steps=writer.count, ended_by=EndedBy.APPROVAL)

    approver.on_wait = waiting
