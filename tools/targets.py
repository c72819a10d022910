"""Script targets: where a pointer action lands, said by the page or in words instead of in pixels.

A target resolves to a point at execution time. ``selector`` (CSS), ``text`` and ``role`` (+ ``name``) are
found in the browser's DOM through Playwright locators; ``describe`` is grounded by the model on the
current screen (any env). A DOM target may also carry ``describe``: the model is asked when the page no
longer has the element. The step's own coordinate, when a script gives one beside the target, is the last
resort (``fallback``).
"""

from __future__ import annotations

from typing import Any, Literal, Protocol, runtime_checkable
from urllib.parse import urlparse

from pydantic import BaseModel, ConfigDict, Field, model_validator

from guiagent.tools.actions import Point

# Where a script writes the target of each point field of an action.
TARGET_KEYS: dict[str, str] = {"start_coordinate": "start_target", "coordinate": "target"}
DOM_LOCATORS = ("selector", "text", "role")

Source = Literal["dom", "cache", "model", "fallback"]


class TargetError(ValueError):
    """A target that cannot be resolved here; the message names the target and why."""


class Target(BaseModel):
    """Where to point: one DOM locator (``selector``, ``text`` or ``role``), ``describe``, or both."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    selector: str | None = Field(default=None, min_length=1, description="A CSS selector (Playwright's locator).")
    text: str | None = Field(default=None, min_length=1, description="Visible text of the element.")
    role: str | None = Field(default=None, min_length=1, description="An ARIA role: button, link, textbox, ...")
    name: str | None = Field(default=None, description="With role: the accessible name.")
    exact: bool = Field(default=False, description="text/name match whole and case-sensitively.")
    describe: str | None = Field(default=None, min_length=1, description="The element in words, grounded by the model.")
    timeout: float = Field(default=5.0, gt=0, le=600, description="Seconds to wait for the element to be visible.")
    fallback: Point | None = Field(default=None, description="The point to use when the target is not found.")

    @model_validator(mode="after")
    def _one_locator(self) -> Target:
        given = [k for k in DOM_LOCATORS if getattr(self, k) is not None]
        if len(given) > 1:
            raise ValueError(f"a target takes one of selector, text, role (got {', '.join(given)}); describe may join one")
        if not given and self.describe is None:
            raise ValueError("a target needs one of selector, text, role, describe")
        if self.name is not None and self.role is None:
            raise ValueError("name goes with role")
        return self

    @property
    def dom(self) -> bool:
        """Whether the target names a DOM element (browser only)."""
        return any(getattr(self, k) is not None for k in DOM_LOCATORS)

    def written(self) -> dict[str, Any]:
        """The target as a script writes it (defaults and the fallback left out)."""
        return self.model_dump(mode="json", exclude_defaults=True, exclude={"fallback"})

    def label(self) -> str:
        """A short name for messages: ``selector '#signin'``, ``role button 'Sign in'``."""
        if self.selector is not None:
            return f"selector {self.selector!r}"
        if self.text is not None:
            return f"text {self.text!r}"
        if self.role is not None:
            return f"role {self.role}" + (f" {self.name!r}" if self.name is not None else "")
        return f"describe {self.describe!r}"


class ElementInfo(BaseModel):
    """The DOM element at a point (or a located one): what a signature and a generated script need."""

    tag: str
    path: str = Field(description="CSS path from <html> (nth-of-type steps): where the element sits.")
    selector: str = Field(description="A selector unique in the page when found: #id, an attribute, else the path.")
    text: str = ""
    role: str | None = None
    name: str | None = None
    rect: tuple[float, float, float, float] = Field(description="x, y, width, height in CSS pixels of the viewport.")


class LocatedElement(BaseModel):
    """A DOM target found on the page: the point to act on (its visible centre) and the element."""

    point: Point
    element: ElementInfo


class ResolvedTarget(BaseModel):
    """One target of a step as it was resolved: recorded beside the pixel action that ran."""

    field: str
    target: dict[str, Any] = Field(description="As written in the script.")
    point: Point | None = None
    source: Source | None = Field(default=None, description="dom, cache (no model call), model or fallback.")
    healed: bool = Field(default=False, description="A cached point no longer matched and was grounded again.")
    reason: str | None = Field(default=None, description="Why the source is what it is (a miss, a changed signature).")
    element: ElementInfo | None = None
    signature: dict[str, Any] | None = Field(default=None, description="What a grounded point was checked against.")
    model_calls: int = 0
    usage: dict[str, int] | None = None
    error: str | None = None


@runtime_checkable
class TargetScreen(Protocol):
    """What an env offers for DOM targets (the browser): find an element, say what is at a point."""

    def locate(self, target: Target) -> LocatedElement:
        """The visible element's centre, scrolled into view, waiting up to ``target.timeout``; raises TargetError."""
        ...

    def element_at(self, point: tuple[float, float]) -> ElementInfo | None:
        """The element under a point of the viewport (CSS pixels), or None."""
        ...


def page_key(url: str | None) -> str | None:
    """A URL as a cache compares it: host, path and query, without the port (a local server moves)."""
    if not url:
        return None
    parts = urlparse(url)
    if not parts.scheme.startswith("http"):
        return url
    return f"{parts.hostname}{parts.path or '/'}" + (f"?{parts.query}" if parts.query else "")
