"""Fuzzing the answer forms of the families with parsers of their own: UI-TARS-1.5 (``Thought: ..`` /
``Action: click(start_box=..)``, read with ``ast``) and OpenCUA (``## Thought / ## Action / ## Code`` with
pyautogui code, read with ``ast``). Qwen's forms: tests/tools/fuzzing.py, whose ``AnswerPath`` takes these
answers through the same whole path (parse, map, checkpoint, steps.jsonl, next prompt, export, report).

Generators, per family:
- ``FAMILY_SEEDS``: real answers (the published forms the family modules cite, and the family's own
  formatter's output of every action it writes);
- ``mutated_family_answers``: the seeded mutator of fuzzing.py over those seeds, with the family's own
  tokens (its markers, call names, argument names, point forms, Python that is not a literal);
- ``FAMILY_ANSWERS`` (Hypothesis): answers built in the family's structure with arbitrary Python literals
  (and some non-literals) where its arguments go.
"""

from __future__ import annotations

import random
from typing import Any

from hypothesis import strategies as st

from guiagent.policies.families.opencua import format_opencua
from guiagent.policies.families.uitars import format_uitars
from guiagent.tools import (
    DoubleClick,
    Key,
    LeftClick,
    LeftClickDrag,
    MiddleClick,
    MouseMove,
    RightClick,
    Scroll,
    Terminate,
    TripleClick,
    Type,
    Wait,
)
from guiagent.tools.actions import MAX_TEXT_CHARS
from tests.tools.fuzzing import _EXTREME_NUMBERS, _EXTREME_STRINGS, MAX_ANSWER_CHARS, mutate, nudge

FUZZED_FAMILIES = ("ui-tars-1.5", "opencua")

_SAMPLES = [
    LeftClick(coordinate=(640, 400)), DoubleClick(coordinate=(10, 20)), RightClick(coordinate=(5, 6)),
    MouseMove(coordinate=(100, 200)), LeftClickDrag(start_coordinate=(1, 2), coordinate=(900, 300)),
    Key(keys=["ctrl", "c"]), Key(keys=["enter"]), Type(text="naïve café 東京 'quoted' \"double\""),
    Type(text="line one\nline two"), Scroll(coordinate=(640, 400), pixels=-500), Scroll(pixels=300), Wait(time=5),
    Terminate(status="success", answer="42"), Terminate(status="failure"),
]
_OPENCUA_ONLY = [MiddleClick(coordinate=(7, 8)), TripleClick(coordinate=(412, 77)), Wait(time=0.5)]

UITARS_PUBLISHED = [
    # bytedance/UI-TARS README "Usage", README_coordinates.md, data/training_example.json, codes/tests/action_parser_test.py
    "Thought: Click the button\nAction: click(start_box='(100,200)')",
    "Thought: xxx\nAction: click(start_box='(197,525)')",
    "Action: click(start_box='<|box_start|>(495,30)<|box_end|>')",
    "Thought: test\nAction: click(point='<point>200 300</point>')",
    "Thought: t\nAction: left_double(point='<point>10 20</point>')",
    "Thought: t\nAction: drag(start_point='<point>1 2</point>', end_point='<point>30 40</point>')",
    "Thought: t\nAction: hotkey(key='ctrl c')",
    "Thought: t\nAction: type(content='hello\\n')",
    "Thought: t\nAction: scroll(point='<point>5 6</point>', direction='down')",
    "Thought: t\nAction: wait()",
    "Thought: t\nAction: finished(content='42')",
    "Reflection: it did not open\nAction_Summary: open it\nAction: click(start_box='(10,20,30,40)')",
    "Thought: two\nAction: click(start_box='(1,2)')\n\nhotkey(key='enter')",
    "Thought: help\nAction: call_user()",
    "Thought: quote\nAction: type(content='it's here')",
]

OPENCUA_PUBLISHED = [
    # xlang-ai/OpenCUA evaluation/agentnetbench/sample_data/*.json, in its L2 answer form
    "## Thought:\nI act.\n\n## Action:\nDo it.\n\n## Code:\n```python\npyautogui.click(x=0.018, y=0.095)\n```\n",
    "## Thought:\nDrag.\n\n## Action:\nDrag it.\n\n## Code:\n```python\npyautogui.moveTo(x=0.328, y=0.4697)\n"
    "pyautogui.dragTo(x=0.5025, y=0.6039, button='left')\n```\n",
    "## Thought:\nType.\n\n## Action:\nType it.\n\n## Code:\n```python\npyautogui.write(message='SPOTIFY')\n"
    "pyautogui.press(keys=['enter'])\n```\n",
    "## Thought:\nCopy.\n\n## Action:\nCopy.\n\n## Code:\n```python\npyautogui.hotkey(keys=['ctrl', 'c'])\n```\n",
    "## Thought:\nDone.\n\n## Action:\nStop.\n\n## Code:\n```python\ncomputer.terminate(status='success')\n```\n",
    "## Code:\n```python\npyautogui.scroll(-5, 100, 200)\n```",
    "## Code:\n```python\npyautogui.scroll(-5, x=100, y=200)\n```",
    "## Code:\n```python\nimport pyautogui\npyautogui.click(100, 200, clicks=2)\ncomputer.wait(seconds=1)\n```",
    "pyautogui.click(x=10, y=20)\npyautogui.write('hi')",
]


