"""OpenCUA answers, and their authors' reading of them, written out from their code (no package is published).

The reading is OSWorld's OpenCUA agent, the one OpenCUA's README runs (xlang-ai/OSWorld
``mm_agents/opencua/opencua_agent.py``, read in its fork karakuri-ai/OSWorld-JP at 3301bf9):
- ``parse_response_to_cot_and_action``: the last code block (```` ```(?:code|python)?\\s*(.*?)\\s*``` ````); a block
  holding ``computer.wait`` is WAIT, one holding ``computer.terminate`` is FAIL when it says "fail", else DONE
  when it says "success"; otherwise the ``## Action:`` section must be there and the code's coordinates are
  projected, then the code runs in the VM with pyautogui.
- ``project_coordinate_to_absolute_scale`` with ``coordinate_type="qwen25"``: each ``pyautogui\\.\\w+\\([^\\)]*\\)``
  of the code whose function has x and y (click, rightClick, middleClick, doubleClick, tripleClick, moveTo,
  dragTo, by position or keyword) is rewritten with ``int(x / width * screen_width)`` (width: the
  smart-resized width, factor 28, 3136 .. 12845056 pixels), or ``int(round(x * width))`` when both x and y are
  in [0, 1]; a call it cannot parse (its first ")" inside a string) leaves the whole code as it was.
- pyautogui's own signatures then say what runs: ``click(x, y, clicks, interval, button)``, ``press(keys,
  presses)`` (each key in turn), ``hotkey(*keys)``, ``scroll(clicks, x, y)`` ...; ``hotkey(keys=[...])`` and
  ``press(keys=[...])``, the form of OpenCUA's own data, read as AgentNetBench's ``extract_actions`` reads them
  (xlang-ai/OpenCUA ``evaluation/agentnetbench/agent/opencua.py``).
"""

from __future__ import annotations

import ast
import math
import random
import re
from collections.abc import Callable
from typing import Any

from guiagent.policies.families import get_family
from guiagent.tools import FrameGeometry
from tests.agreement.generate import KEY_COMBOS, beyond, cycle, point, text, thought
from tests.agreement.outcome import OFF_SCREEN, Act, Outcome, Sample, acts_agree, key_name, off_screen

FAMILY = "opencua"
WHEEL_CLICK_PIXELS = 100
SMILES = ("nice :)", "(see above)", "f(x)")
UNPROJECTED = "unprojected"  # the projection gave up on the code: its points are the model's pixels

_BLOCK = re.compile(r"```(?:code|python)?\s*(.*?)\s*```", re.DOTALL | re.IGNORECASE)
_ACTION = re.compile(r"^##\s*Action\s*:?[\n\r]+(.*?)(?=^##|\Z)", re.DOTALL | re.MULTILINE)
_CALL = re.compile(r"(pyautogui\.\w+\([^\)]*\))")
_PARAMS = {  # project_coordinate_to_absolute_scale's function_parameters
    "click": ["x", "y", "clicks", "interval", "button", "duration", "pause"],
    "rightClick": ["x", "y", "duration", "tween", "pause"], "middleClick": ["x", "y", "duration", "tween", "pause"],
    "doubleClick": ["x", "y", "interval", "button", "duration", "pause"],
    "tripleClick": ["x", "y", "interval", "button", "duration", "pause"],
    "moveTo": ["x", "y", "duration", "tween", "pause"], "dragTo": ["x", "y", "duration", "button", "mouseDownUp", "pause"],
}
_SIGNATURES = {  # pyautogui's own, as far as the reading needs
    **_PARAMS, "write": ["message", "interval"], "typewrite": ["message", "interval"],
    "press": ["keys", "presses", "interval"], "keyDown": ["key"], "scroll": ["clicks", "x", "y"],
    "hscroll": ["clicks", "x", "y"],
}


def _smart_resize(height: int, width: int, factor: int = 28, min_pixels: int = 3136,
                  max_pixels: int = 12845056) -> tuple[int, int]:
    """OSWorld opencua's smart_resize (Qwen's, with ``max(1, ...)`` and no upper ratio check)."""
    h_bar = max(1, round(height / factor)) * factor
    w_bar = max(1, round(width / factor)) * factor
    if h_bar * w_bar > max_pixels:
        beta = math.sqrt((height * width) / max_pixels)
        h_bar = max(1, math.floor(height / beta / factor)) * factor
        w_bar = max(1, math.floor(width / beta / factor)) * factor
    elif h_bar * w_bar < min_pixels:
        beta = math.sqrt(min_pixels / (height * width))
        h_bar = math.ceil(height * beta / factor) * factor
        w_bar = math.ceil(width * beta / factor) * factor
    return h_bar, w_bar


