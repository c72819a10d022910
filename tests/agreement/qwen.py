"""The families that answer with the ``computer_use`` tool call (and, some, grounding boxes), and their
authors' reading of those answers.

The tool call is read by Qwen-Agent itself (the ``qwen-agent`` package, 0.0.34): ``NousFnCallPrompt`` or
``QwenFnCallPrompt.postprocess_fncall_messages`` finds the calls, ``BaseTool._verify_json_format_args`` loads
and checks each call's arguments against the tool's parameters (json5; jsonschema), and the cookbook's
``ComputerUse.call`` (QwenLM/Qwen2.5-VL and QwenLM/Qwen3-VL ``cookbooks/utils/agent_function_call.py``) reads
the parameter each action needs (``params["keys"]`` for key, ...; a click reads no coordinate, acting where the
cursor is without one). Points map back as the cookbooks do: absolute pixels of the image resized by
``qwen_vl_utils.smart_resize`` (the package's own function) times screen / resized (``computer_use.ipynb``),
or ``x / 1000 * width`` on Qwen3-VL's grid. The tool's parameters are ours (tools.schema, pinned to the
cookbook's text by tests/tools/test_parsing.py and tests/policies/test_family_qwen3.py).

Grounding boxes are read by the authors' own evaluation code, written out here:
- Qwen-VL: QwenLM/Qwen-VL ``eval_mm/evaluate_grounding.py``: ``PATTERN = r'\\((.*?)\\),\\((.*?)\\)'``, the first
  match's two pairs, divided by 999 and times the image size.
- Qwen2-VL: its README's grounding form ``<|box_start|>(x1,y1),(x2,y2)<|box_end|>`` on [0, 1000): divided by
  1000, times the image size.
- InternVL2.5: OpenGVLab/InternVL ``internvl_chat/eval/refcoco/evaluate_grounding.py``:
  ``PATTERN = r'\\[*\\[(.*?),(.*?),(.*?),(.*?)\\]\\]*'``, divided by 1000 when the four numbers sum to 4 or more.
A box is a click at its centre on both sides.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import logging
import random
import re
import types
from typing import Any
from unittest import mock

import jsonschema
import jsonschema.exceptions
import jsonschema.validators

from guiagent.policies.families import get_family
from guiagent.policies.families.pixtral import pixtral_size
from guiagent.tools import FrameGeometry
from guiagent.tools.actions import Vocabulary
from guiagent.tools.schema import parameters
from tests.agreement.generate import KEY_COMBOS, Builder, beyond, box_around, cycle, point, text, thought
from tests.agreement.outcome import OFF_SCREEN, PIXEL, Act, Outcome, Sample, acts_agree, key_name, off_screen
from tests.reference_qwen_agent import fncall_modules
from tests.reference_qwen_vl_utils import load_reference_smart_resize

FAMILIES = ("qwen2.5-vl", "qwen3-vl", "qwen2-vl", "qwen-vl", "internvl2.5", "pixtral")
BOX_FAMILIES = {"qwen2-vl", "qwen-vl", "internvl2.5"}

NousFnCallPrompt, QwenFnCallPrompt, _schema, BaseTool = fncall_modules()
logging.getLogger("qwen_agent_logger").setLevel(logging.CRITICAL)  # it warns on the answers it refuses
_smart_resize = load_reference_smart_resize()

_CLICKS = {"left_click", "right_click", "middle_click", "double_click", "triple_click"}
# ComputerUse.call: the parameter each action reads (params[...]; a KeyError when missing)
_READS = {"key": "keys", "type": "text", "mouse_move": "coordinate", "left_click_drag": "coordinate",
          "scroll": "pixels", "hscroll": "pixels", "answer": "text", "wait": "time", "terminate": "status"}


# -- the authors' reading ----------------------------------------------------------------------------------

def _to_screen(family: str, screen: tuple[int, int]) -> Any:
    """The cookbook's mapping of a model point back to the screen, for ``family``."""
    width, height = screen
    if get_family(family).space == "relative-1000":
        return lambda p: (p[0] / 1000 * width, p[1] / 1000 * height)
    if family == "pixtral":  # our choice (no convention of its own): pixels of the image it was sent
        w, h = pixtral_size(width, height)
    else:
        h, w = _smart_resize(height, width, 28)  # qwen_vl_utils: factor 28, 4 .. 16384 tokens of 28x28
    return lambda p: (p[0] * width / w, p[1] * height / h)