def _uitars_formats() -> list[str]:
    return [format_uitars([a], f"Step {i}.") for i, a in enumerate(_SAMPLES)] + [format_uitars(_SAMPLES[:3], "All.")]


def _opencua_formats() -> list[str]:
    return [format_opencua([a], f"Step {i}.") for i, a in enumerate(_SAMPLES + _OPENCUA_ONLY)] + [
        format_opencua(_SAMPLES[:3], "All.")]


FAMILY_SEEDS: dict[str, list[str]] = {
    "ui-tars-1.5": [*UITARS_PUBLISHED, *_uitars_formats()],
    "opencua": [*OPENCUA_PUBLISHED, *_opencua_formats()],
}

# Python that is not a literal, or a literal the parsers must refuse or survive.
_NOT_LITERAL = ["__import__('os').system('true')", "lambda: 0", "x", "a.b", "f()", "[i for i in range(9)]", "1 + 2",
                "*[1, 2]", "**{'x': 1}", "{[1]: 2}", "{1, [2]}", "b'bytes'", "1j", "...", "None", "True", "(1,)",
                "{'x': 1}", "[[[[[]]]]]", "'" + "a" * 200 + "'", "not 1", "-(-1)", "1e999", "-1e999", "0x10", "1_000"]
_CODE_NUMBERS = [n for n in _EXTREME_NUMBERS if n not in ("NaN", "Infinity", "-Infinity")] + ["nan", "inf", "float('nan')"]

_UITARS_TOKENS = [
    "Thought:", "Thought: ", "Action:", "Action: ", "Reflection:", "Action_Summary:", "\n\n", ")\n\n", "(", ")", "'", '"',
    "\\'", "\\n", "\\", ",", "=", "[EOS]", "click(", "left_single(", "left_double(", "right_single(", "hover(", "drag(",
    "select(", "hotkey(", "press(", "keydown(", "type(", "scroll(", "wait()", "finished(", "call_user()", "explode(",
    "start_box=", "end_box=", "point=", "start_point=", "end_point=", "content=", "key=", "direction=", "'<point>",
    "</point>'", "<point>", "</point>", "<|box_start|>", "<|box_end|>", "'(100,200)'", "'<point>1e999 5</point>'",
    "'(-5,3)'", "'(1,2,3)'", "'(1,2,3,4)'", "'()'", "'up'", "'left'", "'ctrl alt shift super a b c d e f g h'",
    *_NOT_LITERAL, *_CODE_NUMBERS, *_EXTREME_STRINGS, "\udcc1", "\x00", "\ufeff", "é", "東京", "🙂", "(" * 200, "[" * 1000,
]
_OPENCUA_TOKENS = [
    "## Thought:\n", "## Action:\n", "## Code:\n", "## Observation:\n", "##", "```python\n", "```py\n", "```", "\n", ";",
    "    ", "(", ")", ",", "=", "'", '"', "pyautogui.", "computer.", "time.sleep(1)", "pyautogui.click(",
    "pyautogui.doubleClick(", "pyautogui.rightClick(", "pyautogui.middleClick(", "pyautogui.tripleClick(",
    "pyautogui.moveTo(", "pyautogui.dragTo(", "pyautogui.write(message=", "pyautogui.typewrite(", "pyautogui.press(keys=",
    "pyautogui.hotkey(", "pyautogui.keyDown(", "pyautogui.scroll(", "pyautogui.vscroll(", "computer.triple_click(",
    "computer.terminate(status=", "computer.wait(seconds=", "pyautogui.screenshot()", "x=", "y=", "button=",
    "clicks=", "keys=", "message=", "status=", "answer=", "seconds=", "'right'", "'middle'", "['left']", "'success'",
    "'failure'", "import os\n", "from os import system\n", "os.system('true')\n", "x = 1\n", "if True: pass\n",
    "def f(): pass\n", "with open('x') as f: pass\n", *_NOT_LITERAL, *_CODE_NUMBERS, *_EXTREME_STRINGS, "\udcc1", "\x00",
    "\ufeff", "é", "東京", "🙂", "(" * 200, "[" * 1000,
]
FAMILY_TOKENS: dict[str, list[str]] = {"ui-tars-1.5": _UITARS_TOKENS, "opencua": _OPENCUA_TOKENS}