Projection = Callable[[float, float], tuple[float, float]]


def qwen25(screen: tuple[int, int]) -> Projection:
    """``_coordinate_projection(x, y, screen_width, screen_height, "qwen25")``."""
    height, width = _smart_resize(screen[1], screen[0])

    def project(x: float, y: float) -> tuple[float, float]:
        if 0 <= x <= 1 and 0 <= y <= 1:
            return int(round(x * width)), int(round(y * height))
        return int(x / width * screen[0]), int(y / height * screen[1])
    return project


def _project(code: str, project: Projection) -> tuple[str, bool]:
    """The code with its pyautogui points projected, and whether the projection gave up on it."""
    new_code = code
    for full_call in _CALL.findall(code):
        m = re.match(r"(pyautogui\.\w+)\((.*)\)", full_call, re.DOTALL)
        if m is None:
            continue
        func_name, args_str = m.groups()
        try:
            parsed = ast.parse(f"func({args_str})").body[0].value  # type: ignore[attr-defined]
        except SyntaxError:
            return code, True
        names = _PARAMS.get(func_name.split(".")[-1], [])
        args: dict[str, Any] = {names[i]: ast.literal_eval(a) for i, a in enumerate(parsed.args) if i < len(names)}
        args.update({kw.arg: ast.literal_eval(kw.value) for kw in parsed.keywords})
        if "x" not in args or "y" not in args:
            continue
        args["x"], args["y"] = project(float(args["x"]), float(args["y"]))
        rebuilt = []
        for name in names:
            if name not in args:
                break
            rebuilt.append(f"'{args[name]}'" if isinstance(args[name], str) else str(args[name]))
        used = set(names[:len(rebuilt)])
        for kw in parsed.keywords:
            if kw.arg not in used:
                value = args[kw.arg]
                rebuilt.append(f"{kw.arg}='{value}'" if isinstance(value, str) else f"{kw.arg}={value}")
        new_code = new_code.replace(full_call, f"{func_name}({', '.join(rebuilt)})")
    return new_code, False


def _bind(name: str, call: ast.Call) -> dict[str, Any]:
    names = _SIGNATURES.get(name, [])
    if len(call.args) > len(names) and name != "hotkey":
        raise TypeError(f"{name}() takes at most {len(names)} positional arguments")
    bound = {names[i]: ast.literal_eval(a) for i, a in enumerate(call.args) if name != "hotkey"}
    for kw in call.keywords:
        if kw.arg in bound:
            raise TypeError(f"{name}() got multiple values for {kw.arg}")
        bound[kw.arg or ""] = ast.literal_eval(kw.value)
    return bound


def _xy(bound: dict[str, Any]) -> tuple[tuple[float, float], ...]:
    return ((bound["x"], bound["y"]),) if bound.get("x") is not None and bound.get("y") is not None else ()


def _run(code: str) -> list[Act]:
    """What the projected code does when pyautogui runs it (read, never run)."""
    acts: list[Act] = []
    for stmt in ast.parse(code).body:
        if not (isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Call)):
            raise ValueError(f"not a call: {ast.unparse(stmt)}")
        call = stmt.value
        full = ast.unparse(call.func)
        name = full.split(".")[-1]
        if full == "computer.triple_click":  # not projected: the pattern is pyautogui.* only
            bound = {k.arg or "": ast.literal_eval(k.value) for k in call.keywords}
            bound.update(dict(zip(("x", "y"), (ast.literal_eval(a) for a in call.args), strict=False)))
            acts.append(Act("triple_click", _xy(bound)))
            continue
        if not full.startswith("pyautogui."):
            raise ValueError(f"not pyautogui: {full}")
        bound = _bind(name, call)
        if name == "click":
            button, clicks = bound.get("button", "left"), bound.get("clicks", 1)
            kind = {"right": "right_click", "middle": "middle_click"}.get(button) or {
                2: "double_click", 3: "triple_click"}.get(clicks, "left_click")
            acts.append(Act(kind, _xy(bound)))
        elif name in ("doubleClick", "rightClick", "middleClick", "tripleClick"):
            acts.append(Act({"doubleClick": "double_click", "rightClick": "right_click", "middleClick": "middle_click",
                             "tripleClick": "triple_click"}[name], _xy(bound)))
        elif name == "moveTo":
            acts.append(Act("mouse_move", _xy(bound)))
        elif name == "dragTo":
            acts.append(Act("left_click_drag", _xy(bound)))
        elif name in ("write", "typewrite"):
            acts.append(Act("type", text=bound["message"]))
        elif name == "press":
            keys = bound["keys"] if isinstance(bound["keys"], list) else [bound["keys"]]
            acts += [Act("key", keys=(key_name(k),)) for _ in range(bound.get("presses", 1)) for k in keys]
        elif name == "hotkey":
            keys = bound["keys"] if "keys" in bound else [ast.literal_eval(a) for a in call.args]
            acts.append(Act("key", keys=tuple(key_name(k) for k in keys)))
        elif name in ("scroll", "hscroll"):
            acts.append(Act(name, _xy(bound), amount=float(bound["clicks"] * WHEEL_CLICK_PIXELS)))
        else:
            raise ValueError(f"pyautogui.{name} is not read here")
    return acts


