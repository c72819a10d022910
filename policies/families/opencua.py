"""OpenCUA (Qwen2.5-VL based): ``## Thought / ## Action / ## Code`` with pyautogui code, read as data.

Facts, from XLANG Lab's own code (xlang-ai/OpenCUA):
- Resize and coordinates: ``evaluation/agentnetbench/agent/opencua.py`` (``coord_type="qwen25"``,
  ``smart_resize_kwargs`` factor 28, min_pixels 3136, max_pixels 12845056): the model answers absolute
  pixels of the smart-resized image, which the evaluator divides by the resized width/height. The
  README's OSWorld command passes ``--coordinate_type qwen25`` for OpenCUA-7B/32B.
- Prompt: the same file's ``L2_SYSTEM_PROMPTS`` (OSWorld's OpenCUAAgent uses L2 by default, README) and
  ``INSTRUTION_TEMPLATE`` for the user turn; answers follow ``L2_RESPONSE_TEMPLATE``
  (``## Thought:`` / ``## Action:`` / ``## Code:``).
- Code: ``pyautogui.click/doubleClick/rightClick/moveTo/dragTo/write/press/hotkey/scroll`` and
  ``computer.triple_click`` / ``computer.terminate`` (``extract_actions``). We read it with ``ast`` as data
  (``policies/families/pycalls.py``); it is never executed.
- Code: ``pyautogui.press(key, presses=n)`` presses each key in turn, n times (pyautogui's meaning; the prompt asks
  to "consolidate repetitive keypresses with count"); ``hotkey(keys=[..])`` / ``press(keys=[..])`` are read as
  AgentNetBench's ``extract_actions`` reads them (OpenCUA's own data writes them so).
- Checked against OSWorld's OpenCUA agent (``mm_agents/opencua/opencua_agent.py``
  ``parse_response_to_cot_and_action``, ``project_coordinate_to_absolute_scale``, qwen25) and pyautogui's
  signatures, written out in tests/agreement/opencua.py; ``OpenCUA.deliberate`` says where we differ and why.
- Video: none (vLLM's ``OpenCUAProcessingInfo.get_supported_mm_limits`` is images only).
- History: OSWorld's ``mm_agents/opencua/opencua_agent.py`` ``OpenCUAAgent.predict`` (the agent the README
  names: "3 images in total", ``max_image_history_length=3``), as ``evaluation/agentnetbench/agent/opencua.py``
  ``prompt`` does: the system prompt; the steps older than the image window as one assistant turn, their
  ``# Step k:\n## Action:\n..`` texts (``STEP_TEMPLATE`` + ``ACTION_HISTORY_TEMPLATE``) joined by newlines;
  each later step as a user turn with its screenshot and an assistant turn with its text; last, one user
  turn with the current screenshot and then the instruction (``INSTRUTION_TEMPLATE``). We show at most 2
  earlier screenshots, the window moved two steps at a time (``families/history.py``: the prefix cache).
"""

from __future__ import annotations

import re
from typing import Any

from guiagent.policies.base import StepSummary
from guiagent.policies.families.base import OFF_SCREEN, WHEEL_CLICK_PIXELS, ModelFamily
from guiagent.policies.families.history import error_note, images_of
from guiagent.policies.families.pycalls import Call, parse_calls
from guiagent.policies.prompts import echoed_answer
from guiagent.tools import (
    Action,
    ActionError,
    DoubleClick,
    HScroll,
    Key,
    LeftClick,
    LeftClickDrag,
    MiddleClick,
    MouseMove,
    RightClick,
    ScreenMapping,
    Scroll,
    Terminate,
    TripleClick,
    Type,
    Wait,
)
from guiagent.tools.actions import EnvKind
from guiagent.tools.parsing import ParsedAnswer, ParseError, Protocol