def _cookbook(params: dict[str, Any], to_screen: Any) -> Act:
    action = params["action"]
    where = tuple(to_screen(tuple(params["coordinate"])) for _ in [0] if "coordinate" in params)
    if action in _CLICKS:
        return Act(action, where)
    value = params[_READS[action]]
    if action == "key":
        return Act("key", keys=tuple(key_name(k) for k in value))
    if action == "type":
        return Act("type", text=value)
    if action in ("mouse_move", "left_click_drag"):
        return Act(action, where)
    if action in ("scroll", "hscroll"):
        return Act(action, where, amount=float(value))
    if action == "answer":
        return Act("terminate", text=value, status="success")
    if action == "wait":
        return Act("wait", amount=float(value))
    return Act("terminate", status=value)


@functools.cache
def _validator(schema: str) -> Any:
    parsed = json.loads(schema)
    cls = jsonschema.validators.validator_for(parsed)
    cls.check_schema(parsed)
    return cls(parsed)


def _validate(instance: Any, schema: dict[str, Any], *args: Any, **kwargs: Any) -> None:
    """``jsonschema.validate`` as it is, but for checking the (same) schema once, not on every call."""
    error = jsonschema.exceptions.best_match(_validator(json.dumps(schema)).iter_errors(instance))
    if error is not None:
        raise error


def tool_calls(family: str, sample: Sample, model_space: bool = False) -> Outcome:
    """Qwen-Agent's reading of a tool-call answer, then the cookbook's; ``model_space``: points as written."""
    vocabulary: Vocabulary = get_family(family).vocabulary
    prompt = NousFnCallPrompt() if sample.protocol == "tool-call" else QwenFnCallPrompt()
    message = _schema.Message(role="assistant", content=[_schema.ContentItem(text=sample.text)])
    tool = types.SimpleNamespace(parameters=parameters("desktop", vocabulary))
    to_screen = (lambda p: p) if model_space else _to_screen(family, sample.screen)
    try:
        found = prompt.postprocess_fncall_messages([message])
        calls = [m.function_call for m in found if m.function_call]
        if not calls:
            return Outcome(refused="qwen-agent: no function call")
        acts = []
        for call in calls:
            if call.name != "computer_use":
                return Outcome(refused=f"qwen-agent: no tool {call.name!r}")
            with mock.patch.object(jsonschema, "validate", _validate):
                params = BaseTool._verify_json_format_args(tool, call.arguments)
            acts.append(_cookbook(params, to_screen))
    except Exception as exc:  # what Qwen-Agent or the cookbook raises is their refusal
        return Outcome(refused=f"qwen-agent: {type(exc).__name__}: {exc}")
    return Outcome(tuple(acts))


_QWEN_VL_BOX = re.compile(r"\((.*?)\),\((.*?)\)")
_QWEN2_VL_BOX = re.compile(r"<\|box_start\|>\((\d+),(\d+)\),\((\d+),(\d+)\)<\|box_end\|>")
_INTERNVL_BOX = re.compile(r"\[*\[(.*?),(.*?),(.*?),(.*?)\]\]*")


def box_numbers(family: str, answer: str) -> list[float] | None:
    """The four numbers of the authors' box regex, as their evaluation reads them (None: no match)."""
    if family == "qwen-vl":
        found = _QWEN_VL_BOX.findall(answer)
        return [float(v) for pair in found[0] for v in pair.split(",")] if found else None
    m = (_QWEN2_VL_BOX if family == "qwen2-vl" else _INTERNVL_BOX).search(answer)
    return [float(v) for v in m.groups()] if m else None


