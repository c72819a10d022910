"""Fuzzing the model boundary: answers of both protocols, and the path a model's text takes in-process.

Generators:
- ``SEEDS``: real answers (the parsers' corpora, the formatters' output of every offered action, the
  five kinds that crashed episodes in issue 9);
- ``mutate``: a seeded mutator over those seeds (insert a protocol token or an extreme value, delete,
  duplicate, splice, truncate, flip characters, wrap in fences or tags, repeat);
- ``answers`` (Hypothesis): structured calls with arbitrary JSON where the arguments go, and raw text
  built from protocol markers.

``AnswerPath`` takes each answer through what the runtime does with it, minus executing on an env
(tests/tools/test_fuzz_episode.py does that on Chromium): parse and map as ``VLMPolicy.adecide`` does,
the loop's update made recordable, the checkpoint serializer, the StepRecord written to steps.jsonl and
read back, the history fed back to the model in the next prompt, the export label and the HTML report.
Anything but a ParseError recorded as the step's ``format_error`` raises.
"""

from __future__ import annotations

import io
import json
import random
import re
import time
from pathlib import Path
from typing import Any

from hypothesis import strategies as st
from langgraph.checkpoint.serde.jsonplus import JsonPlusSerializer
from PIL import Image

from guiagent.agent.export.samples import ExportOptions, build_samples, target_text
from guiagent.agent.outcome import Outcome
from guiagent.agent.report import render_html
from guiagent.agent.trajectory import StepRecord, Trajectory, TrajectoryMeta, TrajectoryWriter, load_trajectory
from guiagent.policies import Decision, StepSummary
from guiagent.policies.answer import actions_from_answer
from guiagent.policies.dialect import Dialect
from guiagent.policies.families import DEFAULT_FAMILY, ModelFamily, get_family
from guiagent.policies.prompts import build_messages, system_prompt
from guiagent.tools import ACTIONS_BY_NAME, ActionResult, CoordinateOutOfRange, FrameGeometry, dump_action, parse_action
from guiagent.tools.actions import MAX_TEXT_CHARS, MODEL_ACTIONS
from guiagent.tools.parsing import (
    FN_ARGS,
    FN_EXIT,
    FN_NAME,
    FN_RESULT,
    MAX_ANSWER_CHARS,
    ParseError,
    Protocol,
    format_function_call,
    format_tool_call,
    parse_answer,
)
from guiagent.tools.text import recordable, recordable_tree
from tests.tools.test_parsing import FRR_CORPUS, TOOL_CALL_CORPUS

PROTOCOLS: tuple[Protocol, ...] = ("tool-call", "function-result-return")
GEOMETRY = FrameGeometry(width=1280, height=800)
MAPPING = GEOMETRY.for_model(max_pixels=1280 * 28 * 28)


def _call(arguments: str, extra: str = "") -> str:
    return f'<tool_call>\n{{"name": "computer_use"{extra}, "arguments": {arguments}}}\n</tool_call>'


def _fn(arguments: str) -> str:
    return f"{FN_NAME}: computer_use\n{FN_ARGS}: {arguments}"


# The five kinds of answer that ended episodes in a traceback (issue 9), in both protocols.
CRASHERS: dict[str, list[tuple[Protocol, str]]] = {
    "lone surrogate": [
        ("tool-call", "I click\udcc1 OK.\n" + _call('{"action": "left_click", "coordinate": [10, 20]}')),
        ("function-result-return", "Type it.\n" + _fn('{"action": "type", "text": "caf\udcc1"}')),
    ],
    "nested a thousand deep": [
        ("tool-call", _call('{"action": "wait", "time": 1, "x": ' + "[" * 1000 + "]" * 1000 + "}")),
        ("function-result-return", _fn('{"action": "wait", "time": 1, "x": ' + '{"a": ' * 1000 + "1" + "}" * 1000 + "}")),
    ],
    "integer of more than 4300 digits": [
        ("tool-call", _call('{"action": "wait", "time": 1}', ', "id": ' + "7" * 4301)),
        ("function-result-return", _fn('{"action": "scroll", "pixels": ' + "9" * 5000 + "}")),
    ],
    "action that is a list or an object": [
        ("tool-call", _call('{"action": ["left_click"], "coordinate": [10, 20]}')),
        ("function-result-return", _fn('{"action": {"name": "left_click"}, "coordinate": [10, 20]}')),
    ],
    "scroll beyond 64 bits": [
        ("tool-call", _call('{"action": "scroll", "coordinate": [10, 20], "pixels": 20000000000000000000}')),
        ("function-result-return", _fn('{"action": "scroll", "pixels": -20000000000000000000}')),
    ],
}

