"""A conformance check every env passes, in the manner of gymnasium's ``check_env``: what the loop relies on of an
Env, checked on a live one. ``check_env(env, start)`` returns nothing, or raises ``EnvNonconformance`` listing every
way ``env`` breaks the protocol (the checks go on after the first finding, so one run shows them all)."""

from __future__ import annotations

import io
import json
import time
from collections.abc import Callable

from PIL import Image

from guiagent.envs.base import Env, EnvError, FrameSource
from guiagent.tools import ActionResult, Check, Observation, Wait

# A frame's time is the absolute wall-clock time of its capture: within this of the call that returned it (a frame
# from a screencast may have been painted a little before the observe that hands it over).
STAMP_SLACK_S = 60.0


class EnvNonconformance(AssertionError):
    """The env breaks the Env protocol; ``findings`` says how, one sentence each."""

    def __init__(self, env: object, findings: list[str]) -> None:
        super().__init__(f"{type(env).__name__} does not conform to the Env protocol: " + "; ".join(findings))
        self.findings = findings


def _impossible(kind: str) -> Check:
    """A check that cannot hold on a fresh env of ``kind``."""
    name = "no such thing 7f3a9c"
    return Check(text=name, timeout=0.5) if kind == "browser" else Check(window=name, timeout=0.5)


def _frame_problems(obs: object, before: float, after: float, where: str) -> list[str]:
    if not isinstance(obs, Observation):
        return [f"{where}: observe() returned {type(obs).__name__}, not an Observation"]
    found = []
    try:
        with Image.open(io.BytesIO(obs.image)) as image:
            size, fmt = image.size, (image.format or "").lower()
    except Exception as exc:  # any decoder error: the bytes are not an image
        return [f"{where}: the frame is not a decodable image ({type(exc).__name__}: {exc})"]
    g = obs.geometry
    if size != (g.width, g.height):
        found.append(f"{where}: the frame is {size[0]}x{size[1]} but its geometry says {g.width}x{g.height}")
    if fmt != {"jpg": "jpeg"}.get(obs.image_format, obs.image_format):
        found.append(f"{where}: the frame is {fmt or 'an unknown format'} but image_format says {obs.image_format}")
    if not before - STAMP_SLACK_S <= obs.t <= after + 1:
        found.append(f"{where}: the frame's time {obs.t:.3f} is not the absolute time of its capture "
                     f"(the call ran from {before:.3f} to {after:.3f})")
    return found


def _observe(env: Env, where: str, findings: list[str]) -> Observation | None:
    before = time.time()
    try:
        obs = env.observe()
    except Exception as exc:
        findings.append(f"{where}: observe() raised {type(exc).__name__}: {exc}")
        return None
    problems = _frame_problems(obs, before, time.time(), where)
    findings += problems
    return obs if isinstance(obs, Observation) else None


def _result(call: Callable[[], object], what: str, findings: list[str]) -> ActionResult | None:
    try:
        result = call()
    except Exception as exc:
        findings.append(f"{what} raised {type(exc).__name__}: {exc} (failures come back as an ActionResult)")
        return None
    if not isinstance(result, ActionResult):
        findings.append(f"{what} returned {type(result).__name__}, not an ActionResult")
        return None
    return result


def check_env(env: Env, start: str | None = None) -> None:
    """Check ``env`` (not yet reset; it is closed at the end) against the Env protocol: reset, observe (a decodable
    frame whose size is its geometry's, stamped with absolute time, times that never go back), execute and check
    (failures as results, never exceptions), settings (JSON that rebuilds it), the frames of a FrameSource, and
    close (twice is safe; an observe after it is an EnvError)."""
    findings: list[str] = []
    if not isinstance(env, Env):
        raise EnvNonconformance(env, ["it lacks a method or the kind attribute of the Env protocol"])
    if not isinstance(getattr(env, "kind", None), str):
        findings.append("its kind is not a string")
    try:
        env.reset(start)
    except Exception as exc:
        raise EnvNonconformance(env, [f"reset({start!r}) raised {type(exc).__name__}: {exc}"]) from exc
    try:
        first = _observe(env, "the first observe", findings)
        second = _observe(env, "a second observe", findings)
        if first is not None and second is not None and second.t < first.t:
            findings.append(f"a later observe is stamped earlier ({second.t:.3f} < {first.t:.3f})")
        waited = _result(lambda: env.execute(Wait(time=0)), "execute(wait 0s)", findings)
        if waited is not None and not waited.ok:
            findings.append(f"execute(wait 0s) failed: {waited.message}")
        impossible = _impossible(env.kind)
        held = _result(lambda: env.check(impossible), f"check({impossible.describe()})", findings)
        if held is not None and held.ok:
            findings.append(f"check({impossible.describe()}) says it holds on a fresh env (a check that cannot fail)")
        if held is not None and not held.ok and not held.message:
            findings.append("a failed check says nothing of why")
        try:
            settings = env.settings()
            if not isinstance(settings, dict) or settings.get("kind") != env.kind:
                findings.append("settings() is not a dict that names the env's kind")
            json.dumps(settings)
        except Exception as exc:
            findings.append(f"settings() is not JSON ({type(exc).__name__}: {exc})")
        if isinstance(env, FrameSource):
            frames = env.drain_frames()
            if not all(isinstance(f, Observation) for f in frames):
                findings.append("drain_frames() returned something other than Observations")
            elif any(b.t < a.t for a, b in zip(frames, frames[1:], strict=False)):
                findings.append("drain_frames() returned frames out of time order")
    finally:
        try:
            env.close()
            env.close()
        except Exception as exc:
            findings.append(f"close() twice raised {type(exc).__name__}: {exc}")
    try:
        env.observe()
        findings.append("observe() after close() returned a frame instead of raising EnvError")
    except EnvError:
        pass
    except Exception as exc:
        findings.append(f"observe() after close() raised {type(exc).__name__}, not EnvError")
    if findings:
        raise EnvNonconformance(env, findings)
