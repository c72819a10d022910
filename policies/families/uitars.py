"""UI-TARS-1.5 (a Qwen2.5-VL checkpoint): ``Thought: ..`` then ``Action: click(..)`` in absolute resized pixels.

Facts, from ByteDance's own code (bytedance/UI-TARS):
- Resize: ``codes/ui_tars/action_parser.py`` ``smart_resize`` with IMAGE_FACTOR 28, MIN_PIXELS 100*28*28,
  MAX_PIXELS 16384*28*28; for ``model_type="qwen25vl"`` (UI-TARS-1.5) a point is divided by the
  smart-resized width/height: absolute pixels of the resized image (README_coordinates.md).
- Prompt: ``codes/ui_tars/prompt.py`` ``COMPUTER_USE_DOUBAO`` (the user turn holds it with the instruction).
- History (bytedance/UI-TARS-desktop ``packages/ui-tars/sdk/src``: ``GUIAgent.ts`` ``run``, ``utils.ts``
  ``toVlmModelFormat`` / ``processVlmParams`` / ``convertToOpenAIMessages``): the prompt with the instruction
  as the first user turn, then per step a user turn holding only its screenshot and an assistant turn with
  the model's answer (``Thought: ..\nAction: ..``, ``getSummary`` drops a ``Reflection:``), the current
  screenshot last; at most ``MAX_IMAGE_LENGTH`` = 5 images (``shared/src/constants/vlm.ts``): older steps keep
  their assistant turns and lose their screenshots. We show at most 4 earlier screenshots plus the current
  one, the window moved two steps at a time (``families/history.py``: the prefix cache).
- Output forms: ``Thought: ..\\nAction: click(start_box='(x,y)')`` (README "Usage"), the same with
  ``<|box_start|>(x,y)<|box_end|>`` (``data/training_example.json``; UI-TARS-desktop's 1.5 prompt), the newer
  ``point='<point>x y</point>'``, ``start_point=`` / ``end_point=`` (``parse_action_to_structure_output``),
  ``start_box='[x1, y1, x2, y2]'`` (UI-TARS-desktop's SDK prompt), several actions split by ")\\n\\n". A 4-number
  box is answered at its centre. The newer argument names are read as the older ones (``KEY_MAPPING``), by name.
- Actions: click, left_single, left_double, right_single, hover, drag / select, hotkey(key='ctrl c'),
  press / keydown(key=), type(content='..', "\\n" at the end submits), scroll(direction=up|down|left|right,
  5 wheel clicks; left and right are HScroll), wait() (5 s), finished(content=..), call_user() (the model asks a
  person for help: CallUser) (``parsing_response_to_pyautogui_code``, prompt.py). ``call_user()`` is not in
  prompt.py's ``COMPUTER_USE_DOUBAO``; UI-TARS-desktop's prompts (``apps/ui-tars/src/main/agent/prompts.ts``,
  the SDK's ``SYSTEM_PROMPT``) list it, so our prompt adds that line.
- Checked against ``ui-tars`` 0.5.1 (PyPI: ``parse_action_to_structure_output`` with ``model_type="qwen25vl"``,
  then ``parsing_response_to_pyautogui_code``) on generated answers (tests/agreement); where we differ on
  purpose, ``UITARS15.deliberate`` says why.
"""

from __future__ import annotations

import re
from typing import Any

from guiagent.policies.base import StepSummary
from guiagent.policies.families.base import OFF_SCREEN, WHEEL_CLICK_PIXELS, ModelFamily, numbers_in, point_of
from guiagent.policies.families.history import error_note, images_of
from guiagent.policies.families.pycalls import Call, parse_call
from guiagent.policies.prompts import echoed_answer
from guiagent.tools import (
    Action,
    ActionError,
    CallUser,
    DoubleClick,
    HScroll,
    Key,
    LeftClick,
    LeftClickDrag,
    MouseMove,
    RightClick,
    ScreenMapping,
    Scroll,
    Terminate,
    Type,
    Wait,
)
from guiagent.tools.actions import EnvKind
from guiagent.tools.parsing import ParsedAnswer, ParseError, Protocol