L2_SYSTEM_PROMPT = 'You are a GUI agent. You are given a task and a screenshot of the screen. You need to perform a series of pyautogui actions to complete the task.\n\nFor each step, provide your response in this format:\n\nThought:\n  - Step by Step Progress Assessment:\n    - Analyze completed task parts and their contribution to the overall goal\n    - Reflect on potential errors, unexpected results, or obstacles\n    - If previous action was incorrect, predict a logical recovery step\n  - Next Action Analysis:\n    - List possible next actions based on current state\n    - Evaluate options considering current state and previous actions\n    - Propose most logical next action\n    - Anticipate consequences of the proposed action\n  - For Text Input Actions:\n    - Note current cursor position\n    - Consolidate repetitive actions (specify count for multiple keypresses)\n    - Describe expected final text outcome\n    - Use first-person perspective in reasoning\n\nAction:\n  Provide clear, concise, and actionable instructions:\n  - If the action involves interacting with a specific target:\n    - Describe target explicitly without using coordinates\n    - Specify element names when possible (use original language if non-English)\n    - Describe features (shape, color, position) if name unavailable\n    - For window control buttons, identify correctly (minimize "—", maximize "□", close "X")\n  - if the action involves keyboard actions like \'press\', \'write\', \'hotkey\':\n    - Consolidate repetitive keypresses with count\n    - Specify expected text outcome for typing actions\n\nFinally, output the action as PyAutoGUI code or the following functions:\n- {"name": "computer.triple_click", "description": "Triple click on the screen", "parameters": {"type": "object", "properties": {"x": {"type": "number", "description": "The x coordinate of the triple click"}, "y": {"type": "number", "description": "The y coordinate of the triple click"}}, "required": ["x", "y"]}}\n- {"name": "computer.terminate", "description": "Terminate the current task and report its completion status", "parameters": {"type": "object", "properties": {"status": {"type": "string", "enum": ["success", "failure"], "description": "The status of the task"}}, "required": ["status"]}}'
INSTRUCTION_TEMPLATE = '\n# Task Instruction:\n{instruction}\n\nPlease generate the next move according to the screenshot, task instruction and previous steps (if provided).\n'
L2_RESPONSE_TEMPLATE = '## Thought:\n{thought}\n\n## Action:\n{action}\n\n## Code:\n{code}\n'
STEP_TEMPLATE = "# Step {step_num}:\n"
ACTION_HISTORY_TEMPLATE = "## Action:\n{action}\n"

_SECTION = re.compile(r"^##\s*(Thought|Action|Code|Observation)\s*:?\s*$", re.MULTILINE)
_FENCE = re.compile(r"```(?:python|py|code)?\s*\n(.*?)```", re.DOTALL)
MAX_PRESSES = 100


def _sections(text: str) -> dict[str, str]:
    marks = list(_SECTION.finditer(text))
    return {m.group(1).lower(): text[m.end(): marks[i + 1].start() if i + 1 < len(marks) else len(text)].strip()
            for i, m in enumerate(marks)}


def _xy(call: Call, what: str, first: int = 0) -> tuple[float, float] | None:
    """x and y by keyword, or positional from index ``first`` (scroll's come after its clicks)."""
    args = call.args[first:]
    x = call.kwargs.get("x", args[0] if len(args) >= 2 else None)
    y = call.kwargs.get("y", args[1] if len(args) >= 2 else None)
    if x is None and y is None:
        return None
    if not isinstance(x, (int, float)) or not isinstance(y, (int, float)) or isinstance(x, bool) or isinstance(y, bool):
        raise ParseError(f"{what}: {call.name} needs numeric x and y, got x={x!r}, y={y!r}")
    try:
        return float(x), float(y)
    except OverflowError:  # found by the fuzz: an integer past any float was an OverflowError
        raise ParseError(f"{what}: {call.name} needs x and y within the screen") from None


def _keys(call: Call) -> list[str]:
    keys = call.kwargs.get("keys", call.args[0] if len(call.args) == 1 else list(call.args))
    keys = [keys] if isinstance(keys, str) else keys
    if not isinstance(keys, list) or not keys or not all(isinstance(k, str) for k in keys):
        raise ParseError(f"{call.name}: expected key names, got {keys!r}")
    return ["ctrl" if k.lower() in ("cmd", "command") else k for k in keys]