def opencua(answer: str, screen: tuple[int, int], projected: bool = True) -> Outcome:
    """The authors' outcome of an OpenCUA answer on ``screen``; ``projected`` False reads the code's own
    points, in model pixels (what the model wrote, before OSWorld projects it)."""
    blocks = _BLOCK.findall(answer)
    if not blocks:
        return Outcome(refused="opencua: no code block")
    block = blocks[-1].strip()
    lower = block.lower()
    if "computer.wait" in lower:
        return Outcome((Act("wait"),))
    if "computer.terminate" in lower:
        if "failure" in lower or "fail" in lower:
            return Outcome((Act("terminate", status="failure"),))
        if "success" in lower:
            return Outcome((Act("terminate", status="success"),))
        return Outcome(refused="opencua: terminate without a status")
    action = _ACTION.search(answer)
    if action is None or not action.group(1).strip():
        return Outcome(refused="opencua: no ## Action section")
    try:
        code, gave_up = _project(block, qwen25(screen)) if projected else (block, False)
        acts = _run(code)
    except (SyntaxError, ValueError, TypeError, KeyError) as exc:
        return Outcome(refused=f"opencua: {type(exc).__name__}: {exc}")
    return Outcome(tuple(acts), notes=frozenset({UNPROJECTED}) if gave_up else frozenset())


def reference(sample: Sample) -> Outcome:
    return opencua(sample.text, sample.screen)


# -- answers ---------------------------------------------------------------------------------------------------

def _xy_args(form: str, rng: random.Random, extent: tuple[int, int]) -> str:
    if form == "off-screen":
        x, y = beyond(rng, extent)
    elif form == "unit-square":
        x, y = rng.choice(((1, 1), (0.5, 1), (1, 0.25)))
    else:
        x, y = point(rng, extent)
    if form == "float":
        return f"x={min(x + 0.5, extent[0])}, y={y}"
    return f"{x}, {y}" if form == "pos" else f"x={x}, y={y}"


def _literal(value: str, rng: random.Random) -> str:
    return repr(value) if rng.random() < 0.7 else '"' + value.replace("\\", "\\\\").replace('"', '\\"').replace(
        "\n", "\\n") + '"'


