"""A task whose page keeps its own score: the env reads it, the policy stops when the page says so.

``PageTaskEnv`` wraps a browser env: after the start page loads it runs the task's setup (seeding it),
reads the instruction from the page, and at every observation reads whether the page has ended the
episode and with what reward. ``EndWhenPageDone`` wraps any policy: once the page is done it ends the
episode (success when the reward is above the task's threshold) instead of asking the policy.
``PageOracle`` is a policy that plays the actions the task's oracle JavaScript reads from the page.

Page reads happen in ``observe`` (the thread that owns Playwright); the policies only read their result.
"""

from __future__ import annotations

from typing import Any

from guiagent.agent.outcome import CheckKind, Verdict
from guiagent.agent.suites.model import PageReward
from guiagent.envs import EnvError, EnvWrapper
from guiagent.envs.browser import BrowserEnv
from guiagent.policies import Decision, DecisionContext, DecisionSource, Policy, PolicyError
from guiagent.tools import ActionError, Check, Observation, Terminate, parse_action


class PageTaskEnv(EnvWrapper[BrowserEnv]):
    """A ``BrowserEnv`` plus the task's page hooks (setup, done, reward, oracle)."""

    def __init__(self, inner: BrowserEnv, hooks: PageReward, seed: int, oracle: str | None = None) -> None:
        super().__init__(inner)
        self.hooks, self.seed, self.oracle = hooks, seed, oracle
        self.instruction: str | None = None
        self.done = False
        self.reward: float | None = None
        self.info: dict[str, Any] = {}
        self.plan: list[dict[str, Any]] | None = None
        self._prepared: str | None = None

    def prepare(self, url: str, ready_timeout_s: float = 10.0) -> str | None:
        """Open the start page, run the setup, wait until the task is ready; returns the page's instruction."""
        self.inner.reset(url)
        if self.hooks.setup:
            self.inner.evaluate(self.hooks.setup.replace("{seed}", str(int(self.seed))))
        if self.hooks.ready:
            result = self.inner.check(Check(js=self.hooks.ready, timeout=ready_timeout_s))
            if not result.ok:
                raise EnvError(f"the task page did not get ready: {result.message}")
        self.instruction = str(self.inner.evaluate(self.hooks.instruction)) if self.hooks.instruction else None
        self._prepared = url
        return self.instruction

    def reset(self, url: str | None = None) -> None:
        if url is not None and url == self._prepared:
            self._prepared = None  # prepared for this episode already: loading again would lose the setup
            return
        if url is not None:
            self.prepare(url)
        else:
            self.inner.reset(None)

    def observe(self) -> Observation:
        obs = self.inner.observe()
        self.read_page()
        return obs

    def read_page(self) -> None:
        """Whether the page has ended the episode, its reward, and the oracle's plan (when there is one)."""
        self.done = bool(self.inner.evaluate(self.hooks.done))
        self.reward = float(self.inner.evaluate(self.hooks.reward) or 0.0) if self.done else 0.0
        if self.done and self.hooks.info:
            self.info = dict(self.inner.evaluate(self.hooks.info) or {})
        self.plan = None
        if self.oracle and not self.done:
            try:
                self.plan = list(self.inner.evaluate(self.oracle) or [])
            except EnvError:
                self.plan = None  # the oracle cannot read this page state: the policy says so

    @property
    def succeeded(self) -> bool:
        return self.done and self.reward is not None and self.reward > self.hooks.success_above

    def final_verdict(self) -> Verdict:
        """The page's verdict on the world as it is now (read again: the last action may have ended it)."""
        if self.inner.page is not None:
            self.read_page()
        reward = self.reward if self.reward is not None else 0.0
        saw = f"reward {reward:g}" + ("" if self.done else " (the page did not end the episode)")
        return Verdict(kind=CheckKind.REWARD, passed=self.succeeded, reward=reward, saw=saw,
                       check={"success_above": self.hooks.success_above, "seed": self.seed, "done": self.done, **self.info})

    def settings(self) -> dict[str, Any]:
        return {**self.inner.settings(), "page_task": {**self.hooks.model_dump(), "seed": self.seed}}

    def close(self) -> None:
        """Read the page's verdict one last time (the last action may have ended it), then close."""
        try:
            if self.inner.page is not None:
                self.read_page()
        except EnvError:
            pass  # the browser is gone: the last verdict read stands
        self.inner.close()


class EndWhenPageDone:
    """Asks ``inner`` for each step until the page has ended the episode; then terminates with its verdict."""

    def __init__(self, inner: Policy, env: PageTaskEnv) -> None:
        self.inner, self.env = inner, env
        self.kind = inner.kind

    def decide(self, context: DecisionContext) -> Decision:
        if self.env.done:
            status = "success" if self.env.succeeded else "failure"
            return Decision(
                actions=[Terminate(status=status, answer=f"reward {self.env.reward:g}")],
                label="the page ended the episode", thought=f"The page ended the episode with reward {self.env.reward:g}.",
                source=DecisionSource.PAGE,
            )
        return self.inner.decide(context)

    def settings(self) -> dict[str, Any]:
        return self.inner.settings()


class PageOracle:
    """Plays what the task's oracle reads from the page (the DOM, not the pixels)."""

    kind = "oracle"

    def __init__(self, env: PageTaskEnv) -> None:
        self.env = env

    def decide(self, context: DecisionContext) -> Decision:
        if self.env.plan is None:
            raise PolicyError("the oracle found nothing to do on this page")
        try:
            actions = [parse_action(a) for a in self.env.plan]
        except ActionError as exc:
            raise PolicyError(f"the oracle's plan is not a valid action: {exc}") from None
        return Decision(actions=actions, label="oracle", thought="Read from the page's DOM.", source=DecisionSource.ORACLE)

    def settings(self) -> dict[str, Any]:
        return {"kind": self.kind, "oracle": self.env.oracle}