def _presses(call: Call, what: str) -> list[Action]:
    """``pyautogui.press(keys, presses=1)``: each key of ``keys`` (a name or a list) pressed in turn, ``presses``
    times (the prompt: "Consolidate repetitive keypresses with count")."""
    presses = call.kwargs.get("presses", call.args[1] if len(call.args) >= 2 else 1)
    if not isinstance(presses, int) or isinstance(presses, bool) or not 1 <= presses <= MAX_PRESSES:
        raise ParseError(f"{what}: press takes presses=1..{MAX_PRESSES}, got {presses!r}")
    keys = _keys(call._replace(args=call.args[:1]))
    return [Key(keys=[k]) for _ in range(presses) for k in keys]


def _action(call: Call, what: str) -> list[Action]:
    name = call.name.removeprefix("pyautogui.").removeprefix("computer.")
    pointer = name in ("click", "doubleClick", "rightClick", "middleClick", "tripleClick", "triple_click", "moveTo",
                       "dragTo", "scroll", "vscroll", "hscroll")
    p = _xy(call, what, first=1 if name in ("scroll", "vscroll", "hscroll") else 0) if pointer else None
    if name == "click":
        button, clicks = call.kwargs.get("button", "left"), call.kwargs.get("clicks", 1)
        if not isinstance(button, str):  # found by the fuzz: a dict here was a TypeError
            raise ParseError(f"{what}: click's button must be 'left', 'right' or 'middle', got {button!r}")
        cls = {"right": RightClick, "middle": MiddleClick}.get(button, LeftClick)
        if cls is LeftClick and clicks == 2:
            cls = DoubleClick
        elif cls is LeftClick and clicks == 3:
            cls = TripleClick
        return [cls(coordinate=p)]
    simple = {"doubleClick": DoubleClick, "rightClick": RightClick, "middleClick": MiddleClick,
              "tripleClick": TripleClick, "triple_click": TripleClick}
    if name in simple:
        return [simple[name](coordinate=p)]
    if name == "moveTo":
        if p is None:
            raise ParseError(f"{what}: moveTo needs x and y")
        return [MouseMove(coordinate=p)]
    if name == "dragTo":
        if p is None:
            raise ParseError(f"{what}: dragTo needs x and y")
        return [LeftClickDrag(coordinate=p)]
    if name in ("write", "typewrite"):
        text = call.kwargs.get("message", call.args[0] if call.args else None)
        if not isinstance(text, str):
            raise ParseError(f"{what}: {name} needs message='...'")
        return [Type(text=text)]
    if name == "press":
        return _presses(call, what)
    if name in ("hotkey", "keyDown"):
        return [Key(keys=_keys(call))]
    if name in ("scroll", "vscroll", "hscroll"):
        clicks = call.kwargs.get("clicks", call.args[0] if call.args else None)
        if not isinstance(clicks, int) or isinstance(clicks, bool):
            raise ParseError(f"{what}: {name} needs a whole number of clicks, got {clicks!r}")
        wheel = HScroll if name == "hscroll" else Scroll
        return [wheel(coordinate=p, pixels=clicks * WHEEL_CLICK_PIXELS)]
    if name in ("wait", "sleep"):
        seconds = call.kwargs.get("seconds", call.kwargs.get("time", call.args[0] if call.args else 1))
        return [Wait(time=seconds)]
    if name == "terminate":
        status = call.kwargs.get("status", call.args[0] if call.args else None)
        if status not in ("success", "failure"):
            raise ParseError(f"{what}: terminate needs status='success' or 'failure', got {status!r}")
        answer = call.kwargs.get("answer")
        return [Terminate(status=status, answer=answer if isinstance(answer, str) else None)]
    raise ParseError(f"{what}: {call.name!r} is not an action the runtime reads (click, doubleClick, rightClick, "
                     "moveTo, dragTo, write, press, hotkey, scroll, computer.triple_click, computer.terminate)")