_ACTION_SAMPLES = [
    {"action": "key", "keys": ["ctrl", "a"]}, {"action": "type", "text": "naïve café 東京"},
    {"action": "mouse_move", "coordinate": [100, 200]}, {"action": "left_click", "coordinate": [640, 400]},
    {"action": "left_click_drag", "coordinate": [900, 300]}, {"action": "right_click", "coordinate": [5, 6]},
    {"action": "middle_click", "coordinate": [7, 8]}, {"action": "double_click", "coordinate": [412, 77]},
    {"action": "scroll", "coordinate": [640, 400], "pixels": -300}, {"action": "wait", "time": 0.5},
    {"action": "terminate", "status": "success"},
]
assert {a["action"] for a in _ACTION_SAMPLES} == set(MODEL_ACTIONS)

SEEDS: list[tuple[Protocol, str]] = [
    *[("tool-call", text) for text, _, _ in TOOL_CALL_CORPUS],
    *[("function-result-return", text) for text, _, _ in FRR_CORPUS],
    *[("tool-call", "Next.\n" + format_tool_call(parse_action(a), "desktop", "qwen2.5-vl")) for a in _ACTION_SAMPLES],
    *[("function-result-return", "Next.\n" + format_function_call(parse_action(a), "desktop", "qwen2.5-vl")) for a in _ACTION_SAMPLES],
    *[answer for answers in CRASHERS.values() for answer in answers],
]


