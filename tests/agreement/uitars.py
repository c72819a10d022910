"""UI-TARS-1.5 answers, and ByteDance's own reading of them: the ``ui-tars`` package (0.5.1), as its README uses it.

``parse_action_to_structure_output(text, factor, height, width, model_type="qwen25vl")`` turns the answer into
actions with points as fractions of the image (a point divided by the smart-resized size); then
``parsing_response_to_pyautogui_code(action, height, width, scale_factor=1)`` writes the pyautogui code that
runs (scale_factor 1: the fractions times the screen size, bytedance/UI-TARS README_coordinates.md). The code
is read here with ``ast`` (never run) into Acts; an action that writes no code (wait, call_user, which
``parsing_response_to_pyautogui_code`` leaves as "# Unrecognized action type") is taken by its type, and one
that should act but writes nothing (a scroll it cannot read) is a refusal.
"""

from __future__ import annotations

import ast
import contextlib
import dataclasses
import io
import random
import warnings
from typing import Any

from ui_tars.action_parser import (
    escape_single_quotes,
    parse_action_to_structure_output,
    parsing_response_to_pyautogui_code,
    smart_resize,
)

from tests.agreement.generate import KEY_COMBOS, Builder, beyond, box_around, cycle, point, text, thought
from tests.agreement.outcome import OFF_SCREEN, Act, Outcome, Sample, acts_agree, key_name, off_screen

FAMILY = "ui-tars-1.5"

NO_CODE = "no code: ui-tars wrote no pyautogui call for this action"
WHEEL_CLICK_PIXELS = 100  # our Scroll's pixels per wheel click (policies.families.base)


def _calls(code: str) -> list[tuple[str, list[Any], dict[str, Any]]]:
    calls = []
    for stmt in ast.parse(code).body:
        if isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Call):
            call = stmt.value
            name = ast.unparse(call.func)
            args = [ast.literal_eval(a) for a in call.args]
            calls.append((name, args, {k.arg or "": ast.literal_eval(k.value) for k in call.keywords}))
    return calls


def _acts(action: dict[str, Any], height: int, width: int) -> tuple[Act, ...] | None:
    kind = action["action_type"]
    code = parsing_response_to_pyautogui_code({"action_type": kind, "action_inputs": action["action_inputs"]},
                                              height, width, scale_factor=1)
    if code == "DONE":  # finished: the whole answer's code is replaced by DONE
        content = action["action_inputs"].get("content")
        return (Act("terminate", text=content or None, status="success"),)
    acts: list[Act] = []
    pasted = False
    for name, args, kwargs in _calls(code):
        if name in ("time.sleep",):
            continue
        if name == "pyperclip.copy":
            acts.append(Act("type", text=args[0]))
            pasted = True
        elif name == "pyautogui.write":
            acts.append(Act("type", text=args[0]))
        elif name == "pyautogui.hotkey" and pasted and args == ["ctrl", "v"]:
            pasted = False  # the paste of the copied text
        elif name == "pyautogui.hotkey":
            acts.append(Act("key", keys=tuple(key_name(k) for k in args)))
        elif name in ("pyautogui.keyDown", "pyautogui.press"):
            acts.append(Act("key", keys=(key_name(args[0]),)))
        elif name == "pyautogui.click":
            acts.append(Act({"left": "left_click", "right": "right_click"}[kwargs["button"]], ((args[0], args[1]),)))
        elif name == "pyautogui.doubleClick":
            acts.append(Act("double_click", ((args[0], args[1]),)))
        elif name == "pyautogui.moveTo":
            acts.append(Act("mouse_move", ((args[0], args[1]),)))
        elif name == "pyautogui.dragTo":
            start = acts.pop()  # drag writes moveTo(start) then dragTo(end)
            acts.append(Act("left_click_drag", (*start.points, (args[0], args[1]))))
        elif name == "pyautogui.scroll":
            where = ((kwargs["x"], kwargs["y"]),) if "x" in kwargs else ()
            acts.append(Act("scroll", where, amount=float(args[0] * WHEEL_CLICK_PIXELS)))
        else:
            raise AssertionError(f"ui-tars wrote a call the reference does not read: {name}")
    if not acts and kind in ("wait", "call_user"):
        return (Act(kind),)
    return tuple(acts) or None