def _cells() -> list[tuple[str, str, Callable[[random.Random, tuple[int, int]], str]]]:
    cells: list[tuple[str, str, Callable[[random.Random, tuple[int, int]], str]]] = []
    for name in ("click", "doubleClick", "rightClick", "middleClick", "tripleClick", "moveTo"):
        for form in ("kw", "pos", "float", "off-screen") + (("unit-square",) if name == "click" else ()):
            cells.append((name, form, lambda rng, ext, n=name, f=form: f"pyautogui.{n}({_xy_args(f, rng, ext)})"))
    for form, extra in (("double", "clicks=2"), ("right", "button='right'"), ("triple", "clicks=3")):
        cells.append(("click", form, lambda rng, ext, e=extra: f"pyautogui.click({_xy_args('kw', rng, ext)}, {e})"))
    cells.append(("computer.triple_click", "kw",
                  lambda rng, ext: f"computer.triple_click({_xy_args('kw', rng, ext)})"))
    cells.append(("dragTo", "move-drag", lambda rng, ext: (
        f"pyautogui.moveTo({_xy_args('kw', rng, ext)})\npyautogui.dragTo({_xy_args('kw', rng, ext)}, button='left')")))
    cells.append(("dragTo", "kw", lambda rng, ext: f"pyautogui.dragTo({_xy_args('kw', rng, ext)}, button='left')"))
    cells.append(("write", "message", lambda rng, ext: f"pyautogui.write(message={_literal(text(rng), rng)})"))
    cells.append(("write", "positional", lambda rng, ext: f"pyautogui.write({_literal(text(rng), rng)})"))
    cells.append(("press", "key", lambda rng, ext: f"pyautogui.press({rng.choice(KEY_COMBOS)[-1]!r})"))
    cells.append(("press", "keys-list", lambda rng, ext: f"pyautogui.press(keys=[{rng.choice(KEY_COMBOS)[-1]!r}])"))
    cells.append(("press", "presses", lambda rng, ext: (
        f"pyautogui.press({rng.choice(('down', 'tab', 'backspace', 'right'))!r}, presses={rng.randint(2, 6)})")))
    cells.append(("hotkey", "args", lambda rng, ext: f"pyautogui.hotkey({', '.join(map(repr, rng.choice(KEY_COMBOS)))})"))
    cells.append(("hotkey", "keys-kw", lambda rng, ext: f"pyautogui.hotkey(keys={list(rng.choice(KEY_COMBOS))!r})"))
    for name in ("scroll", "hscroll"):
        cells.append((name, "clicks", lambda rng, ext, n=name: f"pyautogui.{n}({rng.choice((-10, -5, -1, 1, 3, 5))})"))
    cells.append(("scroll", "at-kw", lambda rng, ext: f"pyautogui.scroll({rng.choice((-5, 5))}, {_xy_args('kw', rng, ext)})"))
    cells.append(("scroll", "at-pos", lambda rng, ext: f"pyautogui.scroll({rng.choice((-5, 5))}, {_xy_args('pos', rng, ext)})"))
    cells.append(("computer.terminate", "python", lambda rng, ext: (
        f"computer.terminate(status={rng.choice(('success', 'failure'))!r})")))
    cells.append(("computer.wait", "python", lambda rng, ext: "computer.wait()"))
    cells.append(("multi", "kw", lambda rng, ext: "\n".join((
        f"pyautogui.click({_xy_args('kw', rng, ext)})", f"pyautogui.write(message={_literal(text(rng), rng)})",
        f"pyautogui.press({rng.choice(('enter', 'tab'))!r})"))))
    cells.append(("multi", "paren-text", lambda rng, ext: "\n".join((
        f"pyautogui.click({_xy_args('kw', rng, ext)})", f"pyautogui.write(message={rng.choice(SMILES)!r})"))))
    return cells


def corpus(n: int, seed: int = 0) -> list[Sample]:
    family = get_family(FAMILY)
    samples = []
    for rng, (kind, form, build), screen in cycle(_cells(), n, seed):
        mapping = family.mapping(FrameGeometry(width=screen[0], height=screen[1]))
        code = build(rng, (mapping.model_width, mapping.model_height))
        fence = "code" if kind == "computer.terminate" and rng.random() < 0.5 else "python"
        summary = thought(rng).splitlines()[0]
        answer = f"## Thought:\n{thought(rng)}\n\n## Action:\n{summary}\n\n## Code:\n```{fence}\n{code}\n```\n"
        samples.append(Sample(FAMILY, "tool-call", kind, form, answer, screen))
    return samples


# -- deliberate differences --------------------------------------------------------------------------------------

def explain(sample: Sample, ours_: Outcome, theirs: Outcome) -> set[str] | None:
    """The deliberate differences (OpenCUA.deliberate) that account for the whole difference, or None."""
    if ours_.refused and ours_.refused.startswith(OFF_SCREEN):
        hit = not theirs.is_refusal and any(off_screen(a.points, sample.screen) for a in theirs.acts)
        return {"off-screen"} if hit else None
    if sample.form in ("at-kw", "at-pos") and len(ours_.acts) == 1 and ours_.acts[0].kind == "scroll":
        raw_points = opencua(sample.text, sample.screen, projected=False).acts[0].points
        if theirs.refused == "opencua: KeyError: 'clicks'" or (  # keyword: rebuilt without its clicks
                len(theirs.acts) == 1 and theirs.acts[0].points == raw_points):  # positional: never projected
            return {"scroll-point"}
        return None
    if ours_.is_refusal or theirs.is_refusal or len(ours_.acts) != len(theirs.acts):
        return None
    raw = opencua(sample.text, sample.screen, projected=False)  # the code's own points
    found: set[str] = set()
    for o, t, r in zip(ours_.acts, theirs.acts, raw.acts, strict=True):
        if acts_agree(o, t):
            continue
        if t.points == r.points and (UNPROJECTED in theirs.notes or sample.kind == "computer.triple_click"):
            found.add("paren-text" if UNPROJECTED in theirs.notes else "computer-point")
            continue
        if r.points and all(0 <= v <= 1 for p in r.points for v in p) and o.kind == t.kind:
            found.add("unit-square")
            continue
        return None
    return found or None