def _longest(pattern: str, prefix: str = "", suffix: str = "") -> str:
    room = MAX_ANSWER_CHARS - len(prefix) - len(suffix)
    return prefix + (pattern * (room // len(pattern) + 1))[:room] + suffix


_CALL_HEAD = '<tool_call>{"name": "computer_use", "arguments": {"action": '
_FN_HEAD = f"{FN_NAME}: computer_use\n{FN_ARGS}: " + '{"action": '
LONGEST: dict[str, str] = {
    "repeated fences": _longest("```json\n{"),
    "bare fences": _longest("```"),
    "a fence then spaces": _longest(" ", "```json\n{"),
    "open tags": _longest("<tool_call>"),
    "tags with a brace": _longest("<tool_call>{</tool_call>"),
    "FUNCTION markers": _longest(FN_NAME),
    "FUNCTION and ARGS": _longest(f"{FN_NAME}: computer_use {FN_ARGS}"),
    "open braces": _longest("{"),
    "open brackets": _longest("[", _CALL_HEAD + '"wait", "time": 1, "x": '),
    "open objects (function)": _longest('{"a": ', _FN_HEAD + '"wait", "time": 1, "x": '),
    "30000 integers": _longest("1,", _CALL_HEAD + '"wait", "time": 1, "x": [', "1]}}"),
    "a 30000-item coordinate": _longest("1,", _CALL_HEAD + '"left_click", "coordinate": [', "1]}}"),
    "a 30000-key combo": _longest("a+", _CALL_HEAD + '"key", "keys": "', 'a"}}'),
    "a 12000-key list": _longest('"a",', _CALL_HEAD + '"key", "keys": [', '"a"]}}'),
    "a 65 KB text": _longest("a", _CALL_HEAD + '"type", "text": "', '"}}'),
    "6000 extra keys": _longest('"k": 1, ', _CALL_HEAD + '"wait", ', '"time": 1}}'),
    "escaped unicode": _longest('"\\u00e9",', _CALL_HEAD + '"wait", "time": 1, "x": [', "1]}}"),
    "long digits": _longest("9", _CALL_HEAD + '"wait", "time": 1, "x": ', "}}"),
    "long float": _longest("5", _CALL_HEAD + '"wait", "time": 1.', "}}"),
    "16 long calls": "".join([_CALL_HEAD + '"type", "text": "' + "b" * 4000 + '"}}</tool_call>'] * 16)[:MAX_ANSWER_CHARS],
    "CJK text": _longest("é東"),
}
"""Answers of the largest length read (MAX_ANSWER_CHARS), shaped to be slow: bench/fuzz.py times them."""

# -- mutation ----------------------------------------------------------------------------------

_NAMES = [*ACTIONS_BY_NAME, "fly", "", "LEFT_CLICK"]
_FIELDS = ["action", "coordinate", "start_coordinate", "pixels", "time", "keys", "text", "status", "answer",
           "url", "direction", "amount", "name", "arguments"]
_EXTREME_NUMBERS = ["0", "-0", "-1", "0.0000001", "1e308", "-1e999", "1e-999", "NaN", "Infinity", "-Infinity",
                    "18446744073709551616", "20000000000000000000", "-20000000000000000000", "9" * 5000,
                    "1." + "5" * 400, "100001", "300.0001", "1_000", "0x10", "[1, 2]", "null", "true", '"12"']
_EXTREME_STRINGS = ['""', '"\\udcc1"', '"\\ud800\\udc00"', '"\\u0000"', '"é東\\u202e"', '"\udcc1"',
                    '"' + "a" * (MAX_TEXT_CHARS + 1) + '"', '"ctrl+alt+shift+super+a+b+c+d+e+f+g+h+i+j+k+l+m"',
                    '"javascript:alert(1)"', '"https://example.com"', '"' + "\\" * 9 + '"']
_TOKENS = [
    "{", "}", "[", "]", '"', ",", ":", "\\", "\n", " " * 200, "<tool_call>", "</tool_call>", "```", "```json\n",
    FN_NAME, FN_ARGS, FN_RESULT, FN_EXIT, ": computer_use\n", '"computer_use"', '"name": "computer_use", ',
    '"arguments": ', *[f'"{n}"' for n in _NAMES], *[f'"{f}": ' for f in _FIELDS], *_EXTREME_NUMBERS,
    *_EXTREME_STRINGS, "\udcc1", "\ud800", "\x00", "\ufeff", "é", "東京", "🙂", "[" * 1000, '{"a": ' * 500,
]
_NUMBER = re.compile(r"-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?")
_STRING = re.compile(r'"(?:[^"\\\n]|\\.){0,200}"')


def _span(rng: random.Random, text: str) -> tuple[int, int]:
    i = rng.randrange(len(text) + 1)
    return i, min(len(text), i + rng.choice([1, 2, 5, 20, 200]))


def _replace_match(rng: random.Random, text: str, pattern: re.Pattern[str], choices: list[str]) -> str:
    found = list(pattern.finditer(text[:4000]))
    if not found:
        return text
    m = rng.choice(found)
    return text[: m.start()] + rng.choice(choices) + text[m.end():]


def mutate(rng: random.Random, text: str, others: list[str], tokens: list[str] | None = None) -> str:
    """One random mutation of ``text`` (``others``: texts to splice with; ``tokens``: what to insert, Qwen's
    protocol tokens and extreme values unless a family's own are given)."""
    op = rng.randrange(12)
    if op == 0 or not text:
        i = rng.randrange(len(text) + 1)
        return text[:i] + rng.choice(tokens or _TOKENS) + text[i:]
    if op == 1:
        i, j = _span(rng, text)
        return text[:i] + text[j:]
    if op == 2:
        i, j = _span(rng, text)
        return text[:j] + text[i:j] * rng.choice([1, 2, 10, 1000]) + text[j:]
    if op == 3:
        return _replace_match(rng, text, _NUMBER, _EXTREME_NUMBERS)
    if op == 4:
        return _replace_match(rng, text, _STRING, _EXTREME_STRINGS + [f'"{n}"' for n in _NAMES])
    if op == 5:
        return text[: rng.randrange(len(text) + 1)]
    if op == 6:
        other = rng.choice(others)
        return text[: rng.randrange(len(text) + 1)] + other[rng.randrange(len(other) + 1):]
    if op == 7:
        i = rng.randrange(len(text))
        return text[:i] + chr(rng.choice([rng.randrange(32, 127), rng.randrange(0xD800, 0xE000), rng.randrange(0x110000)])) + text[i + 1:]
    if op == 8:
        return rng.choice(["```json\n{}\n```", "```\n{}```", "<tool_call>{}</tool_call>", "{}" + FN_RESULT, ": {}"]).replace("{}", text, 1)
    if op == 9:
        return (text + rng.choice(["", "\n", " "])) * rng.choice([2, 3, 17, 200])
    if op == 10:
        return text.replace("computer_use", rng.choice(["computer", "", "computer_use\udcc1", "COMPUTER_USE"]), 1)
    i = rng.randrange(len(text) + 1)  # a thought, or anything, before the call
    return rng.choice(["I will do it.\n", "Thought: é东\n", "\udcc1\n", "x" * 5000]) + text[i:]


_PLAUSIBLE = ["0", "1", "2", "640", "399.5", '"12"', "1279", "-300", "300", "0.5", '"a"', '"ctrl+c"', '"Return"']
_SPACES = [" ", "\n", "\t", "  \n  ", "\r\n"]


def nudge(rng: random.Random, text: str) -> str:
    """A mutation that often keeps the answer valid: a plausible value, whitespace, a thought, a fence."""
    op = rng.randrange(4)
    if op == 0:
        return _replace_match(rng, text, _NUMBER, _PLAUSIBLE)
    if op == 1:
        spots = [m.end() for m in re.finditer(r"[{}\[\],:]", text[:4000])]
        i = rng.choice(spots) if spots else 0
        return text[:i] + rng.choice(_SPACES) + text[i:]
    if op == 2:
        return rng.choice(["Let me look. ", "思考：点击按钮。\n", "Step 2\n\n", "```\n"]) + text
    return text + rng.choice(["", "\n", " Done.", "\n```", f"\n{FN_RESULT}", "<|im_end|>"])


def mutated_answers(seed: int, count: int) -> list[tuple[Protocol, str]]:
    """``count`` answers, reproducible from ``seed``: a third nudged (often still valid), the rest
    mutated 1-4 times."""
    rng = random.Random(seed)
    texts = [t for _, t in SEEDS]
    out = []
    for _ in range(count):
        protocol, text = rng.choice(SEEDS)
        gentle = rng.random() < 0.33
        for _ in range(rng.randint(1, 4)):
            text = nudge(rng, text) if gentle else mutate(rng, text, texts)
        if len(text) > MAX_ANSWER_CHARS + 1000:
            text = text[: MAX_ANSWER_CHARS + rng.choice([-1, 0, 1])]
        out.append((rng.choice(PROTOCOLS) if rng.random() < 0.1 else protocol, text))
    return out


# -- Hypothesis strategies -------------------------------------------------------------------

_json_leaf = (
    st.none() | st.booleans() | st.integers() | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=30)
)
json_values = st.recursive(_json_leaf, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4), max_leaves=12)
_number = st.integers(min_value=-(2**66), max_value=2**66) | st.floats() | st.sampled_from([0, 1, 1280, 100000, 100001, 2**63])
_field_values: dict[str, st.SearchStrategy[Any]] = {
    "coordinate": st.lists(_number | st.text(max_size=6), max_size=3) | json_values,
    "start_coordinate": st.lists(_number, min_size=2, max_size=2),
    "pixels": _number | st.text(max_size=6),
    "time": _number,
    "keys": st.lists(st.sampled_from(["ctrl", "a", "Return", "F24", "é", "", "+"]) | st.text(max_size=4), max_size=20) | st.text(max_size=20),
    "text": st.text(max_size=40) | st.just("a" * (MAX_TEXT_CHARS + 1)),
    "status": st.sampled_from(["success", "failure", "maybe"]) | json_values,
    "answer": st.text(max_size=10),
    "url": st.sampled_from(["https://example.com", "file:///etc/passwd", "javascript:x"]),
    "direction": st.sampled_from(["up", "down", "left"]),
    "amount": _number,
}