def uitars(text: str, screen: tuple[int, int]) -> Outcome:
    """The authors' outcome of a UI-TARS-1.5 answer on a ``screen`` (width, height)."""
    width, height = screen
    with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():  # ui-tars prints its parse failures
        warnings.simplefilter("ignore", (SyntaxWarning, DeprecationWarning))  # and ast warns on odd escapes
        try:
            actions = parse_action_to_structure_output(text, 1000, height, width, model_type="qwen25vl")
            acts: list[Act] = []
            for action in actions:
                found = _acts(action, height, width)
                if found is None:
                    return Outcome(refused=NO_CODE)
                acts += found
        except Exception as exc:  # whatever ui-tars raises is its refusal
            return Outcome(refused=f"ui-tars: {type(exc).__name__}: {exc}")
    return Outcome(tuple(acts))


_CLICK_KINDS = {"click": "left_click", "left_single": "left_click", "left_double": "double_click",
                "right_single": "right_click", "hover": "mouse_move"}


def uitars_parsed(text: str, screen: tuple[int, int]) -> Outcome:
    """ui-tars's parser alone (``parse_action_to_structure_output``), points in the model's pixels (its
    fractions times its own smart-resized size): what a label says, read as its authors read it."""
    width, height = screen
    h, w = smart_resize(height, width)  # ui_tars's own: factor 28, 100*28*28 .. 16384*28*28

    def at(box: str) -> tuple[float, float]:
        x1, y1, x2, y2 = ast.literal_eval(box)
        return (x1 + x2) / 2 * w, (y1 + y2) / 2 * h

    acts: list[Act] = []
    with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
        warnings.simplefilter("ignore", (SyntaxWarning, DeprecationWarning))
        try:
            actions = parse_action_to_structure_output(text, 1000, height, width, model_type="qwen25vl")
        except Exception as exc:  # whatever ui-tars raises is its refusal
            return Outcome(refused=f"ui-tars: {type(exc).__name__}: {exc}")
    for action in actions:
        kind, inputs = action["action_type"], action["action_inputs"]
        if kind in _CLICK_KINDS:
            acts.append(Act(_CLICK_KINDS[kind], (at(inputs["start_box"]),)))
        elif kind == "drag":
            acts.append(Act("left_click_drag", (at(inputs["start_box"]), at(inputs["end_box"]))))
        elif kind == "hotkey":
            acts.append(Act("key", keys=tuple(key_name(k) for k in inputs["key"].split())))
        elif kind == "type":
            acts.append(Act("type", text=inputs["content"]))
        elif kind == "scroll":
            up_or_right = inputs["direction"] in ("up", "right")
            acts.append(Act("scroll" if inputs["direction"] in ("up", "down") else "hscroll",
                            (at(inputs["start_box"]),) if "start_box" in inputs else (),
                            amount=500.0 if up_or_right else -500.0))
        elif kind == "finished":
            acts.append(Act("terminate", text=inputs.get("content"), status="success"))
        else:
            acts.append(Act(kind))
    return Outcome(tuple(acts))


# -- answers ---------------------------------------------------------------------------------------------

CODE_TEXTS = ("print('hi') # done", "curl --endpoint=https://x.io", "f('a') + g('b')", "set point=3 and go")
POINT_FORMS = ("point-tag", "start-box", "box4", "box-tokens", "bracket-box", "off-screen")