def parse_opencua(text: str) -> ParsedAnswer:
    """Parse an OpenCUA answer: its ``## Code`` section (or the bare code) as pyautogui calls."""
    if not text or not text.strip():
        raise ParseError("empty answer: expected ## Thought, ## Action and ## Code with pyautogui code")
    sections = _sections(text)
    code = sections.get("code")
    if code is None:
        fenced = _FENCE.search(text)
        lines = [ln.strip() for ln in text.splitlines() if ln.strip().startswith(("pyautogui.", "computer."))]
        code = fenced.group(1) if fenced else "\n".join(lines)
    else:
        fenced = _FENCE.search(code)
        code = fenced.group(1) if fenced else code.strip("`")
    if not code.strip():
        raise ParseError("no code found: end with ## Code: and a pyautogui call, e.g. pyautogui.click(x=100, y=200)")
    actions: list[Action] = []
    for i, call in enumerate(parse_calls(code), 1):
        if not call.name.startswith(("pyautogui.", "computer.", "time.sleep")):
            raise ParseError(f"call {i}: {call.name!r} is not a pyautogui or computer call")
        try:
            actions += _action(call, f"call {i}")
        except ParseError:
            raise
        except (ActionError, ValueError) as exc:
            raise ParseError(f"call {i}: {exc}") from None
    if not actions:
        raise ParseError("the code holds no action")
    thought = sections.get("thought") or sections.get("action") or ""
    return ParsedAnswer(thought=thought, actions=actions)


def _code(a: Action) -> str:
    def xy(p: tuple[float, float]) -> str:
        return f"x={round(p[0])}, y={round(p[1])}"

    match a:
        case LeftClick(coordinate=p) if p is not None:
            return f"pyautogui.click({xy(p)})"
        case DoubleClick(coordinate=p) if p is not None:
            return f"pyautogui.doubleClick({xy(p)})"
        case RightClick(coordinate=p) if p is not None:
            return f"pyautogui.rightClick({xy(p)})"
        case MiddleClick(coordinate=p) if p is not None:
            return f"pyautogui.middleClick({xy(p)})"
        case TripleClick(coordinate=p) if p is not None:
            return f"computer.triple_click({xy(p)})"
        case MouseMove(coordinate=p):
            return f"pyautogui.moveTo({xy(p)})"
        case LeftClickDrag(start_coordinate=s, coordinate=e):
            move = f"pyautogui.moveTo({xy(s)})\n" if s is not None else ""
            return f"{move}pyautogui.dragTo({xy(e)}, button='left')"
        case Type(text=t):
            return f"pyautogui.write(message={t!r})"
        case Key(keys=keys):
            return f"pyautogui.press(keys={keys!r})" if len(keys) == 1 else f"pyautogui.hotkey(keys={keys!r})"
        case Scroll(coordinate=p, pixels=px) | HScroll(coordinate=p, pixels=px):
            # AgentNet's form: the wheel turns where the cursor is, so a point is a moveTo first
            move = f"pyautogui.moveTo({xy(p)})\n" if p is not None else ""
            return f"{move}pyautogui.{a.action}({round(px / WHEEL_CLICK_PIXELS) or (1 if px > 0 else -1)})"
        case Wait(time=t):
            return f"computer.wait(seconds={t:g})"
        case Terminate(status=s):
            return f"computer.terminate(status={s!r})"
    raise ValueError(f"{a.action!r} has no pyautogui form")


def format_opencua(actions: list[Action], thought: str) -> str:
    """Actions written in OpenCUA's L2 answer form (training labels). A wait or terminate is an answer of its
    own: OSWorld reads a code block holding ``computer.wait`` or ``computer.terminate`` as that alone."""
    if len(actions) > 1 and any(isinstance(a, Wait | Terminate) for a in actions):
        raise ValueError("OpenCUA's form has wait and terminate as answers of their own, not with other actions")
    code = "\n".join(_code(a) for a in actions)
    summary = "; ".join(a.action for a in actions)
    return L2_RESPONSE_TEMPLATE.format(thought=thought, action=summary, code=f"```python\n{code}\n```")