_plausible: dict[str, st.SearchStrategy[Any]] = {
    "coordinate": st.lists(st.integers(0, 1400) | st.floats(0, 1400) | st.integers(0, 900).map(str), min_size=2, max_size=2),
    "pixels": st.integers(-2000, 2000),
    "time": st.floats(0, 5) | st.integers(0, 5),
    "keys": st.lists(st.sampled_from(["ctrl", "alt", "shift", "a", "Return", "Tab", "F5", "cmd", "esc"]), min_size=1, max_size=3)
    | st.sampled_from(["ctrl+c", "alt+F4", "Return"]),
    "text": st.text(min_size=1, max_size=30),
    "status": st.sampled_from(["success", "failure"]),
}


@st.composite
def _arguments(draw: st.DrawFn) -> Any:
    kind = draw(st.integers(0, 9))
    if kind == 0:
        return draw(json_values)
    if kind >= 5:  # an offered action with plausible values, one field perhaps arbitrary
        sample = dict(draw(st.sampled_from(_ACTION_SAMPLES)))
        for field in sample:
            if field in _plausible:
                sample[field] = draw(_plausible[field])
        if draw(st.integers(0, 3)) == 0:
            field = draw(st.sampled_from(list(_field_values)))
            sample[field] = draw(_field_values[field])
        return sample
    args: dict[str, Any] = {"action": draw(st.sampled_from(_NAMES) | json_values)}
    for field in draw(st.lists(st.sampled_from(list(_field_values)), max_size=4, unique=True)):
        args[field] = draw(_field_values[field])
    return args


