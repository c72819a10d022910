"""Parsers from model text to typed actions, one per protocol, both to the same actions.

- ``tool-call``: Qwen2.5-VL's ``<tool_call>{"name": "computer_use", "arguments": {...}}</tool_call>``
  (Qwen-Agent's nous prompt); several calls per answer; the text before the first call is the thought.
- ``function-result-return``: Qwen-Agent's qwen prompt, ``✿FUNCTION✿: computer_use`` then
  ``✿ARGS✿: {...}``; the text before the first FUNCTION is the thought.

Both tolerate whitespace, code fences, trailing text after the JSON, and numbers written as strings
or floats. They accept exactly the actions and parameters the tool schema offers the model
(``tools.actions.parse_model_action``). Anything else raises ParseError with a message that says what
was wrong; the loop feeds that message back to the model as the call's result.

The model's text is outside input: each parser is a pure function whose time is linear in the
answer's length (no backtracking regex), and everything that enters is bounded here: the answer's
length and the number of calls; the JSON by the decoder's own limits; the actions bound their own
fields (tools.actions). An answer that is not valid text (a lone surrogate) is refused whole.
A parser for another output form reuses ``check_answer``, ``load_json_object`` and
``tools.actions.parse_model_action``, and keeps to MAX_CALLS.
"""

from __future__ import annotations

import json
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from guiagent.tools.actions import Action, ActionError, EnvKind, Vocabulary, parse_model_action
from guiagent.tools.schema import TOOL_NAME
from guiagent.tools.text import excerpt, first_lone_surrogate

Protocol = Literal["tool-call", "function-result-return"]

FN_NAME, FN_ARGS, FN_RESULT, FN_EXIT = "✿FUNCTION✿", "✿ARGS✿", "✿RESULT✿", "✿RETURN✿"
FN_STOP_WORDS = [FN_RESULT, FN_EXIT]
TOOL_CALL_OPEN, TOOL_CALL_CLOSE = "<tool_call>", "</tool_call>"
FENCE = "```"

MAX_ANSWER_CHARS = 65_536
"""Longest answer read (a 512-token answer is ~2 KB); a longer one is refused unread."""
MAX_CALLS = 16
"""Most calls in one answer."""


class ParseError(ValueError):
    """A model answer that does not make a valid call; the message says why."""