def _arg(form: str, role: str, rng: random.Random, extent: tuple[int, int]) -> str:
    """A point argument (``role``: point, start or end) in one of the forms UI-TARS writes."""
    newer = {"point": "point", "start": "start_point", "end": "end_point"}[role]
    older = {"point": "start_box", "start": "start_box", "end": "end_box"}[role]
    x, y = beyond(rng, extent) if form == "off-screen" else point(rng, extent)
    if form in ("point-tag", "off-screen"):
        return f"{newer}='<point>{x} {y}</point>'"
    if form == "start-box":
        return f"{older}='({x},{y})'"
    if form == "box-tokens":
        return f"{older}='<|box_start|>({x},{y})<|box_end|>'"
    x1, y1, x2, y2 = box_around(rng, (x, y), extent)
    return f"{older}='({x1},{y1},{x2},{y2})'" if form == "box4" else f"{older}='[{x1}, {y1}, {x2}, {y2}]'"


def escaped(value: str, rng: random.Random, quotes: bool = True) -> str:
    """``value`` inside single quotes with the prompt's escapes (\\', \\", \\n); ``quotes`` False leaves the
    single quotes bare, as models sometimes write them."""
    out = value.replace("\\", "\\\\").replace("\n", "\\n")
    if quotes:
        out = out.replace("'", "\\'")
    if rng.random() < 0.5:
        out = out.replace('"', '\\"')
    return f"'{out}'"


def _cells() -> list[tuple[str, str, Builder]]:
    cells: list[tuple[str, str, Builder]] = []
    for name in ("click", "left_double", "right_single"):
        for form in POINT_FORMS:
            cells.append((name, form, lambda rng, ext, n=name, f=form: f"{n}({_arg(f, 'point', rng, ext)})"))
    for form in ("point-tag", "start-box", "box-tokens", "off-screen"):
        cells.append(("drag", form, lambda rng, ext, f=form:
                      f"drag({_arg(f, 'start', rng, ext)}, {_arg(f, 'end', rng, ext)})"))
    for direction in ("up", "down", "left", "right"):
        for form in ("point-tag", "start-box", "box4", "no-point"):
            cells.append((f"scroll-{direction}", form, lambda rng, ext, d=direction, f=form: (
                f"scroll(direction='{d}')" if f == "no-point" else f"scroll({_arg(f, 'point', rng, ext)}, direction='{d}')")))
    cells.append(("scroll", "no-direction", lambda rng, ext: f"scroll({_arg('point-tag', 'point', rng, ext)})"))
    cells.append(("hotkey", "keys", lambda rng, ext: f"hotkey(key='{' '.join(rng.choice(KEY_COMBOS))}')"))
    cells.append(("hotkey", "arrow", lambda rng, ext: f"hotkey(key='{rng.choice(('arrowleft', 'arrowdown'))}')"))
    cells.append(("type", "escaped", lambda rng, ext: f"type(content={escaped(text(rng), rng)})"))
    cells.append(("type", "bare-quotes", lambda rng, ext: f"type(content={escaped(text(rng), rng, quotes=False)})"))
    cells.append(("type", "submit", lambda rng, ext: f"type(content={escaped(text(rng) + chr(10), rng)})"))
    cells.append(("type", "code", lambda rng, ext: f"type(content={escaped(rng.choice(CODE_TEXTS), rng)})"))
    cells.append(("wait", "bare", lambda rng, ext: "wait()"))
    cells.append(("finished", "answer", lambda rng, ext: f"finished(content={escaped(text(rng), rng)})"))
    cells.append(("finished", "bare", lambda rng, ext: "finished()"))
    cells.append(("call_user", "bare", lambda rng, ext: "call_user()"))
    cells.append(("multi", "point-tag", lambda rng, ext: "\n\n".join((
        f"click({_arg('point-tag', 'point', rng, ext)})", f"type(content={escaped(text(rng), rng)})",
        f"hotkey(key='{' '.join(rng.choice(KEY_COMBOS))}')"))))
    return cells