COMPUTER_USE_DOUBAO = """You are a GUI agent. You are given a task and your action history, with screenshots. You need to perform the next action to complete the task.

## Output Format
```
Thought: ...
Action: ...
```

## Action Space

click(point='<point>x1 y1</point>')
left_double(point='<point>x1 y1</point>')
right_single(point='<point>x1 y1</point>')
drag(start_point='<point>x1 y1</point>', end_point='<point>x2 y2</point>')
hotkey(key='ctrl c') # Split keys with a space and use lowercase. Also, do not use more than 3 keys in one hotkey action.
type(content='xxx') # Use escape characters \\', \\\", and \\n in content part to ensure we can parse the content in normal python string format. If you want to submit your input, use \\n at the end of content. 
scroll(point='<point>x1 y1</point>', direction='down or up or right or left') # Show more information on the `direction` side.
wait() #Sleep for 5s and take a screenshot to check for any changes.
finished(content='xxx') # Use escape characters \\', \\", and \\n in content part to ensure we can parse the content in normal python string format.
call_user() # Submit the task and call the user when the task is unsolvable, or when you need the user's help.


## Note
- Use {language} in `Thought` part.
- Write a small plan and finally summarize your next action (with its target element) in one sentence in `Thought` part.

## User Instruction
{instruction}
"""

_THOUGHT = re.compile(r"^(?:Thought|Reflection|Action_Summary):\s*(.*?)(?=\s*Action:|\Z)", re.DOTALL)
_TYPE = re.compile(r"type\(content='(.*)'\)", re.DOTALL)
_UNESCAPED_QUOTE = re.compile(r"(?<!\\)'")
SCROLL_CLICKS = 5  # parsing_response_to_pyautogui_code scrolls 5 (up) or -5 (down) per scroll action
# ui_tars action_parser.py KEY_MAPPING: the newer argument names, read as the older ones (names only, never text)
ARGUMENT_NAMES = {"point": "start_box", "start_point": "start_box", "end_point": "end_box"}
# the prompt's scroll(direction='down or up or right or left'): wheel, sign (up and right positive)
DIRECTIONS: dict[str, tuple[type[Scroll] | type[HScroll], int]] = {
    "up": (Scroll, 1), "down": (Scroll, -1), "right": (HScroll, 1), "left": (HScroll, -1)}
_POINTERS = {"click": LeftClick, "left_single": LeftClick, "left_double": DoubleClick, "right_single": RightClick,
             "hover": MouseMove, "mouse_move": MouseMove}


def _box(value: object, what: str) -> tuple[float, float]:
    """A point from any of the forms: '<point>x y</point>', '(x,y)', '<|box_start|>(x,y)<|box_end|>', a
    4-number box (its centre), '[x1, y1, x2, y2]'."""
    if not isinstance(value, str):
        raise ParseError(f"{what}: expected a point like '<point>x y</point>', got {value!r}")
    return point_of(numbers_in(value), what)


def _to_actions(name: str, kw: dict[str, Any], what: str) -> list[Action]:
    start = kw.get("start_box")
    if name in _POINTERS:
        if start is None:
            raise ParseError(f"{what}: {name} needs point='<point>x y</point>'")
        return [_POINTERS[name](coordinate=_box(start, what))]
    if name in ("drag", "select"):
        if start is None or kw.get("end_box") is None:
            raise ParseError(f"{what}: {name} needs start_point and end_point")
        return [LeftClickDrag(start_coordinate=_box(start, what), coordinate=_box(kw["end_box"], what))]
    if name in ("hotkey", "press", "keydown"):
        keys = kw.get("key", kw.get("hotkey", kw.get("press", "")))
        if not isinstance(keys, str) or not keys.strip():
            raise ParseError(f"{what}: {name} needs key='...'")
        return [Key(keys=keys.split())]
    if name == "type":
        content = kw.get("content")
        if not isinstance(content, str):
            raise ParseError(f"{what}: type needs content='...'")
        submit = content.endswith("\n")
        text = content.rstrip("\n")
        out: list[Action] = [Type(text=text)] if text else []
        return out + ([Key(keys=["enter"])] if submit else [])
    if name == "scroll":
        direction = kw.get("direction")
        if not isinstance(direction, str) or direction.strip().lower() not in DIRECTIONS:
            raise ParseError(f"{what}: scroll needs direction='up', 'down', 'left' or 'right', got {direction!r}")
        wheel, sign = DIRECTIONS[direction.strip().lower()]
        return [wheel(coordinate=_box(start, what) if start is not None else None,
                      pixels=sign * SCROLL_CLICKS * WHEEL_CLICK_PIXELS)]
    if name == "wait":
        return [Wait(time=5)]
    if name == "finished":
        content = kw.get("content")
        return [Terminate(status="success", answer=content if isinstance(content, str) and content else None)]
    if name == "call_user":
        return [CallUser()]
    raise ParseError(f"{what}: unknown action {name!r} (click, left_double, right_single, drag, hotkey, type, "
                     "scroll, wait, finished, call_user)")


