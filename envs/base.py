"""The Env protocol: a computer to observe and act on."""

from __future__ import annotations

from typing import Any, Generic, Protocol, Self, TypeVar, runtime_checkable

from guiagent.tools import Action, ActionResult, Check, Observation


class EnvError(RuntimeError):
    """The env itself broke (browser crashed, X server gone): the episode cannot go on."""


@runtime_checkable
class Env(Protocol):
    """A computer the loop can drive. Implementations: ``BrowserEnv``, ``DesktopEnv``."""

    kind: str

    def reset(self, url: str | None = None) -> None:
        """Start (or restart) the computer; a browser opens ``url``."""
        ...

    def observe(self) -> Observation:
        """The current frame at native resolution with its absolute time and geometry."""
        ...

    def execute(self, action: Action) -> ActionResult:
        """Run one action given in input-space coordinates; failures come back as a result."""
        ...

    def check(self, check: Check) -> ActionResult:
        """Wait (bounded) for a condition; ok is False with the reason when it does not hold."""
        ...

    def settings(self) -> dict[str, Any]:
        """What is needed to build the same env again (recorded in meta.json)."""
        ...

    def close(self) -> None:
        """Release everything; safe to call twice."""
        ...


class ClosingEnv:
    """Makes an env a context manager: ``with BrowserEnv() as env: ...`` closes it on the way out."""

    def close(self) -> None:  # pragma: no cover - every env defines its own
        raise NotImplementedError

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


@runtime_checkable
class FrameSource(Protocol):
    """An env that also keeps the frames shown between observations (a screencast, a background sampler)."""

    def drain_frames(self) -> list[Observation]:
        """Frames since the last call, oldest first, each stamped with the absolute time it was painted."""
        ...


class FrameTap(Protocol):
    """Where an env's frames also go as they arrive (a live view's screen): only while someone is ``watching``."""

    @property
    def watching(self) -> bool:
        """Whether anyone looks now: frames are neither decoded nor grabbed for the tap otherwise."""
        ...

    def offer(self, frame: Observation) -> None:
        """A frame as the runtime took it (encoded once, by whoever took it); called on the env's thread."""
        ...


@runtime_checkable
class FrameTapping(Protocol):
    """An env that can hand its frames to a ``FrameTap`` as they arrive (its screencast's or sampler's)."""

    def tap_frames(self, tap: FrameTap) -> bool:
        """Hand frames to ``tap`` from ``reset`` on; False where this env takes no frames between observations."""
        ...


E = TypeVar("E", bound="Env")


class EnvWrapper(Generic[E]):
    """An env that passes every call to ``inner``; a subclass overrides what it adds (as gymnasium's Wrapper)."""

    def __init__(self, inner: E) -> None:
        self.inner = inner
        self.kind = inner.kind

    def reset(self, url: str | None = None) -> None:
        self.inner.reset(url)

    def observe(self) -> Observation:
        return self.inner.observe()

    def execute(self, action: Action) -> ActionResult:
        return self.inner.execute(action)

    def check(self, check: Check) -> ActionResult:
        return self.inner.check(check)

    def drain_frames(self) -> list[Observation]:
        return self.inner.drain_frames() if isinstance(self.inner, FrameSource) else []

    def tap_frames(self, tap: FrameTap) -> bool:
        return self.inner.tap_frames(tap) if isinstance(self.inner, FrameTapping) else False

    def settings(self) -> dict[str, Any]:
        return self.inner.settings()

    def close(self) -> None:
        self.inner.close()