def _dumps(value: Any, draw: st.DrawFn) -> str:
    return json.dumps(value, ensure_ascii=draw(st.booleans()), allow_nan=True)


@st.composite
def answers(draw: st.DrawFn) -> tuple[Protocol, str]:
    """A structured answer of either protocol: a thought, then 0-3 calls with arbitrary arguments,
    written as the protocol writes them (with fences, double-encoded arguments, stop words), or
    protocol markers and text in any order."""
    protocol = draw(st.sampled_from(PROTOCOLS))
    thought = draw(st.text(max_size=40))
    if draw(st.integers(0, 5)) == 0:
        parts = st.sampled_from(["<tool_call>", "</tool_call>", "```", FN_NAME, FN_ARGS, FN_RESULT, "{", "}", '"computer_use"']) | st.text(max_size=12)
        return protocol, thought + "".join(draw(st.lists(parts, max_size=12)))
    calls = []
    for _ in range(draw(st.integers(0, 3))):
        arguments = draw(_arguments())
        args_text = _dumps(arguments, draw)
        if draw(st.integers(0, 7)) == 0:
            args_text = json.dumps(args_text)  # double-encoded
        name = draw(st.sampled_from(["computer_use", "computer_use", "browser", ""]))
        if protocol == "tool-call":
            body = f'{{"name": {json.dumps(name)}, "arguments": {args_text}}}'
            if draw(st.booleans()):
                body = f"```json\n{body}\n```"
            calls.append(f"<tool_call>\n{body}\n</tool_call>" if draw(st.integers(0, 5)) else body)
        else:
            calls.append(f"{FN_NAME}: {name}\n{FN_ARGS}: {args_text}" + draw(st.sampled_from(["", "\n", f"\n{FN_RESULT}", f"\n{FN_EXIT}"])))
    return protocol, thought + "\n" + "\n".join(calls)


