"""What every model family profile says, with Qwen2.5-VL's answers as the defaults.

A profile decides: the size the screenshot is sent at (and so its visual tokens), the coordinate
space of the model's points, the prompt, the output forms it writes and how they parse to our typed
actions (in model space; ``tools.geometry`` maps them to the screen), how it takes video, and the
``vllm serve`` line that matches it. Each family's module cites where its facts come from.
"""

from __future__ import annotations

import re
from typing import Any, ClassVar, Literal

from guiagent.policies.base import StepSummary
from guiagent.policies.constrained import answer_regex as qwen_answer_regex
from guiagent.policies.prompts import assistant_turn, build_messages
from guiagent.policies.prompts import system_prompt as qwen_system_prompt
from guiagent.tools import Action, FrameGeometry, LeftClick, ScreenMapping
from guiagent.tools.actions import EnvKind, Vocabulary
from guiagent.tools.geometry import IMAGE_FACTOR, MAX_PIXELS, MIN_PIXELS, CoordinateSpace
from guiagent.tools.parsing import (
    FN_ARGS,
    FN_NAME,
    ParsedAnswer,
    ParseError,
    Protocol,
    format_function_call,
    format_tool_call,
    parse_answer,
)
from guiagent.tools.schema import TOOL_NAME

VideoMode = Literal["absolute-time", "frame-order", "none"]
"""``absolute-time``: temporal position ids follow the fps we send; ``frame-order``: they count frames
only (the prompt's text carries the times); ``none``: the family takes no video."""

WHEEL_CLICK_PIXELS = 100  # one pyautogui/wheel "click" as our Scroll's pixels
OFF_SCREEN = {"off-screen": "A point outside the image the model was shown is a format error that goes back to the "
                            "model; the authors' code clicks there (off the screen, or clamped to its edge)."}