def box_click(family: str, sample: Sample) -> Outcome:
    """The authors' evaluation's reading of a grounding box, as a click at its centre."""
    try:
        numbers = box_numbers(family, sample.text)
    except ValueError as exc:
        return Outcome(refused=f"box: {exc}")
    if numbers is None:
        return Outcome(refused="box: no match")
    width, height = sample.screen
    scale = {"qwen-vl": 999.0, "qwen2-vl": 1000.0}.get(family, 1000.0 if sum(numbers) >= 4 else 1.0)
    x1, y1, x2, y2 = (v / scale for v in numbers)
    return Outcome((Act("left_click", (((x1 + x2) / 2 * width, (y1 + y2) / 2 * height),)),))


def reference(sample: Sample) -> Outcome:
    if sample.kind == "box-click":
        return box_click(sample.family, sample)
    return tool_calls(sample.family, sample)


# -- answers -------------------------------------------------------------------------------------------------

def _coordinate(form: str, rng: random.Random, extent: tuple[int, int]) -> list[float] | None:
    if form == "off-screen":
        return list(beyond(rng, extent))
    x, y = point(rng, extent)
    if form == "float":
        return [min(x + rng.choice((0.25, 0.5, 0.75)), extent[0]), y]
    return [x, y]


def _arguments(kind: str, form: str, rng: random.Random, extent: tuple[int, int]) -> dict[str, Any]:
    args: dict[str, Any] = {"action": kind}
    if kind in _CLICKS | {"mouse_move", "left_click_drag", "scroll", "hscroll"} and form not in ("cursor", "pixels"):
        args["coordinate"] = _coordinate(form, rng, extent)
    if kind == "key":
        args["keys"] = list(rng.choice(KEY_COMBOS))
    elif kind in ("type", "answer"):
        args["text"] = text(rng) + (" 🙂" if form == "ascii-emoji" else "")
    elif kind in ("scroll", "hscroll"):
        args["pixels"] = rng.choice((-1, 1)) * rng.choice((50, 100, 300, 500, 1200))
    elif kind == "wait":
        args["time"] = rng.choice((0.5, 1, 2, 3.5, 10))
    elif kind == "terminate":
        args["status"] = rng.choice(("success", "failure"))
    return args


def _call(args: dict[str, Any], protocol: str, rng: random.Random, last: bool, ascii_only: bool) -> str:
    if protocol == "function-result-return":
        return f"✿FUNCTION✿: computer_use\n✿ARGS✿: {json.dumps(args, ensure_ascii=ascii_only)}"
    call = json.dumps({"name": "computer_use", "arguments": args}, ensure_ascii=ascii_only)
    shape = rng.random()
    if shape < 0.15:
        return f"<tool_call>{call}</tool_call>"
    if shape < 0.25 and last:  # generation stopped at the closing tag
        return f"<tool_call>\n{call}\n"
    return f"<tool_call>\n{call}\n</tool_call>"


def _cells(family: str) -> list[tuple[str, str, Builder | None]]:
    vocabulary = get_family(family).vocabulary
    clicks = ["left_click", "right_click", "middle_click", "double_click"] + (
        ["triple_click"] if vocabulary == "qwen3-vl" else [])
    cells: list[tuple[str, str, Builder | None]] = []
    for kind in clicks:
        cells += [(kind, form, None) for form in ("int", "float", "cursor", "off-screen")]
    for kind in ("mouse_move", "left_click_drag"):
        cells += [(kind, form, None) for form in ("int", "float", "off-screen")]
    for kind in ["scroll"] + (["hscroll"] if vocabulary == "qwen3-vl" else []):
        cells += [(kind, form, None) for form in ("pixels", "int")]
    cells += [("key", "keys", None), ("type", "text", None), ("type", "ascii-emoji", None), ("wait", "time", None), ("terminate", "status", None),
              ("multi", "int", None)]
    if vocabulary == "qwen3-vl":
        cells.append(("answer", "text", None))
    if family in BOX_FAMILIES:
        cells += [("box-click", "box", _box_answer)]
        if family in ("qwen2-vl", "internvl2.5"):
            cells += [("box-click", "bare-box" if family == "internvl2.5" else "box-im-end", _box_answer)]
    return cells


