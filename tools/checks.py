"""Conditions a script step can wait for, and a task's success check."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, model_validator


class Check(BaseModel):
    """Wait (bounded) until every given condition holds.

    ``text``: visible text on the page; ``url``: a regular expression the URL must match
    (``re.search``); ``selector``: a CSS selector present in the page; ``js``: a JavaScript
    expression that must become truthy. ``window``: a regular expression for the active window's
    title (desktop).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    text: str | None = None
    url: str | None = None
    selector: str | None = None
    js: str | None = None
    window: str | None = None
    timeout: float = Field(default=5.0, gt=0, le=600, description="Seconds to wait for the conditions.")

    @model_validator(mode="after")
    def _at_least_one(self) -> Check:
        if not any((self.text, self.url, self.selector, self.js, self.window)):
            raise ValueError("a check needs at least one of text, url, selector, js, window")
        return self

    def describe(self) -> str:
        parts = [f"{k} {v!r}" for k, v in self.model_dump(exclude_none=True, exclude={"timeout"}).items()]
        return " and ".join(parts)