def mutated_family_answers(family: str, seed: int, count: int) -> list[str]:
    """``count`` answers of ``family``, reproducible from ``seed``: a third nudged (often still valid),
    the rest mutated 1-4 times with the family's tokens."""
    rng = random.Random(seed)
    seeds = FAMILY_SEEDS[family]
    tokens = FAMILY_TOKENS[family]
    out = []
    for _ in range(count):
        text = rng.choice(seeds)
        gentle = rng.random() < 0.33
        for _ in range(rng.randint(1, 4)):
            text = nudge(rng, text) if gentle else mutate(rng, text, seeds, tokens)
            if len(text) > MAX_ANSWER_CHARS + 1000:  # a repeat of a repeat grows past any answer: cut as it goes
                text = text[: MAX_ANSWER_CHARS + rng.choice([-1, 0, 1])]
        out.append(text)
    return out


# -- Hypothesis ---------------------------------------------------------------------------------

_leaf = (
    st.none() | st.booleans() | st.integers() | st.integers(min_value=-(2**70), max_value=2**70) | st.floats()
    | st.text(max_size=20) | st.binary(max_size=8) | st.complex_numbers(max_magnitude=1e6)
)
py_literals = st.recursive(
    _leaf, lambda inner: st.lists(inner, max_size=4) | st.tuples(inner, inner)
    | st.dictionaries(st.text(max_size=6) | st.integers(), inner, max_size=3), max_leaves=10)
"""Python values whose repr is (mostly) a literal: what ``ast.literal_eval`` may hand the parsers."""


def _expr(draw: st.DrawFn, plausible: st.SearchStrategy[str]) -> str:
    kind = draw(st.integers(0, 9))
    if kind == 0:
        return draw(st.sampled_from(_NOT_LITERAL))
    if kind <= 3:
        return repr(draw(py_literals))
    return draw(plausible)


_coord = st.integers(-50, 2000) | st.floats(allow_nan=True, allow_infinity=True) | st.integers(-(2**70), 2**70)
_uitars_point = st.builds(lambda xs, form: form.format(*xs), st.lists(_coord, min_size=2, max_size=2),
                          st.sampled_from(["'<point>{} {}</point>'", "'({},{})'", "'<|box_start|>({},{})<|box_end|>'"]))
_uitars_box = st.builds(lambda xs: "'({},{},{},{})'".format(*xs), st.lists(_coord, min_size=4, max_size=4))
_uitars_plausible: dict[str, st.SearchStrategy[str]] = {
    "start_box": _uitars_point | _uitars_box, "end_box": _uitars_point, "point": _uitars_point,
    "start_point": _uitars_point, "end_point": _uitars_point,
    "content": st.text(max_size=30).map(repr) | st.just(repr("a" * (MAX_TEXT_CHARS + 1))),
    "key": st.sampled_from(["'ctrl c'", "'enter'", "'alt F4'", "''", "'F24'", "'é'", "'ctrl alt shift a b c'"]),
    "direction": st.sampled_from(["'up'", "'down'", "'left'", "'right'", "'sideways'"]),
}
_UITARS_NAMES = ["click", "left_single", "left_double", "right_single", "hover", "mouse_move", "drag", "select", "hotkey",
                 "press", "keydown", "type", "scroll", "wait", "finished", "call_user", "explode", "CLICK", ""]


@st.composite
def uitars_answers(draw: st.DrawFn) -> str:
    """A UI-TARS answer: an optional thought, then 0-3 calls of its names with keyword arguments drawn
    from its point forms, plausible values and arbitrary Python (sometimes positional, sometimes broken)."""
    head = draw(st.sampled_from(["Thought: ", "Reflection: ", "Action_Summary: ", "", "thought: "])) + draw(st.text(max_size=30))
    calls = []
    for _ in range(draw(st.integers(0, 3))):
        name = draw(st.sampled_from(_UITARS_NAMES))
        args = []
        for field in draw(st.lists(st.sampled_from([*_uitars_plausible, "x", "status"]), max_size=3, unique=True)):
            value = _expr(draw, _uitars_plausible.get(field, st.just("1")))
            args.append(value if draw(st.integers(0, 9)) == 0 else f"{field}={value}")
        call = f"{name}({', '.join(args)})"
        if draw(st.integers(0, 9)) == 0:
            call = call[: draw(st.integers(0, len(call)))]  # cut short
        calls.append(call)
    sep = draw(st.sampled_from(["\n\n", "\n", " "]))
    return f"{head}\nAction: {sep.join(calls)}" if draw(st.integers(0, 9)) else head + sep.join(calls)


