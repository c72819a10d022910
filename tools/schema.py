"""The ``computer_use`` tool as Qwen2.5-VL was trained to see it, generated from the action models.

The enum of actions, the parameters, their types and the "Required only by ..." notes all come
from ``tools.actions``; only the prose (the tool's description, and each action's one-line doc,
which is the model's docstring) is the cookbook's text. See shared/reference/qwen25vl-computer-use.md.
"""

from __future__ import annotations

import functools
import json
import types
import typing
from typing import Any, Literal, get_args, get_origin

from pydantic.fields import FieldInfo

from guiagent.tools.actions import EnvKind, Vocabulary, offered_actions, shown_fields

TOOL_NAME = "computer_use"
ARGS_FORMAT = "Format the arguments as a JSON object."

DESCRIPTION = """Use a mouse and keyboard to interact with a computer, and take screenshots.
* This is an interface to a desktop GUI. You do not have access to a terminal or applications menu. You must click on desktop icons to start applications.
* Some applications may take time to start or process actions, so you may need to wait and take successive screenshots to see the results of your actions. E.g. if you click on Firefox and a window doesn't open, try wait and taking another screenshot.
* The screen's resolution is {width}x{height}.
* Whenever you intend to move the cursor to click on an element like an icon, you should consult a screenshot to determine the coordinates of the element before moving the cursor.
* If you tried clicking on a program or link but it failed to load, even after waiting, try adjusting your cursor position so that the tip of the cursor visually falls on the element that you want to click.
* Make sure to click any buttons, links, icons, etc with the cursor tip in the center of the element. Don't click boxes on their edges unless asked."""

# Qwen3-VL's computer_use tool, where its text differs from Qwen2.5-VL's (QwenLM/Qwen3-VL
# cookbooks/utils/agent_function_call.py, ComputerUse; its computer_use.ipynb prints the system message the
# cookbook sends: the function as name, description and parameters only).
QWEN3_DESCRIPTION = DESCRIPTION.removesuffix(" unless asked.") + "."
QWEN3_ACTION_LINES = {
    "left_click": "Click the left mouse button at a specified (x, y) pixel coordinate on the screen.",
    "right_click": "Click the right mouse button at a specified (x, y) pixel coordinate on the screen.",
    "middle_click": "Click the middle mouse button at a specified (x, y) pixel coordinate on the screen.",
    "double_click": "Double-click the left mouse button at a specified (x, y) pixel coordinate on the screen.",
    "triple_click": "Triple-click the left mouse button at a specified (x, y) pixel coordinate on the screen "
                    "(simulated as double-click since it's the closest action).",
    "hscroll": "Performs a horizontal scroll (mapped to regular scroll).",
}
QWEN3_UNNOTED = ("coordinate",)  # described without a "Required only by" note there


def model_actions(env: EnvKind, vocabulary: Vocabulary) -> list[type]:
    """The action models shown to the model in an episode of this env kind, in enum order (the parser
    accepts exactly these)."""
    return list(offered_actions(env, vocabulary).values())


def _description(env: EnvKind, width: int, height: int, vocabulary: Vocabulary) -> str:
    """The cookbook's description; a browser episode adds one line naming its extra actions."""
    text = (QWEN3_DESCRIPTION if vocabulary == "qwen3-vl" else DESCRIPTION).format(width=width, height=height)
    extra = [_action_name(m) for m in model_actions(env, vocabulary) if m.browser_tool]
    if extra:
        names = " and ".join(f"`{n}`" for n in extra)
        text += f"\n* The screen shows a web browser: besides mouse and keyboard you can use {names} (see `action`)."
    return text


def _action_name(model: type) -> str:
    return model.model_fields["action"].default


def _json_type(annotation: Any) -> dict[str, Any]:
    origin = get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        inner = [a for a in get_args(annotation) if a is not type(None)]
        return _json_type(inner[0])
    if origin is typing.Annotated:
        return _json_type(get_args(annotation)[0])
    if origin is Literal:
        return {"type": "string", "enum": list(get_args(annotation))}
    if origin in (list, tuple) or annotation in (list, tuple):
        return {"type": "array"}
    if annotation in (int, float):
        return {"type": "number"}  # as trained: "number" for integers too
    return {"type": "string"}


@functools.cache
def _parameters(env: EnvKind, vocabulary: Vocabulary) -> str:
    return json.dumps(_build_parameters(env, vocabulary))


def parameters(env: EnvKind, vocabulary: Vocabulary) -> dict[str, Any]:
    """The JSON schema of the tool's arguments, keys in the order the trained prompt has them."""
    return json.loads(_parameters(env, vocabulary))


def _action_line(model: type, vocabulary: Vocabulary) -> str:
    name = _action_name(model)
    if vocabulary == "qwen3-vl" and name in QWEN3_ACTION_LINES:
        return QWEN3_ACTION_LINES[name]
    return (model.__doc__ or "").strip().splitlines()[0]


def _build_parameters(env: EnvKind, vocabulary: Vocabulary) -> dict[str, Any]:
    actions = model_actions(env, vocabulary)
    names = [_action_name(m) for m in actions]
    lines = "\n".join(f"* `{_action_name(m)}`: {_action_line(m, vocabulary)}" for m in actions)
    props: dict[str, Any] = {
        "action": {
            "description": f"The action to perform. The available actions are:\n{lines}",
            "enum": names,
            "type": "string",
        }
    }
    required_by: dict[str, list[str]] = {}
    fields: dict[str, FieldInfo] = {}
    for model in actions:
        for name in shown_fields(model):
            field = model.model_fields[name]
            fields.setdefault(name, field)
            if field.is_required():
                required_by.setdefault(name, []).append(_action_name(model))
    for name, field in fields.items():
        users = [] if vocabulary == "qwen3-vl" and name in QWEN3_UNNOTED else required_by.get(name, [])
        note = ("Required only by " + " and ".join(f"`action={u}`" for u in users) + ".") if users else ""
        description = " ".join(x for x in (field.description or "", note) if x)
        schema = _json_type(field.annotation)
        prop: dict[str, Any] = {"description": description, "type": schema["type"]}
        if "enum" in schema:
            prop["enum"] = schema["enum"]
        props[name] = prop
    return {"properties": props, "required": ["action"], "type": "object"}


def computer_use_function(width: int, height: int, env: EnvKind,
                          vocabulary: Vocabulary) -> dict[str, Any]:
    """The function entry for a screen of ``width`` x ``height`` model pixels (the smart-resized size)
    in an episode of this env kind, as the vocabulary's cookbook sends it."""
    if vocabulary == "qwen3-vl":
        return {"name": TOOL_NAME, "description": _description(env, width, height, vocabulary),
                "parameters": parameters(env, vocabulary)}
    return {
        "name_for_human": TOOL_NAME,
        "name": TOOL_NAME,
        "description": _description(env, width, height, vocabulary),
        "parameters": parameters(env, vocabulary),
        "args_format": ARGS_FORMAT,
    }


def nous_tool_line(function: dict[str, Any]) -> str:
    """One line of the ``<tools>`` block, as Qwen-Agent's nous prompt writes it."""
    return json.dumps({"type": "function", "function": function}, ensure_ascii=False)


def qwen_tool_description(function: dict[str, Any]) -> str:
    """The tool's description block, as Qwen-Agent's qwen (FUNCTION/RESULT/RETURN) prompt writes it."""
    return (
        f"### {function.get('name_for_human', function['name'])}\n\n{function['name']}: {function['description']} "
        f"Parameters: {json.dumps(function['parameters'], ensure_ascii=False)} {function.get('args_format', ARGS_FORMAT)}"
    ).rstrip()