class ParsedAnswer(BaseModel):
    """What a model answer means: its thought and its actions, in model space."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    thought: str = ""
    actions: list[Action] = Field(default_factory=list)


# -- JSON ------------------------------------------------------------------------------------


class _NotANumber(ValueError):
    pass


def _no_constant(literal: str) -> Any:
    raise _NotANumber(f"{literal} is not a JSON number")


# The C decoder, as is: its own limits bound what it builds (integers of at most 4300 digits,
# nesting within the recursion limit), each turned into a ParseError below; numbers are bounded
# further by the fields that take them, and values in fields no action takes are never looked at.
_DECODER = json.JSONDecoder(parse_constant=_no_constant)


def load_json_object(text: str, what: str) -> dict[str, Any]:
    """The first JSON object in ``text``; anything before its ``{`` (a code fence) and after it is
    ignored. Raises ParseError, naming ``what``, for invalid JSON or JSON beyond the decoder's limits."""
    start = text.find("{")
    if start < 0:
        raise ParseError(f"{what}: no JSON object found in {excerpt(text.strip(), 80)}")
    try:
        value, _ = _DECODER.raw_decode(text, start)
    except json.JSONDecodeError as exc:
        raise ParseError(
            f"{what}: invalid JSON ({exc.msg} at character {exc.pos - start}) in {excerpt(text[start:start + 80], 90)}"
        ) from None
    except RecursionError:
        raise ParseError(f"{what}: JSON nested too deeply") from None
    except _NotANumber as exc:
        raise ParseError(f"{what}: {exc}") from None
    except ValueError:  # an integer literal over sys.get_int_max_str_digits() (4300) digits
        raise ParseError(f"{what}: a number with too many digits") from None
    if not isinstance(value, dict):  # pragma: no cover - raw_decode at a "{" yields an object
        raise ParseError(f"{what}: expected a JSON object, got {type(value).__name__}")
    return value


# -- calls -----------------------------------------------------------------------------------


def check_answer(text: str, expected: str) -> None:
    """Refuse an answer that is empty (``expected`` says what was), longer than MAX_ANSWER_CHARS,
    or not valid text, before anything reads it."""
    if not text or not text.strip():
        raise ParseError(f"empty answer: expected {expected}")
    if len(text) > MAX_ANSWER_CHARS:
        raise ParseError(f"the answer is {len(text)} characters long; at most {MAX_ANSWER_CHARS} are read")
    at = first_lone_surrogate(text)
    if at is not None:
        raise ParseError(f"the answer is not valid text: a lone surrogate {excerpt(text[at])} at character {at}")


def _too_many(count: int) -> ParseError:
    return ParseError(f"more than {MAX_CALLS} calls in one answer ({count}): make at most {MAX_CALLS}")


def _action_from_arguments(arguments: Any, what: str, env: EnvKind, vocabulary: Vocabulary) -> Action:
    if isinstance(arguments, str):  # some servers and models double-encode the arguments
        arguments = load_json_object(arguments, what)
    if not isinstance(arguments, dict):
        raise ParseError(f"{what}: arguments must be a JSON object, got {excerpt(arguments)}")
    try:
        return parse_model_action(arguments, env, vocabulary)
    except ActionError as exc:
        raise ParseError(f"{what}: {exc}") from None


def _call_to_action(call: dict[str, Any], what: str, env: EnvKind, vocabulary: Vocabulary) -> Action:
    name = call.get("name")
    if name != TOOL_NAME:
        raise ParseError(f"{what}: unknown function {excerpt(name)} (the only tool is {TOOL_NAME!r})")
    if "arguments" not in call:
        raise ParseError(f"{what}: no \"arguments\"")
    return _action_from_arguments(call["arguments"], what, env, vocabulary)


def _what(kind: str, i: int, count: int) -> str:
    return f"{kind} {i}" if count > 1 else kind


def _tagged_blocks(text: str) -> list[str]:
    """The insides of ``<tool_call>...</tool_call>``; the last may be unterminated (generation
    stopped at the closing tag)."""
    blocks: list[str] = []
    pos = 0
    while (i := text.find(TOOL_CALL_OPEN, pos)) >= 0:
        if len(blocks) == MAX_CALLS:
            raise _too_many(text.count(TOOL_CALL_OPEN))
        i += len(TOOL_CALL_OPEN)
        j = text.find(TOOL_CALL_CLOSE, i)
        if j < 0:
            blocks.append(text[i:])
            break
        blocks.append(text[i:j])
        pos = j + len(TOOL_CALL_CLOSE)
    return blocks


def _fenced_objects(text: str) -> list[str]:
    """The insides of code fences that hold a JSON object (a call whose tags were dropped)."""
    blocks = []
    parts = text.split(FENCE)
    for inner in parts[1:-1]:
        body = inner[4:] if inner.startswith("json") else inner
        if body.lstrip().startswith("{"):
            if len(blocks) == MAX_CALLS:
                raise _too_many(len(parts) // 2)
            blocks.append(body)
    return blocks


def parse_tool_calls(text: str, env: EnvKind, vocabulary: Vocabulary) -> ParsedAnswer:
    """Parse a ``tool-call`` answer (the actions offered in an episode of this env kind)."""
    check_answer(text, "a <tool_call>")
    blocks = _tagged_blocks(text)
    if blocks:
        thought = text[: text.find(TOOL_CALL_OPEN)]
    else:
        blocks = _fenced_objects(text)
        if not blocks:
            raise ParseError("no <tool_call> found: answer with <tool_call>{\"name\": \"computer_use\", \"arguments\": {...}}</tool_call>")
        thought = text[: text.find(FENCE)]
    actions = []
    for i, block in enumerate(blocks, 1):
        what = _what("tool call", i, len(blocks))
        actions.append(_call_to_action(load_json_object(block, what), what, env, vocabulary))
    return ParsedAnswer(thought=thought.strip(), actions=actions)


def _until_stop_word(chunk: str) -> str:
    ends = [i for i in (chunk.find(FN_RESULT), chunk.find(FN_EXIT)) if i >= 0]
    return chunk[: min(ends)] if ends else chunk


def parse_function_calls(text: str, env: EnvKind, vocabulary: Vocabulary) -> ParsedAnswer:
    """Parse a ``function-result-return`` answer (the continuation after ``✿RETURN✿``), the actions
    offered in an episode of this env kind."""
    check_answer(text, f"{FN_NAME}: {TOOL_NAME} and {FN_ARGS}: {{...}}")
    text = text.lstrip()
    if text.startswith(":"):  # the model continues "✿RETURN✿" with ": "
        text = text[1:]
    first = text.find(FN_NAME)
    if first < 0:
        raise ParseError(
            f"no {FN_NAME} call found: call {TOOL_NAME} (with action=terminate to finish); got {excerpt(text.strip(), 80)}"
        )
    count = text.count(FN_NAME, first)
    if count > MAX_CALLS:
        raise _too_many(count)
    thought = text[:first]
    actions = []
    chunks = text[first:].split(FN_NAME)[1:]
    for i, chunk in enumerate(chunks, 1):
        what = _what("function call", i, len(chunks))
        chunk = _until_stop_word(chunk)
        if FN_ARGS not in chunk:
            raise ParseError(f"{what}: {FN_NAME} without {FN_ARGS}")
        name_part, args_part = chunk.split(FN_ARGS, 1)
        name = name_part.strip().lstrip(":").strip()
        if name != TOOL_NAME:
            raise ParseError(f"{what}: unknown function {excerpt(name)} (the only tool is {TOOL_NAME!r})")
        actions.append(_action_from_arguments(load_json_object(args_part, what), what, env, vocabulary))
    return ParsedAnswer(thought=thought.strip(), actions=actions)


def parse_answer(text: str, protocol: Protocol, env: EnvKind, vocabulary: Vocabulary) -> ParsedAnswer:
    if protocol == "tool-call":
        return parse_tool_calls(text, env, vocabulary)
    return parse_function_calls(text, env, vocabulary)


def format_tool_call(action: Action, env: EnvKind, vocabulary: Vocabulary) -> str:
    """An action as the model writes it under the ``tool-call`` protocol in an ``env`` episode."""
    call = {"name": TOOL_NAME, "arguments": action.to_call(env, vocabulary)}
    return f"{TOOL_CALL_OPEN}\n{json.dumps(call, ensure_ascii=False)}\n{TOOL_CALL_CLOSE}"


def format_function_call(action: Action, env: EnvKind, vocabulary: Vocabulary) -> str:
    """An action as the model writes it under the ``function-result-return`` protocol in an ``env`` episode."""
    return f"{FN_NAME}: {TOOL_NAME}\n{FN_ARGS}: {json.dumps(action.to_call(env, vocabulary), ensure_ascii=False)}"
