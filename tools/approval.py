"""Which actions need a person's approval: ``--approve RULE`` rules, matched against an action.

Rules: an action name (``navigate``, ``type``, ``terminate``, ``*`` for any), ``key:GLOB`` against the
key combination as written (``key:ctrl+*``), ``url:GLOB`` against the URL a ``navigate`` opens or the
page the action happens on (``url:*checkout*``), ``text:GLOB`` against what a ``type`` types. Globs
are case-insensitive (``fnmatch``).
"""

from __future__ import annotations

from fnmatch import fnmatchcase

from pydantic import BaseModel, ConfigDict, field_validator

from guiagent.tools.actions import ACTIONS_BY_NAME, Action

KINDS = ("key", "url", "text")


class ApprovalRule(BaseModel):
    model_config = ConfigDict(frozen=True)

    rule: str

    @field_validator("rule")
    @classmethod
    def _known(cls, v: str) -> str:
        v = v.strip()
        kind, sep, glob = v.partition(":")
        if sep:
            if kind not in KINDS or not glob:
                raise ValueError(f"approval rule {v!r}: expected an action name or key:GLOB, url:GLOB, text:GLOB")
        elif v != "*" and v not in ACTIONS_BY_NAME:
            raise ValueError(f"approval rule {v!r}: no action of that name (known: {', '.join(sorted(ACTIONS_BY_NAME))})")
        return v

    def matches(self, action: Action, page_url: str | None = None) -> bool:
        kind, sep, glob = self.rule.partition(":")
        if not sep:
            return kind == "*" or action.action == kind
        glob = glob.lower()
        if kind == "key":
            keys = getattr(action, "keys", None)
            return action.action == "key" and bool(keys) and fnmatchcase("+".join(keys).lower(), glob)
        if kind == "text":
            return action.action == "type" and fnmatchcase(getattr(action, "text", "").lower(), glob)
        urls = [getattr(action, "url", None), page_url]
        return any(u is not None and fnmatchcase(u.lower(), glob) for u in urls)


def first_match(rules: list[ApprovalRule], actions: list[Action], page_url: str | None) -> tuple[int, ApprovalRule] | None:
    """The first action (its index) that a rule guards, and the rule."""
    for i, action in enumerate(actions):
        for rule in rules:
            if rule.matches(action, page_url):
                return i, rule
    return None