# -- the path ----------------------------------------------------------------------------------


def decide_from_answer(raw: str, protocol: Protocol, family: ModelFamily | None = None) -> tuple[Decision, float]:
    """The Decision VLMPolicy.decide makes of a server's answer (``actions_from_answer``: the family's
    parse, then the map to the screen), and the parse time in ms. No family: Qwen2.5-VL's forms."""
    mapping = MAPPING if family is None else family.mapping(GEOMETRY)
    decision = Decision(raw=raw, mapping=mapping, usage={"prompt_tokens": 1000, "completion_tokens": 100})
    t0 = time.perf_counter()
    try:
        if family is None:
            parsed = parse_answer(raw, protocol, "desktop", "qwen2.5-vl")
            ms = (time.perf_counter() - t0) * 1000
            actions = [a.map_points(MAPPING.model_to_input) for a in parsed.actions]
            thought, model_actions = parsed.thought, parsed.actions
        else:
            answer = actions_from_answer(raw, mapping, Dialect(family, protocol, "desktop"))
            ms = (time.perf_counter() - t0) * 1000
            thought, model_actions, actions = answer.thought, answer.model_actions, answer.actions
    except (ParseError, CoordinateOutOfRange) as exc:
        ms = (time.perf_counter() - t0) * 1000
        return decision.model_copy(update={"format_error": str(exc)}), ms
    return decision.model_copy(update={"thought": thought, "model_actions": model_actions, "actions": actions}), ms


def _texts(messages: list[dict[str, Any]]) -> list[str]:
    """Every text of a chat request's messages."""
    out = []
    for m in messages:
        content = m.get("content")
        if isinstance(content, str):
            out.append(content)
        elif isinstance(content, list):
            out += [p["text"] for p in content if isinstance(p, dict) and isinstance(p.get("text"), str)]
    return out


def _utf8(text: str, where: str) -> None:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise AssertionError(f"{where} is not valid UTF-8: {exc}") from None