def _box_answer(rng: random.Random, extent: tuple[int, int], family: str = "", form: str = "") -> str:
    x1, y1, x2, y2 = box_around(rng, point(rng, (999, 999)), (999, 999))
    ref = rng.choice(("the search box", "Submit", "東京", "the 'OK' button"))
    lead = f"{thought(rng)}\n" if rng.random() < 0.5 else ""
    if family == "qwen-vl":
        return f"{lead}<ref>{ref}</ref><box>({x1},{y1}),({x2},{y2})</box>"
    if family == "qwen2-vl":
        end = "<|im_end|>" if form == "box-im-end" else ""
        return f"{lead}<|object_ref_start|>{ref}<|object_ref_end|><|box_start|>({x1},{y1}),({x2},{y2})<|box_end|>{end}"
    if form == "bare-box":
        return f"{lead}{ref}[[{x1}, {y1}, {x2}, {y2}]]"
    return f"{lead}<ref>{ref}</ref><box>[[{x1}, {y1}, {x2}, {y2}]]</box>"


def corpus(family: str, n: int, seed: int = 0) -> list[Sample]:
    profile = get_family(family)
    vocabulary = profile.vocabulary
    samples = []
    offered = [k for k, _, _ in _cells(family) if k not in ("multi", "box-click")]
    for rng, (kind, form, build), screen in cycle(_cells(family), n, seed):
        protocol = profile.protocols[rng.randrange(len(profile.protocols))]
        mapping = profile.mapping(FrameGeometry(width=screen[0], height=screen[1]))
        extent = (mapping.model_width, mapping.model_height)
        if build is not None:
            samples.append(Sample(family, protocol, kind, form, _box_answer(rng, extent, family, form), screen))
            continue
        kinds = [rng.choice(offered) for _ in range(rng.randint(2, 3))] if kind == "multi" else [kind]
        ascii_only = form == "ascii-emoji" or rng.random() < 0.5  # json.dumps' default escapes what is not ASCII
        calls = [_call(_arguments(k, form if kind != "multi" else "int", rng, extent), protocol, rng,
                       i == len(kinds) - 1, ascii_only) for i, k in enumerate(kinds)]
        lead = thought(rng) + "\n" if rng.random() < 0.8 else ""
        samples.append(Sample(family, protocol, kind, form, lead + "\n".join(calls), screen))
    assert vocabulary in ("qwen2.5-vl", "qwen3-vl")
    return samples


# -- deliberate differences ----------------------------------------------------------------------------------

def _joined(value: str) -> str:
    """Lone surrogates paired up into the characters they encode."""
    return value.encode("utf-16-le", "surrogatepass").decode("utf-16-le")


def explain(sample: Sample, ours_: Outcome, theirs: Outcome) -> set[str] | None:
    """The deliberate differences (the family's ``deliberate``) that account for the whole difference, or None."""
    if ours_.refused and ours_.refused.startswith(OFF_SCREEN):
        hit = not theirs.is_refusal and any(off_screen(a.points, sample.screen) for a in theirs.acts)
        return {"off-screen"} if hit else None
    if ours_.is_refusal or theirs.is_refusal or len(ours_.acts) != len(theirs.acts):
        return None
    found: set[str] = set()
    for o, t in zip(ours_.acts, theirs.acts, strict=True):
        if acts_agree(o, t):
            continue
        if sample.family == "qwen-vl" and sample.kind == "box-click" and len(o.points) == len(t.points) == 1:
            (ox, oy), (tx, ty) = o.points[0], t.points[0]
            if abs(tx - ox * 1000 / 999) <= PIXEL and abs(ty - oy * 1000 / 999) <= PIXEL:
                found.add("grid-999")
                continue
        if o.text and t.text and o.text != t.text and _joined(t.text) == o.text and acts_agree(
                dataclasses.replace(o, text=t.text), t):
            found.add("surrogate-pair")
            continue
        return None
    return found or None