class OpenCUA(ModelFamily):
    name = "opencua"
    summary = "OpenCUA-7B/32B/72B (XLANG Lab, Qwen2.5-VL based)"
    video = "none"
    history_images = 2  # plus the current screenshot: "3 images in total"
    protocols = ("tool-call",)
    resize_rule = "smart_resize, factor 28"
    forms = "## Thought / ## Action / ## Code: pyautogui.click(x=.., y=..) (read as data)"
    ids = (r"opencua",)
    checked_against = ("OSWorld mm_agents/opencua (parse_response_to_cot_and_action, project_coordinate_to_absolute_scale "
                       "qwen25) + pyautogui's signatures; AgentNetBench extract_actions for keys=")
    deliberate = {
        **OFF_SCREEN,
        "unit-square": "OSWorld's projection reads a point whose x and y are both in [0, 1] as a fraction of the "
                       "screen; OpenCUA-7B/32B answer in pixels of the resized image (coordinate_type qwen25), so "
                       "we read every point as pixels.",
        "scroll-point": "OSWorld's projection has no entry for scroll: a scroll(n, x=.., y=..) is rewritten without "
                        "its clicks (the call fails) and a scroll(n, x, y) keeps the model's pixels: we scroll at "
                        "the mapped point. Our labels write AgentNet's form, moveTo then scroll(n).",
        "computer-point": "OSWorld projects pyautogui.* calls only, so computer.triple_click keeps the model's "
                          "pixels: we map its point as every other.",
        "paren-text": "OSWorld's projection cuts each call at its first ')'; when that falls inside a string "
                      "(write(message=':)')) it leaves the whole answer's points in the model's pixels: we map "
                      "every point.",
    }
    architectures = (r"OpenCUAForConditionalGeneration", r"^opencua")
    serve = "vllm serve xlangai/OpenCUA-7B --trust-remote-code --served-model-name opencua-7b --limit-mm-per-prompt '{\"image\": 3}'"

    def system_prompt(self, protocol: Protocol, mapping: ScreenMapping, env: EnvKind) -> str:
        # its own trained vocabulary in every env (no navigate/back)
        return L2_SYSTEM_PROMPT

    def task_text(self, task: str) -> str:
        return INSTRUCTION_TEMPLATE.format(instruction=task)

    def assistant_text(self, step: StepSummary) -> str:
        """An earlier step as its history shows it: ``# Step k:`` and the answer's ``## Action`` text (the
        thought where there is none, the answer itself where it did not parse)."""
        action = _sections(step.raw or "").get("action") or step.thought or echoed_answer(step).strip()
        return STEP_TEMPLATE.format(step_num=step.index + 1) + ACTION_HISTORY_TEMPLATE.format(action=action)

    def messages(self, protocol: Protocol, system: str, task: str, history: list[StepSummary],
                 media: list[dict[str, Any]], past: dict[int, dict[str, Any]]) -> tuple[list[dict[str, Any]], dict[str, Any]]:
        messages: list[dict[str, Any]] = [{"role": "system", "content": system}]
        first_shown = min(past, default=len(history))
        if first_shown:
            older = "\n".join(self.assistant_text(step) for step in history[:first_shown])
            messages.append({"role": "assistant", "content": older})
        note = error_note(history[first_shown - 1]) if first_shown else []
        for i in range(first_shown, len(history)):
            shown = [past[i]] if i in past else []
            if shown or note:
                messages.append({"role": "user", "content": [*note, *shown]})
            messages.append({"role": "assistant", "content": self.assistant_text(history[i])})
            note = error_note(history[i])
        messages.append({"role": "user", "content": [*note, *images_of(media), {"type": "text", "text": task}]})
        return messages, {}

    def parse(self, text: str, protocol: Protocol, env: EnvKind) -> ParsedAnswer:
        return parse_opencua(text)

    def format_answer(self, actions: list[Action], thought: str, protocol: Protocol, env: EnvKind) -> str:
        return format_opencua(actions, thought)

    def answer_regex(self, protocol: Protocol, mapping: ScreenMapping, actions: list[str] | None,
                     thought: bool, env: EnvKind) -> str:
        from guiagent.policies.constrained import int_range

        xy = rf"x={int_range(0, mapping.model_width)}, y={int_range(0, mapping.model_height)}"
        return (r"## Thought:\n[A-Z][A-Za-z ,.]{0,60}\n\n## Action:\n[A-Z][A-Za-z ,.]{0,40}\n\n## Code:\n"
                rf"```python\npyautogui\.(?:click|doubleClick|rightClick)\({xy}\)\n```")