class AnswerPath:
    """Feeds answers through the in-process path, ``chunk`` steps to a trajectory under ``root``; the
    answers of ``family`` (its own parser, prompt and labels), Qwen2.5-VL's if none."""

    def __init__(self, root: Path, chunk: int = 500, report_every: int = 1, family: str | None = None) -> None:
        self.root, self.chunk, self.report_every = root, chunk, report_every
        self.family = get_family(family) if family is not None else None
        self.serde = JsonPlusSerializer()  # SqliteSaver's serializer: what the checkpoint stores
        self.counts = {"answers": 0, "format_errors": 0, "accepted": 0, "actions": 0, "exported": 0, "unlabelled": 0}
        self.max_parse_ms = 0.0
        self.slowest: tuple[float, str] = (0.0, "")
        self._writer: TrajectoryWriter | None = None
        self._trajectories = 0
        self._frame = io.BytesIO()
        Image.new("RGB", (128, 80), (200, 210, 220)).save(self._frame, "PNG")

    def _open(self) -> TrajectoryWriter:
        if self._writer is None or self._writer.count >= self.chunk:
            self.flush()
            self._trajectories += 1
            policy = {"kind": "vlm", "model": "fuzz", **({"family": self.family.name} if self.family else {})}
            meta = TrajectoryMeta(task="fuzz the model boundary", policy=policy)
            self._writer = TrajectoryWriter.create(self.root / f"t{self._trajectories:04d}", meta)
            self._writer.write_frame(0, self._frame.getvalue())
        return self._writer

    def feed(self, protocol: Protocol, raw: str) -> Decision:
        """One answer through the path; returns the decision as recorded."""
        writer = self._open()
        family = self.family
        decision, ms = decide_from_answer(raw, protocol, family)
        if ms > self.max_parse_ms:
            self.max_parse_ms, self.slowest = ms, (ms, raw)
        # the loop: the decide node's update, made recordable, checkpointed
        pending = recordable_tree({"decision": decision.model_dump(mode="json")})
        kind, blob = self.serde.dumps_typed({"pending": pending, "step": writer.count, "status": "running"})
        assert self.serde.loads_typed((kind, blob))["pending"] == pending, "the checkpoint changed the step"
        recorded = Decision.model_validate(pending["decision"])
        assert recorded.raw == recordable(raw)
        assert (recorded.format_error is None) == (decision.format_error is None)
        results = [ActionResult.success("") for _ in recorded.actions]
        index = writer.count
        record = StepRecord(
            index=index, t=0.0, t_start=0.0, t_end=0.0, frame="frames/000000.png", geometry=GEOMETRY,
            mapping=recorded.mapping, thought=recorded.thought, raw=recorded.raw, format_error=recorded.format_error,
            model_actions=[dump_action(a) for a in recorded.model_actions], actions=[dump_action(a) for a in recorded.actions],
            results=results, usage=recorded.usage,
        )
        writer.append(record)
        line = record.model_dump_json()
        assert StepRecord.model_validate_json(line) == record
        # the history the next request carries back to the model
        summary = StepSummary(index=index, t=0.0, thought=record.thought, raw=record.raw, model_actions=record.model_actions,
                              actions=record.actions, results=["ok" for _ in results], error=record.format_error)
        if family is None:
            system = system_prompt(protocol, MAPPING.resized_width, MAPPING.resized_height, "desktop", "qwen2.5-vl")
            messages, _ = build_messages(protocol, system, "fuzz", [summary], [{"type": "text", "text": "now"}])
        else:
            system = family.system_prompt(protocol, recorded.mapping or MAPPING, "desktop")
            now = [{"type": "image_url", "image_url": {"url": "data:image/png;base64,"}}]
            messages, _ = family.messages(protocol, system, family.task_text("fuzz"), [summary], now, {})
        _utf8(json.dumps(messages, ensure_ascii=False), "the next prompt")
        if record.format_error is None:
            assert record.actions
            self.counts["accepted"] += 1
            self.counts["actions"] += len(record.actions)
            if family is None:
                # every action the parser accepts from a model is one the export can label for training
                _utf8(target_text(record, record.geometry.for_model(), Dialect.of(DEFAULT_FAMILY, protocol, "desktop")),
                      "the export label")
                self.counts["exported"] += 1
            else:  # a label the family cannot write is skipped by the export, with its reason
                try:
                    _utf8(target_text(record, family.mapping(record.geometry), Dialect(family, protocol, "desktop")),
                          "the export label")
                    self.counts["exported"] += 1
                except ValueError:
                    self.counts["unlabelled"] += 1
        else:
            self.counts["format_errors"] += 1
            # the refusal is a format error the model sees: its words are in the next prompt
            assert any(f"Error: {record.format_error}" in text for text in _texts(messages)), record.format_error
        if self.counts["answers"] % self.report_every == 0:
            traj = Trajectory(root=writer.root, meta=writer.meta, steps=[record])
            _utf8(render_html(traj), "the report")
        self.counts["answers"] += 1
        return recorded

    def flush(self) -> None:
        """Read the open trajectory back, export it and render its report."""
        if self._writer is None:
            return
        writer, self._writer = self._writer, None
        writer.finish(Outcome.FAILURE, "fuzz")
        writer.close()
        traj = load_trajectory(writer.root)
        assert traj.problems == [] and len(traj.steps) == writer.count, traj.problems
        name = self.family.name if self.family else ExportOptions().family
        for protocol in (self.family.protocols if self.family else PROTOCOLS):
            samples, _ = build_samples([writer.root], ExportOptions(protocol=protocol, keep_unparsed=True, family=name))
            for sample in samples:
                _utf8("".join(t.text for t in sample.turns), "an export sample")
        _utf8(render_html(Trajectory(root=traj.root, meta=traj.meta, steps=traj.steps[:50])), "the report")