def _read_call(chunk: str, what: str) -> Call:
    """One action call as ui_tars reads it: as Python, line breaks inside its strings taken as ``\\n``
    (``ast_parse`` gets the text with "\\n" escaped), and a ``type`` whose content has unescaped single quotes
    read after escaping them (``escape_single_quotes``), so its other escapes mean what they say."""
    try:
        return parse_call(chunk, what)
    except ParseError as first:
        error = first
    try:
        return parse_call(chunk.replace("\n", "\\n"), what)
    except ParseError:
        pass
    m = _TYPE.fullmatch(chunk)
    if m is None:
        raise error
    content = _UNESCAPED_QUOTE.sub(r"\\'", m.group(1))
    return parse_call(f"type(content='{content}')".replace("\n", "\\n"), what)


def parse_uitars(text: str) -> ParsedAnswer:
    """Parse a UI-TARS answer (``Thought: ..`` then ``Action: ..``)."""
    if not text or not text.strip():
        raise ParseError("empty answer: expected \"Thought: ...\" and \"Action: ...\"")
    text = text.strip().replace("[EOS]", "")
    if "Action:" not in text:
        raise ParseError("no \"Action:\" found: answer with Thought: ... then Action: click(point='<point>x y</point>')")
    m = _THOUGHT.match(text)
    thought = m.group(1).strip() if m else ""
    body = text.split("Action:")[-1].strip()
    actions: list[Action] = []
    chunks = [c for c in body.split(")\n\n") if c.strip()]
    for i, chunk in enumerate(chunks, 1):
        what = f"action {i}" if len(chunks) > 1 else "action"
        chunk = chunk.strip()
        if not chunk.endswith(")"):
            chunk += ")"
        call = _read_call(chunk, what)
        if call.args:
            raise ParseError(f"{what}: {call.name} takes keyword arguments only")
        kwargs = {ARGUMENT_NAMES.get(k, k): v for k, v in call.kwargs.items()}
        try:
            actions += _to_actions(call.name, kwargs, what)
        except ParseError:
            raise
        except (ActionError, ValueError) as exc:
            raise ParseError(f"{what}: {exc}") from None
    if not actions:  # found by the fuzz: "Action:" with nothing (or an empty type) after it did nothing, silently
        raise ParseError("no action after \"Action:\": answer with Action: click(point='<point>x y</point>')")
    return ParsedAnswer(thought=thought, actions=actions)


def _pt(p: tuple[float, float]) -> str:
    return f"<point>{round(p[0])} {round(p[1])}</point>"


def quoted(text: str) -> str:
    """``text`` as a single-quoted string with the prompt's escapes (\\', \\", \\n): the only quoting
    ui_tars's ``type(content='(.*?)')`` reads."""
    escaped = text.replace("\\", "\\\\").replace("'", "\\'").replace('"', '\\"')
    return "'" + escaped.replace("\n", "\\n").replace("\r", "\\r").replace("\t", "\\t") + "'"


def format_uitars(actions: list[Action], thought: str) -> str:
    """Actions written in UI-TARS-1.5's prompt form (training labels). A failed ``terminate`` is written
    ``call_user()``: the prompt's way to hand an unsolvable task back (it reads back as CallUser)."""
    calls = []
    for a in actions:
        match a:
            case DoubleClick(coordinate=p) if p is not None:
                calls.append(f"left_double(point='{_pt(p)}')")
            case RightClick(coordinate=p) if p is not None:
                calls.append(f"right_single(point='{_pt(p)}')")
            case LeftClick(coordinate=p) if p is not None:
                calls.append(f"click(point='{_pt(p)}')")
            case MouseMove(coordinate=p):
                calls.append(f"hover(point='{_pt(p)}')")
            case LeftClickDrag(start_coordinate=s, coordinate=e) if s is not None:
                calls.append(f"drag(start_point='{_pt(s)}', end_point='{_pt(e)}')")
            case Key(keys=keys):
                calls.append(f"hotkey(key={quoted(' '.join(keys))})")
            case Type(text=t):
                calls.append(f"type(content={quoted(t)})")
            case Scroll(coordinate=p, pixels=px) | HScroll(coordinate=p, pixels=px):
                where = f"point='{_pt(p)}', " if p is not None else ""
                names = ("up", "down") if isinstance(a, Scroll) else ("right", "left")
                calls.append(f"scroll({where}direction='{names[0] if px > 0 else names[1]}')")
            case Wait():
                calls.append("wait()")
            case Terminate(status="success", answer=ans):
                calls.append(f"finished(content={quoted(ans or '')})")
            case Terminate() | CallUser():
                calls.append("call_user()")
            case _:
                raise ValueError(f"{a.action!r} has no UI-TARS form")
    return f"Thought: {thought}\nAction: " + "\n\n".join(calls)


