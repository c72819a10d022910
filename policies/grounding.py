"""Grounding a script's ``describe`` target: one request to the model with the current screen.

The model is asked, in its family's own form (the system prompt of a model step, no history, no video;
Qwen2.5-VL's computer_use tool call by default), to click the described element; its point is in the
family's coordinate space and goes back to the env's input space through the same ``ScreenMapping`` as
any model action. With
``constrained`` the answer is forced to one well-formed left_click (vLLM structured outputs).
"""

from __future__ import annotations

import concurrent.futures
from typing import Any

from pydantic import BaseModel, ConfigDict

from guiagent.policies.base import PolicyError
from guiagent.policies.dialect import Dialect
from guiagent.policies.prompts import build_messages
from guiagent.policies.vlm import VLMConfig, VLMPolicy
from guiagent.tools import CoordinateOutOfRange, Observation, ScreenMapping
from guiagent.tools.actions import Point
from guiagent.tools.parsing import ParseError

GROUNDING_TASK = "Click {describe}."


class GroundingError(RuntimeError):
    """The model gave no usable point; the message says what it answered."""


class Grounding(BaseModel):
    """Where the model placed a description: in the env's input space and in its own."""

    model_config = ConfigDict(frozen=True)

    point: Point
    model_point: Point
    mapping: ScreenMapping
    raw: str
    usage: dict[str, int]
    latency_s: float


class Grounder:
    """Grounds descriptions with the configured model (the same client and prompt code as the VLM policy)."""

    def __init__(self, config: VLMConfig) -> None:
        self.config = config
        self.vlm = VLMPolicy(config)
        # The desktop dialect whatever the env: a grounding request offers the trained tool and asks for one click.
        self.dialect = Dialect(config.profile, config.protocol, "desktop")
        # The caller runs on Playwright's thread: requests run here, so its event loop never waits on them.
        self._pool = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="grounding")

    def ground(self, describe: str, observation: Observation) -> Grounding:
        """The point the model gives for ``describe`` on this screen; GroundingError or PolicyError if none."""
        return self._pool.submit(self._ground, describe, observation).result()

    def request(self, describe: str, observation: Observation) -> tuple[list[dict[str, Any]], dict[str, Any], ScreenMapping]:
        """The chat messages, the extra request body and the mapping of one grounding request."""
        cfg = self.config
        family = cfg.profile
        try:
            mapping = family.mapping(observation.geometry, cfg.min_pixels, cfg.max_pixels)
        except ValueError as exc:
            raise PolicyError(f"cannot size the screenshot for the model: {exc}") from None
        w, h = mapping.resized_width, mapping.resized_height
        image = self.vlm.encoder.image_url(observation, w, h)
        media = [{"type": "text", "text": "\nThe screen now:\n"}, {"type": "image_url", "image_url": {"url": image}}]
        task = family.task_text(GROUNDING_TASK.format(describe=describe.strip().rstrip(".")))
        messages, extra = build_messages(cfg.protocol, self.dialect.system_prompt(mapping), task, [], media)
        body = {**family.request_extras, **extra}
        if cfg.constrained:
            # one left_click, no thought: the answer is a point and nothing else
            body["structured_outputs"] = {"regex": self.dialect.answer_regex(mapping, ["left_click"], thought=False)}
        return messages, body, mapping

    def _ground(self, describe: str, observation: Observation) -> Grounding:
        messages, body, mapping = self.request(describe, observation)
        stop = body.pop("stop", None)
        raw, usage, latency = self.vlm.complete(messages, body, stop)
        try:
            parsed = self.dialect.parse(raw)
        except ParseError as exc:
            raise GroundingError(f"the model's answer has no point: {exc}") from None
        model_point = next((a.points()["coordinate"] for a in parsed.actions if "coordinate" in a.points()), None)
        if model_point is None:
            raise GroundingError(f"the model's answer has no point: {raw.strip()[:200]!r}")
        try:
            point = mapping.model_to_input(model_point)
        except CoordinateOutOfRange as exc:
            raise GroundingError(f"the model's point is off the screen: {exc}") from None
        return Grounding(point=point, model_point=model_point, mapping=mapping, raw=raw, usage=usage, latency_s=latency)

    def close(self) -> None:
        self._pool.shutdown(wait=False)
