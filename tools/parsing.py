"""Parsers from model text to typed actions, one per protocol, both to the same actions.

- ``tool-call``: Qwen2.5-VL's ``<tool_call>{"name": "computer_use", "arguments": {...}}</tool_call>``
  (Qwen-Agent's nous prompt); several calls per answer; the text before the first call is the thought.
- ``function-result-return``: Qwen-Agent's qwen prompt, ``✿FUNCTION✿: computer_use`` then
  ``✿ARGS✿: {...}``; the text before the first FUNCTION is the thought.

Both tolerate whitespace, code fences, trailing text after the JSON, and numbers written as strings
or floats. Anything else raises ParseError with a message that says what was wrong; the loop feeds
that message back to the model as the call's result.
"""

from __future__ import annotations

import json
import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from guiagent.tools.actions import Action, ActionError, parse_action
from guiagent.tools.schema import TOOL_NAME

Protocol = Literal["tool-call", "function-result-return"]

FN_NAME, FN_ARGS, FN_RESULT, FN_EXIT = "✿FUNCTION✿", "✿ARGS✿", "✿RESULT✿", "✿RETURN✿"
FN_STOP_WORDS = [FN_RESULT, FN_EXIT]

_TOOL_CALL = re.compile(r"<tool_call>(.*?)(?:</tool_call>|\Z)", re.DOTALL)
_FENCE = re.compile(r"^```[a-zA-Z0-9_-]*\s*\n?(.*?)\n?```\s*$", re.DOTALL)
_FENCED_JSON = re.compile(r"```(?:json)?\s*(\{.*?\})\s*```", re.DOTALL)


class ParseError(ValueError):
    """A model answer that does not make a valid call; the message says why."""


class ParsedAnswer(BaseModel):
    """What a model answer means: its thought and its actions, in model space."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    thought: str = ""
    actions: list[Action] = Field(default_factory=list)


def _strip_fence(text: str) -> str:
    text = text.strip()
    m = _FENCE.match(text)
    return m.group(1).strip() if m else text


def _load_object(text: str, what: str) -> dict[str, Any]:
    """The first JSON object in ``text`` (anything after it is ignored)."""
    text = _strip_fence(text)
    start = text.find("{")
    if start < 0:
        raise ParseError(f"{what}: no JSON object found in {text[:80]!r}")
    try:
        value, _ = json.JSONDecoder().raw_decode(text[start:])
    except json.JSONDecodeError as exc:
        raise ParseError(f"{what}: invalid JSON ({exc.msg} at character {exc.pos}) in {text[start:start + 80]!r}") from None
    if not isinstance(value, dict):
        raise ParseError(f"{what}: expected a JSON object, got {type(value).__name__}")
    return value


def _action_from_arguments(arguments: Any, what: str) -> Action:
    if isinstance(arguments, str):  # some servers and models double-encode the arguments
        arguments = _load_object(arguments, what)
    if not isinstance(arguments, dict):
        raise ParseError(f"{what}: arguments must be a JSON object, got {arguments!r}")
    try:
        return parse_action(arguments)
    except ActionError as exc:
        raise ParseError(f"{what}: {exc}") from None


def _call_to_action(call: dict[str, Any], what: str) -> Action:
    name = call.get("name")
    if name != TOOL_NAME:
        raise ParseError(f"{what}: unknown function {name!r} (the only tool is {TOOL_NAME!r})")
    if "arguments" not in call:
        raise ParseError(f"{what}: no \"arguments\"")
    return _action_from_arguments(call["arguments"], what)


def parse_tool_calls(text: str) -> ParsedAnswer:
    """Parse a ``tool-call`` answer."""
    if not text or not text.strip():
        raise ParseError("empty answer: expected a <tool_call>")
    blocks = _TOOL_CALL.findall(text)
    if blocks:
        thought = text[: text.find("<tool_call>")]
    else:
        fenced = _FENCED_JSON.findall(text)  # a call without its tags, in a code fence
        if not fenced:
            raise ParseError("no <tool_call> found: answer with <tool_call>{\"name\": \"computer_use\", \"arguments\": {...}}</tool_call>")
        blocks = fenced
        thought = text[: text.find("```")]
    actions = []
    for i, block in enumerate(blocks, 1):
        what = f"tool call {i}" if len(blocks) > 1 else "tool call"
        actions.append(_call_to_action(_load_object(block, what), what))
    return ParsedAnswer(thought=thought.strip(), actions=actions)


def parse_function_calls(text: str) -> ParsedAnswer:
    """Parse a ``function-result-return`` answer (the continuation after ``✿RETURN✿``)."""
    if not text or not text.strip():
        raise ParseError(f"empty answer: expected {FN_NAME}: {TOOL_NAME} and {FN_ARGS}: {{...}}")
    text = text.lstrip()
    if text.startswith(":"):  # the model continues "✿RETURN✿" with ": "
        text = text[1:]
    first = text.find(f"{FN_NAME}")
    if first < 0:
        raise ParseError(
            f"no {FN_NAME} call found: call {TOOL_NAME} (with action=terminate to finish); got {text.strip()[:80]!r}"
        )
    thought = text[:first]
    actions = []
    chunks = text[first:].split(FN_NAME)[1:]
    for i, chunk in enumerate(chunks, 1):
        what = f"function call {i}" if len(chunks) > 1 else "function call"
        chunk = re.split(f"{FN_RESULT}|{FN_EXIT}", chunk)[0]
        if FN_ARGS not in chunk:
            raise ParseError(f"{what}: {FN_NAME} without {FN_ARGS}")
        name_part, args_part = chunk.split(FN_ARGS, 1)
        name = name_part.strip().lstrip(":").strip()
        if name != TOOL_NAME:
            raise ParseError(f"{what}: unknown function {name!r} (the only tool is {TOOL_NAME!r})")
        actions.append(_action_from_arguments(_load_object(args_part.lstrip().lstrip(":"), what), what))
    return ParsedAnswer(thought=thought.strip(), actions=actions)


def parse_answer(text: str, protocol: Protocol) -> ParsedAnswer:
    return parse_tool_calls(text) if protocol == "tool-call" else parse_function_calls(text)


def format_tool_call(action: Action) -> str:
    """An action as the model writes it under the ``tool-call`` protocol."""
    call = {"name": TOOL_NAME, "arguments": action.to_call()}
    return f"<tool_call>\n{json.dumps(call, ensure_ascii=False)}\n</tool_call>"


def format_function_call(action: Action) -> str:
    """An action as the model writes it under the ``function-result-return`` protocol."""
    return f"{FN_NAME}: {TOOL_NAME}\n{FN_ARGS}: {json.dumps(action.to_call(), ensure_ascii=False)}"
