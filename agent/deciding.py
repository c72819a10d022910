"""A policy's decision under the loop's time limit, on the episode's own decision thread."""

from __future__ import annotations

import concurrent.futures

from guiagent.policies import Decision, DecisionContext, PlannedPolicy, Policy, PolicyUnavailable


class TimedDecider:
    """Asks ``policy`` to decide on one thread (a decision may block on a server) and gives up after ``timeout_s``."""

    def __init__(self, policy: Policy, timeout_s: float) -> None:
        self.policy, self.timeout_s = policy, timeout_s
        self._thread = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="decide")

    def decide(self, context: DecisionContext) -> Decision:
        """The policy's decision; PolicyUnavailable when none came within the limit."""
        future = self._thread.submit(self.policy.decide, context)
        try:
            return future.result(timeout=self.timeout_s)
        except concurrent.futures.TimeoutError:
            # the late decision still holds the thread; the episode ends here, so nothing waits behind it
            raise PolicyUnavailable(f"no decision within {self.timeout_s:g}s") from None

    def close(self) -> None:
        self._thread.shutdown(wait=False)


def shown_limit(policy: Policy, max_steps: int, step: int) -> int:
    """The step limit a person sees after step ``step``: a script's own length where it is lower than the loop's."""
    if isinstance(policy, PlannedPolicy):
        return max(min(max_steps, policy.planned_steps()), step + 1)
    return max_steps