_opencua_plausible: dict[str, st.SearchStrategy[str]] = {
    "x": _coord.map(repr), "y": _coord.map(repr),
    "button": st.sampled_from(["'left'", "'right'", "'middle'", "'primary'", "['left']", "{'b': 1}"]),
    "clicks": st.sampled_from(["1", "2", "3", "-5", "0", "True", "2.5", "10**30"]) | st.integers().map(str),
    "message": st.text(max_size=30).map(repr) | st.just(repr("a" * (MAX_TEXT_CHARS + 1))),
    "keys": st.lists(st.sampled_from(["'ctrl'", "'c'", "'enter'", "'cmd'", "'F24'", "''", "1"]), max_size=4).map(
        lambda ks: f"[{', '.join(ks)}]") | st.sampled_from(["'enter'", "'ctrl+c'", "[]"]),
    "status": st.sampled_from(["'success'", "'failure'", "'maybe'", "1", "None"]),
    "answer": st.text(max_size=10).map(repr), "seconds": st.sampled_from(["1", "0.5", "-1", "1e9", "'2'"]),
}
_OPENCUA_CALLS = ["pyautogui.click", "pyautogui.doubleClick", "pyautogui.rightClick", "pyautogui.middleClick",
                  "pyautogui.tripleClick", "pyautogui.moveTo", "pyautogui.dragTo", "pyautogui.write", "pyautogui.typewrite",
                  "pyautogui.press", "pyautogui.hotkey", "pyautogui.keyDown", "pyautogui.scroll", "pyautogui.vscroll",
                  "computer.triple_click", "computer.terminate", "computer.wait", "time.sleep", "pyautogui.screenshot",
                  "os.system", "click", "pyautogui.click.__call__"]


@st.composite
def opencua_answers(draw: st.DrawFn) -> str:
    """An OpenCUA answer: its sections (some left out or repeated), then code of 0-4 statements, mostly
    calls of its names with positional and keyword arguments drawn from plausible values and arbitrary Python."""
    lines = []
    for _ in range(draw(st.integers(0, 4))):
        if draw(st.integers(0, 9)) == 0:
            lines.append(draw(st.sampled_from(["import os", "x = 1", "pass", "for i in []: pass", "del x", "@d\ndef f(): pass"])))
            continue
        name = draw(st.sampled_from(_OPENCUA_CALLS))
        args = [_expr(draw, _opencua_plausible["x"]) for _ in range(draw(st.integers(0, 3)))]
        for field in draw(st.lists(st.sampled_from(list(_opencua_plausible)), max_size=3, unique=True)):
            args.append(f"{field}={_expr(draw, _opencua_plausible[field])}")
        lines.append(f"{name}({', '.join(args)})")
    code = "\n".join(lines)
    fence = draw(st.sampled_from(["```python\n{}\n```", "```\n{}\n```", "{}", "```python\n{}"]))
    parts = {"thought": f"## Thought:\n{draw(st.text(max_size=30))}\n", "action": f"## Action:\n{draw(st.text(max_size=20))}\n",
             "code": "## Code:\n" + fence.format(code)}
    order = draw(st.permutations(list(parts)))
    kept = [parts[k] for k in order if draw(st.integers(0, 5))]
    return "\n".join(kept) if kept else code


FAMILY_ANSWERS: dict[str, Any] = {"ui-tars-1.5": uitars_answers, "opencua": opencua_answers}


def longest(family: str) -> dict[str, str]:
    """Answers of the largest length read, shaped to be slow for the family's parser."""
    room = MAX_ANSWER_CHARS
    if family == "ui-tars-1.5":
        shapes = {
            "many calls": "Thought: t\nAction: " + "click(start_box='(1,2)')\n\n" * (room // 27),
            "one long call": "Thought: t\nAction: type(content='" + "a" * (room - 40) + "')",
            "open parentheses": "Thought: t\nAction: click(start_box=" + "(" * (room - 40),
            "many Action markers": "Action:" * (room // 7),
            "a long thought": "Thought: " + "é東 " * (room // 3 - 10) + "\nAction: wait()",
            "points": "Thought: t\nAction: click(start_box='" + "<point>1 2</point>" * (room // 20) + "')",
        }
    else:
        shapes = {
            "many calls": "## Code:\n```python\n" + "pyautogui.click(x=1, y=2)\n" * (room // 27) + "```",
            "one long call": "## Code:\n```python\npyautogui.write(message='" + "a" * (room - 60) + "')\n```",
            "open brackets": "## Code:\n```python\npyautogui.click(" + "[" * (room - 40) + "\n```",
            "many sections": "## Code:\n" * (room // 9),
            "bare pyautogui lines": "pyautogui.click(1, 2)\n" * (room // 22),
            "fences": "```python\n" * (room // 10),
        }
    return {name: text[:room] for name, text in shapes.items()}