def corpus(n: int, seed: int = 0) -> list[Sample]:
    from guiagent.policies.families import get_family
    from guiagent.tools import FrameGeometry

    family = get_family(FAMILY)
    samples = []
    for rng, (kind, form, build), screen in cycle(_cells(), n, seed):
        mapping = family.mapping(FrameGeometry(width=screen[0], height=screen[1]))
        action = build(rng, (mapping.model_width, mapping.model_height))
        answer = f"Thought: {thought(rng)}\nAction: {action}" if rng.random() < 0.85 else f"Action: {action}"
        samples.append(Sample(FAMILY, "tool-call", kind, form, answer, screen))
    return samples


# -- deliberate differences ------------------------------------------------------------------------------

def _renamed(value: str) -> str:
    """What ui-tars's whole-answer renaming makes of text (parse_action_to_structure_output)."""
    return value.replace("start_point=", "start_box=").replace("end_point=", "end_box=").replace("point=", "start_box=")


_TEXT_QUIRKS = (("submit-newline",), ("names-only",), ("quote-escape",), ("submit-newline", "names-only"),
                ("submit-newline", "quote-escape"), ("names-only", "quote-escape"),
                ("submit-newline", "names-only", "quote-escape"))


def _text_quirks(kind: str, ours_text: str, theirs_text: str) -> set[str] | None:
    for quirks in _TEXT_QUIRKS:
        if kind != "type" and quirks != ("names-only",):
            continue  # a finished's answer is neither pasted nor submitted
        value = ours_text + ("\n" if "submit-newline" in quirks else "")
        value = _renamed(value) if "names-only" in quirks else value
        value = escape_single_quotes(value) if "quote-escape" in quirks else value
        if value == theirs_text:
            return set(quirks)
    return None


def _cut_short(content: str) -> bool:
    """Whether ui-tars's ``type\\(content='(.*?)'\\)`` stops before the end of this content (a ') inside it)."""
    at = content.find("')")
    return 0 <= at < len(content) - 2


def explain(sample: Sample, ours_: Outcome, theirs: Outcome) -> set[str] | None:
    """The deliberate differences (UITARS15.deliberate) that account for the whole difference, or None."""
    if ours_.refused and ours_.refused.startswith(OFF_SCREEN):
        hit = not theirs.is_refusal and any(off_screen(a.points, sample.screen) for a in theirs.acts)
        return {"off-screen"} if hit else None
    if sample.form in ("box-tokens", "bracket-box"):
        return {sample.form} if theirs.is_refusal and not ours_.is_refusal else None
    if theirs.refused == NO_CODE and ours_.acts and all(a.kind == "hscroll" for a in ours_.acts):
        return {"hscroll"}
    if ours_.is_refusal or theirs.is_refusal:
        return None
    submit = sample.form == "submit"
    if any(_cut_short(a.text + ("\n" if submit else "")) for a in ours_.acts if a.kind == "type" and a.text):
        kinds = [a.kind for a in ours_.acts]
        if [a.kind for a in theirs.acts] in (kinds, kinds[:-1] if submit else kinds):  # a mangled text: no Enter
            return {"lazy-content"}
    if len(ours_.acts) != len(theirs.acts):
        return None
    found: set[str] = set()
    for o, t in zip(ours_.acts, theirs.acts, strict=True):
        if acts_agree(o, t):
            continue
        if (o.kind == t.kind == "scroll" and o.amount == t.amount and len(o.points) == len(t.points) == 1
                and max(t.points[0]) <= 1):
            found.add("scroll-point")  # the fraction of the image, handed to pyautogui as pixels
            continue
        quirks = _text_quirks(o.kind, o.text or "", t.text or "") if o.kind == t.kind and o.text else None
        if quirks is None or not acts_agree(dataclasses.replace(o, text=t.text), t):
            return None
        found |= quirks
    return found or None