class UITARS15(ModelFamily):
    name = "ui-tars-1.5"
    summary = "UI-TARS-1.5 (ByteDance, Qwen2.5-VL based)"
    min_pixels = 100 * 28 * 28
    keeps_drag_start = True
    video = "none"
    history_images = 4  # plus the current screenshot: UI-TARS-desktop's MAX_IMAGE_LENGTH = 5
    protocols = ("tool-call",)
    resize_rule = "smart_resize, factor 28, min 100*28*28"
    forms = "Thought: ..\\nAction: click(start_box='(x,y)') | point='<point>x y</point>'"
    ids = (r"ui-tars", r"uitars")
    checked_against = "ui-tars 0.5.1 (parse_action_to_structure_output, qwen25vl; parsing_response_to_pyautogui_code)"
    deliberate = {
        **OFF_SCREEN,
        "hscroll": "ui-tars writes no code for a left or right scroll (parsing_response_to_pyautogui_code knows up "
                   "and down only), though the prompt offers them: we scroll sideways (HScroll, 5 wheel clicks).",
        "scroll-point": "ui-tars hands pyautogui.scroll the point as a fraction of the image (start_box[0], "
                        "start_box[1]), where it takes pixels, and a box's top-left corner: we scroll at the point "
                        "the model gave (a box's centre), mapped as a click's.",
        "names-only": "ui-tars renames point= to start_box= (and <point>..</point> to (x,y)) across the whole answer, "
                      "so typed text changes (type(content='--endpoint=x') types '--endstart_box=x'): we rename "
                      "argument names only.",
        "submit-newline": "A content ending in \\n: ui-tars pastes the text with its line break, then presses Enter; "
                          "we type the text without it and press Enter once (the prompt: \\n at the end submits).",
        "quote-escape": "ui-tars's pyautogui writer escapes single quotes a second time (escape_single_quotes in "
                        "parsing_response_to_pyautogui_code), so it pastes a backslash before each '; we type the "
                        "text the model wrote.",
        "lazy-content": "ui-tars cuts a type's content at its first ') (type\\(content='(.*?)'\\)), so a text with ') "
                        "before its end comes out mangled (and unsubmitted): we read the whole argument.",
        "box-tokens": "ui-tars refuses start_box='<|box_start|>(x,y)<|box_end|>' (float() of '<|box_start|>x'), "
                      "the form of UI-TARS's training example and UI-TARS-desktop's 1.5 prompt: we read it.",
        "bracket-box": "ui-tars refuses start_box='[x1, y1, x2, y2]' (it strips parentheses only), the form of "
                       "UI-TARS-desktop's SDK prompt: we read it, a box at its centre.",
    }
    serve = ("vllm serve ByteDance-Seed/UI-TARS-1.5-7B --max-model-len 32768 --limit-mm-per-prompt "
             "'{\"image\": 5}' --gpu-memory-utilization 0.9")

    def system_prompt(self, protocol: Protocol, mapping: ScreenMapping, env: EnvKind) -> str:
        # its own trained vocabulary in every env (no navigate/back)
        return "You are a helpful assistant."

    def task_text(self, task: str) -> str:
        return COMPUTER_USE_DOUBAO.format(language="English", instruction=task)

    def assistant_text(self, step: StepSummary) -> str:
        return re.sub(r"Reflection:.*?(?=Action_Summary:|Action:|\Z)", "", echoed_answer(step), flags=re.DOTALL).strip()

    def messages(self, protocol: Protocol, system: str, task: str, history: list[StepSummary],
                 media: list[dict[str, Any]], past: dict[int, dict[str, Any]]) -> tuple[list[dict[str, Any]], dict[str, Any]]:
        messages: list[dict[str, Any]] = [{"role": "system", "content": system}, {"role": "user", "content": task}]
        note: list[dict[str, Any]] = []  # the previous step's error, for the next user turn
        for i, step in enumerate(history):
            if i in past:
                messages.append({"role": "user", "content": [*note, past[i]]})
            elif note:
                messages.append({"role": "user", "content": note})
            messages.append({"role": "assistant", "content": self.assistant_text(step)})
            note = error_note(step)
        messages.append({"role": "user", "content": [*note, *images_of(media)]})
        return messages, {}

    def parse(self, text: str, protocol: Protocol, env: EnvKind) -> ParsedAnswer:
        return parse_uitars(text)

    def format_answer(self, actions: list[Action], thought: str, protocol: Protocol, env: EnvKind) -> str:
        return format_uitars(actions, thought)

    def answer_regex(self, protocol: Protocol, mapping: ScreenMapping, actions: list[str] | None,
                     thought: bool, env: EnvKind) -> str:
        from guiagent.policies.constrained import int_range

        point = rf"<point>{int_range(0, mapping.model_width)} {int_range(0, mapping.model_height)}</point>"
        return rf"Thought: [A-Z][A-Za-z ,.]{{0,60}}\nAction: (?:click|left_double|right_single)\(point='{point}'\)"