class ModelFamily:
    """A model family's profile. Subclasses override what differs from Qwen2.5-VL."""

    name: ClassVar[str] = "qwen2.5-vl"
    summary: ClassVar[str] = ""
    space: ClassVar[CoordinateSpace] = "resized-pixels"
    factor: ClassVar[int] = IMAGE_FACTOR  # the resize's multiple (patch size x merge size)
    min_pixels: ClassVar[int] = MIN_PIXELS
    max_pixels: ClassVar[int] = MAX_PIXELS
    video: ClassVar[VideoMode] = "absolute-time"
    video_note: ClassVar[str] = ""  # how the README states its video handling, where the mode alone does not
    protocols: ClassVar[tuple[Protocol, ...]] = ("tool-call", "function-result-return")
    vocabulary: ClassVar[Vocabulary] = "qwen2.5-vl"  # whose computer_use tool it is offered (its own, or Qwen2.5-VL's)
    forms: ClassVar[str] = "computer_use <tool_call>; ✿FUNCTION✿/✿ARGS✿"
    resize_rule: ClassVar[str] = "smart_resize, factor 28"
    serve: ClassVar[str] = ""
    # Regular expressions over the served model's id and its config's architectures / model_type.
    ids: ClassVar[tuple[str, ...]] = ()
    architectures: ClassVar[tuple[str, ...]] = ()
    request_extras: ClassVar[dict[str, Any]] = {}
    keeps_drag_start: ClassVar[bool] = False  # its answer form states where a drag starts (else: move there first)
    # Earlier steps' screenshots its trained prompt shows (UI-TARS, OpenCUA): at most this many, the window
    # moving ``history_image_block`` steps at a time (families.history.shown_steps).
    history_images: ClassVar[int] = 0
    history_image_block: ClassVar[int] = 2
    # The authors' parser (a package, at its version) or repository rules our parser and labels were checked
    # against on generated answers (tests/agreement; bench/agreement.py prints the table).
    checked_against: ClassVar[str] = ("qwen-agent 0.0.34 (NousFnCallPrompt / QwenFnCallPrompt, BaseTool "
                                      "arguments) + the computer_use cookbook's actions")
    # Where we differ from the authors' code on purpose: id -> the reason. The agreement test asserts each
    # difference it meets is one of these, of the shape stated, and that each one is met.
    deliberate: ClassVar[dict[str, str]] = {
        **OFF_SCREEN,
        "surrogate-pair": "Qwen-Agent reads a <tool_call> with json5, which decodes an escaped surrogate pair "
                          "(\\ud83d\\ude42, how json.dumps writes an emoji with ensure_ascii) into two lone "
                          "surrogates that cannot be typed: we decode it as JSON does, to the character.",
    }

    # -- seeing -------------------------------------------------------------------------------

    def mapping(self, geometry: FrameGeometry, min_pixels: int | None = None, max_pixels: int | None = None) -> ScreenMapping:
        """The size the screenshot is sent at, and the model's coordinate space over it."""
        return geometry.for_model(min_pixels or self.min_pixels, max_pixels or self.max_pixels, self.factor, self.space)

    def image_tokens(self, mapping: ScreenMapping) -> int:
        """Visual tokens of the screenshot at ``mapping``'s size (with the vision start/end markers)."""
        return (mapping.resized_height // self.factor) * (mapping.resized_width // self.factor) + 2

    def screen_size(self, mapping: ScreenMapping) -> tuple[int, int]:
        """The screen size the prompt states: the model's coordinate extent."""
        return mapping.model_width, mapping.model_height

    # -- prompting ------------------------------------------------------------------------------

    def video_tokens(self, frames: int, height: int, width: int) -> int:
        """Visual tokens of a clip of ``frames`` (even) frames at ``height`` x ``width`` (plus start/end)."""
        return (frames // 2) * (height // self.factor) * (width // self.factor) + 2

    def video_texts(self, frames: int, fps: float) -> list[str]:
        """Text the server's processor writes inside a clip's placeholder (Qwen3-VL's timestamps): its
        tokens count with the clip's, by the server's tokenizer."""
        return []

    def clip_intro(self, t0: str, t_end: str, frames: int, fps: float) -> str:
        """The text before the clip: when it was taken (``t0``, ``t_end`` as the prompt's clock writes them)."""
        return (f"\nThe screen from {t0} to {t_end}: {frames} frames at {fps:g} fps, frame k taken at "
                f"{t0} + k/{fps:g} s.\n")

    def system_prompt(self, protocol: Protocol, mapping: ScreenMapping, env: EnvKind) -> str:
        """The system message; ``env`` picks the computer_use actions offered (``offered_actions``)."""
        return qwen_system_prompt(protocol, *self.screen_size(mapping), env, self.vocabulary)

    def task_text(self, task: str) -> str:
        """The task as the first user turn states it (a family's trained instruction template)."""
        return task

    def assistant_text(self, step: StepSummary) -> str:
        """An earlier step as the model would have written it (history turns; an unparsed answer cut short)."""
        return assistant_turn(step)

    def messages(self, protocol: Protocol, system: str, task: str, history: list[StepSummary],
                 media: list[dict[str, Any]], past: dict[int, dict[str, Any]]) -> tuple[list[dict[str, Any]], dict[str, Any]]:
        """The chat messages (and extra request fields) in the family's trained turn structure. ``media``:
        the current observation's parts; ``past``: image parts of the earlier steps shown, by position in
        ``history`` (only for a family with ``history_images``)."""
        return build_messages(protocol, system, task, history, media, self.assistant_text)

    # -- answering ------------------------------------------------------------------------------

    def parse(self, text: str, protocol: Protocol, env: EnvKind) -> ParsedAnswer:
        """The model's answer as typed actions in model space, or ParseError saying what is wrong."""
        return parse_answer(text, protocol, env, self.vocabulary)

    def format_answer(self, actions: list[Action], thought: str, protocol: Protocol, env: EnvKind) -> str:
        """Actions (model space) written as this family answers in an ``env`` episode: training labels."""
        fmt = format_tool_call if protocol == "tool-call" else format_function_call
        calls = "\n".join(fmt(a, env, self.vocabulary) for a in actions)
        return f"{thought}\n{calls}" if thought else calls

    def answer_regex(self, protocol: Protocol, mapping: ScreenMapping, actions: list[str] | None,
                     thought: bool, env: EnvKind) -> str:
        """A regex of well-formed answers for constrained decoding, points bounded to the space."""
        return qwen_answer_regex(protocol, mapping.model_width, mapping.model_height, actions, thought, env=env,
                                 vocabulary=self.vocabulary)

    def serve_line(self, model: str | None = None) -> str:
        return self.serve


# -- helpers the families share -------------------------------------------------------------------

_NUMBER = r"-?\d+(?:\.\d+)?"


def point_of(numbers: list[float], what: str) -> tuple[float, float]:
    """A point from 2 numbers, or a box's centre from 4 (x1, y1, x2, y2)."""
    if len(numbers) == 2:
        return numbers[0], numbers[1]
    if len(numbers) == 4:
        return (numbers[0] + numbers[2]) / 2, (numbers[1] + numbers[3]) / 2
    raise ParseError(f"{what}: expected a point (x, y) or a box (x1, y1, x2, y2), got {len(numbers)} numbers")


def numbers_in(text: str) -> list[float]:
    return [float(n) for n in re.findall(_NUMBER, text)]


def box_click(text: str, pattern: re.Pattern[str], what: str) -> ParsedAnswer | None:
    """A grounding answer (a box or a point in ``pattern``'s group "coords") as a click at its centre."""
    m = pattern.search(text)
    if m is None:
        return None
    x, y = point_of(numbers_in(m.group("coords")), what)
    if x < 0 or y < 0:
        raise ParseError(f"{what}: negative coordinate ({x:g}, {y:g})")
    thought = text[: m.start()].strip()
    return ParsedAnswer(thought=thought, actions=[LeftClick(coordinate=(x, y))])


def tool_or_box(text: str, protocol: Protocol, pattern: re.Pattern[str], what: str,
                env: EnvKind, vocabulary: Vocabulary) -> ParsedAnswer:
    """The computer_use tool call (as offered in an ``env`` episode, in ``vocabulary``) if the answer has one, else a
    grounding box answered as a click."""
    marker = "<tool_call>" if protocol == "tool-call" else FN_NAME
    if marker in text or "```" in text:
        return parse_answer(text, protocol, env, vocabulary)
    found = box_click(text, pattern, what)
    if found is not None:
        return found
    return parse_answer(text, protocol, env, vocabulary)  # raises the protocol's own clear ParseError


__all__ = ["FN_ARGS", "OFF_SCREEN", "TOOL_NAME", "ModelFamily", "VideoMode", "WHEEL_CLICK_PIXELS", "box_click", "numbers_in",
           "point_of", "tool_or_box"]
