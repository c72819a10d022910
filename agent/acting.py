"""How a step's decision runs on the env: targets resolved, secrets filled in, actions executed in order (one after
a failed one skipped, none in a step a person denied), then the step's checks waited for. A policy that resolves
targets (a script) gets its cache's stale points grounded again once, and keeps what held."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from guiagent.agent.outcome import Fault, FaultKind
from guiagent.agent.safeguards import Safeguards, denied_results
from guiagent.agent.trajectory import CheckRecord
from guiagent.envs import Env, EnvError
from guiagent.policies import Decision, Policy, PolicyUnavailable, TargetResolver
from guiagent.tools import Action, ActionResult, CallUser, Observation
from guiagent.tools.targets import ResolvedTarget, TargetScreen


class StepFault(Exception):
    """The env (or the model server grounding a target) died during a step's actions or checks: what they recorded
    so far, the fault included; ``kind`` says which."""

    def __init__(self, error: Exception, results: list[ActionResult], checks: list[CheckRecord] | None = None,
                 kind: FaultKind = FaultKind.ENV) -> None:
        super().__init__(str(error))
        self.error, self.results, self.checks, self.kind = error, results, checks or [], kind


@dataclass
class Acted:
    """What a step did: the actions as they ran (targets resolved to points), their results, the checks, and the
    step's failure (a failed script action or check) if it failed."""

    actions: list[Action]
    results: list[ActionResult]
    checks: list[CheckRecord] = field(default_factory=list)
    resolved: list[ResolvedTarget] = field(default_factory=list)
    failure: str | None = None


def _env_fault(exc: EnvError) -> ActionResult:
    return ActionResult.failure(str(Fault(kind=FaultKind.ENV, message=str(exc))))


class Actor:
    """Runs decisions on ``env`` for ``policy``, with the episode's safeguards."""

    def __init__(self, env: Env, policy: Policy, guards: Safeguards) -> None:
        self.env, self.policy, self.guards = env, policy, guards

    def act(self, decision: Decision, where: str, observation: Observation | None,
            approval: dict[str, Any] | None = None) -> Acted:
        """Run ``decision`` (``where`` names its step in a failure; ``observation``: the frame it was decided on;
        ``approval``: a person's answer, if one was asked). Raises StepFault when the computer dies under it."""
        if approval is not None and not approval.get("approved"):
            # a step a person denied ran nothing: the denial is its result, nothing to check, the episode goes on
            return Acted(list(decision.actions), denied_results(list(decision.actions), approval))
        acted = self._run(decision, where, observation, regrounding=False)
        if acted.failure and any(r.source == "cache" for r in acted.resolved):
            # A cached point may be stale: ground once more on the screen as it is now, and redo the step.
            acted = self._run(decision, where, self.env.observe(), regrounding=True)
        if not acted.failure and acted.resolved and isinstance(self.policy, TargetResolver):
            self.policy.keep(acted.resolved)
        return acted

    def _run(self, decision: Decision, where: str, observation: Observation | None, regrounding: bool) -> Acted:
        acted = Acted(list(decision.actions), [])
        for i, action in enumerate(acted.actions):
            if acted.results and not acted.results[-1].ok:
                acted.results.append(ActionResult.failure("skipped: an earlier action of this step failed"))
                continue
            targets = decision.targets[i] if i < len(decision.targets) else {}
            if targets:
                try:
                    acted.actions[i], found, error = self._resolve(action, targets, observation, regrounding)
                except PolicyUnavailable as exc:  # the model grounding a describe target is gone: not the task
                    fault = ActionResult.failure(str(Fault(kind=FaultKind.MODEL_SERVER, message=str(exc))))
                    raise StepFault(exc, [*acted.results, fault], kind=FaultKind.MODEL_SERVER) from None
                acted.resolved += found
                if error is not None:
                    acted.results.append(ActionResult.failure(error))
                    continue
            if isinstance(action, CallUser):  # a request for a person, not for the computer: the loop answers it
                acted.results.append(ActionResult.success("asked a person for help"))
                continue
            try:
                filled = self.guards.fill(acted.actions[i], getattr(self.env, "url", None))  # secrets: only now, here
                acted.results.append(filled if isinstance(filled, ActionResult) else self.env.execute(filled))
            except EnvError as exc:  # recorded against the action it died under
                raise StepFault(exc, [*acted.results, _env_fault(exc)]) from None
        acted.checks, acted.failure = self._check(decision, where, acted.results)
        return acted

    def _resolve(self, action: Action, targets: dict[str, Any], observation: Observation | None,
                 regrounding: bool) -> tuple[Action, list[ResolvedTarget], str | None]:
        if not isinstance(self.policy, TargetResolver):
            return action, [], f"{action.action}: the {self.policy.kind} policy cannot resolve targets"
        if observation is None:
            return action, [], "internal: the observed frame is not in the buffer"
        screen = self.env if isinstance(self.env, TargetScreen) else None
        return self.policy.resolve_action(action, targets, observation, screen, regrounding)

    def _check(self, decision: Decision, where: str,
               results: list[ActionResult]) -> tuple[list[CheckRecord], str | None]:
        """The decision's checks, in order until one fails; the failure's reason, if the step failed."""
        checks: list[CheckRecord] = []
        failed_action = next((r for r in results if not r.ok), None)
        if failed_action is not None and (decision.checks or decision.must_succeed):
            return checks, f"{where}: {failed_action.message}"
        for check in decision.checks:
            written = check.model_dump(exclude_none=True)
            try:
                result = self.env.check(check)
            except EnvError as exc:
                raise StepFault(exc, results, [*checks, CheckRecord(check=written, result=_env_fault(exc))]) from None
            checks.append(CheckRecord(check=written, result=result))
            if not result.ok:
                return checks, f"{where}: {result.message}"
        return checks, None
