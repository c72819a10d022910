"""What stands between the model's decision and the computer: secrets filled in only at execution (and
redacted from every record), and a person's approval of guarded actions (a LangGraph ``interrupt``)."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from guiagent.agent.outputs import OutputError
from guiagent.tools import Action, ActionResult
from guiagent.tools.approval import ApprovalRule, first_match
from guiagent.tools.secrets import SecretError, Secrets

# The answer to an approval request: {"approved": bool, "note": str | None}.
Approver = Callable[[dict[str, Any]], dict[str, Any]]


class ApprovalTimeout(Exception):
    """No answer came in time: the episode stops awaiting approval (checkpointed), as with no approver."""


@dataclass
class Safeguards:
    """Secrets and approval rules of one episode; ``approver`` answers requests at once (a terminal),
    else the episode stops awaiting approval."""

    secrets: Secrets | None = None
    rules: list[ApprovalRule] = field(default_factory=list)
    approver: Approver | None = None

    def fill(self, action: Action, page_url: str | None) -> Action | ActionResult:
        """``action`` with its secrets' values in (only now, only for the env), or why it may not run."""
        if not self.secrets:
            return action
        update = {}
        try:
            for name, value in action:
                if isinstance(value, str) and "{{" in value:
                    update[name] = self.secrets.fill(value, page_url)
        except SecretError as exc:
            return ActionResult.failure(str(exc))
        return action.model_copy(update=update) if update else action

    def redact(self, obj: Any) -> Any:
        return self.secrets.redact_obj(obj) if self.secrets else obj

    def request(self, actions: list[Action], page_url: str | None) -> dict[str, Any] | None:
        """What to ask a person before these actions, if a rule guards one."""
        match = first_match(self.rules, actions, page_url)
        if match is None:
            return None
        index, rule = match
        return {"index": index, "rule": rule.rule, "action": actions[index].model_dump(mode="json", exclude_none=True),
                "url": page_url}


def denied_results(actions: list[Action], approval: dict[str, Any]) -> list[ActionResult]:
    """What the model is told of a step a person refused."""
    note = f": {approval['note']}" if approval.get("note") else ""
    out = []
    for i, _ in enumerate(actions):
        if i == approval["index"]:
            out.append(ActionResult.failure(f"denied by a person (approval rule {approval['rule']}){note}"))
        else:
            out.append(ActionResult.failure("skipped: a person denied an action of this step"))
    return out


def describe_request(request: dict[str, Any]) -> str:
    action = dict(request["action"])
    name = action.pop("action")
    args = " ".join(f"{k}={v!r}" for k, v in action.items())
    return f"step {request['step'] + 1}: {name} {args}".rstrip() + f" (rule {request['rule']})"


def terminal_approver() -> Approver | None:
    """Asks y/n on the terminal, or None when there is no terminal to ask on."""
    if not (sys.stdin.isatty() and sys.stdout.isatty()) or os.environ.get("CI"):
        return None

    def ask(request: dict[str, Any]) -> dict[str, Any]:
        print(f"approval needed: {describe_request(request)}\n  frame: {request['frame']}", flush=True)
        answer = input("  approve? [y/N] ").strip().lower()
        note = None if answer in ("y", "yes") else (input("  note for the model (optional): ").strip() or None)
        return {"approved": answer in ("y", "yes"), "note": note}

    return ask


@contextmanager
def owner_only(folder: Path, share: bool) -> Iterator[None]:
    """Folders and files made inside are the owner's only (0700, 0600), unless ``share``: then the umask
    decides. The umask is the process's, so it is restored on the way out; a folder that existed
    already keeps its mode. A folder that cannot be made is an OutputError."""
    if share:
        _make(folder)
        yield
        return
    previous = os.umask(0o077)
    try:
        _make(folder)
        yield
    finally:
        os.umask(previous)


def _make(folder: Path) -> None:
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"cannot create the folder {folder}: {exc.strerror}") from None
