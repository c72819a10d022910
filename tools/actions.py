"""The action vocabulary: one pydantic model per action, discriminated by ``action``.

These models are the single source of truth: the tool schema shown to the model, the parsers, the
env executors and the trajectory format are all derived from them. Coordinates are ``[x, y]`` in
whatever space the holder says (model space in a parsed answer, the env's input space in a
Decision); ``Action.map_points`` converts between spaces.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Annotated, Any, ClassVar, Literal, Self
from urllib.parse import urlparse

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PlainSerializer,
    TypeAdapter,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic.config import JsonDict

from guiagent.tools.keys import canonical_key, split_combo
from guiagent.tools.text import excerpt

# Bounds on what an action may carry, checked where an action is validated (parsed answers, scripts,
# recorded steps), so nothing larger reaches an env, the trajectory or the checkpoint.
MAX_COORDINATE = 100_000
"""Largest x or y, in any space (screens are far smaller; the mapping then checks the real bounds)."""
MAX_SCROLL_PIXELS = 100_000
MAX_TEXT_CHARS = 10_000
"""Longest ``type`` text or ``terminate`` answer."""
MAX_KEYS = 16
MAX_URL_CHARS = 8_192


def _compact_number(v: float) -> int | float:
    return int(v) if float(v).is_integer() else round(v, 3)


Coord = Annotated[float, Field(ge=0, le=MAX_COORDINATE, allow_inf_nan=False)]
Point = Annotated[
    tuple[Coord, Coord],
    PlainSerializer(lambda p: [_compact_number(p[0]), _compact_number(p[1])], return_type=list),
]
"""An ``[x, y]`` pair of non-negative numbers."""


COORDINATE_DOC = (
    "(x, y): The x (pixels from the left edge) and y (pixels from the top edge) coordinates to move the mouse to."
)
HIDDEN: JsonDict = {"model": False}  # a field the model's tool schema does not show (scripts may use it)


class ActionError(ValueError):
    """An action that does not validate; the message names the field and the value."""


class _Action(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    action: Any  # a Literal in each action (Any here, so that each may narrow it); first in dumps
    # Fields holding a Point, in the order [start, end] where both exist.
    _point_fields: ClassVar[tuple[str, ...]] = ()
    # Whether the action is part of Qwen2.5-VL's computer_use tool (else: scripts/browser only).
    model_visible: ClassVar[bool] = True
    # Whether Qwen3-VL's computer_use tool adds it (QwenLM/Qwen3-VL cookbooks/utils/agent_function_call.py).
    qwen3_tool: ClassVar[bool] = False
    # Whether the computer_use tool of a browser episode offers it too (beyond the trained vocabulary).
    browser_tool: ClassVar[bool] = False

    def points(self) -> dict[str, tuple[float, float]]:
        """The coordinates this action carries, by field name (unset ones left out)."""
        return {f: getattr(self, f) for f in self._point_fields if getattr(self, f) is not None}

    def map_points(self, fn: Callable[[tuple[float, float]], tuple[float, float]]) -> Self:
        """A copy with every coordinate passed through ``fn`` (e.g. model space -> screen)."""
        return self.model_copy(update={f: fn(p) for f, p in self.points().items()})

    def to_call(self, env: EnvKind, vocabulary: Vocabulary) -> dict[str, Any]:
        """The arguments dict as the model writes it in a ``computer_use`` call of an ``env`` episode:
        the parameters its schema shows, nothing a script added (a terminate's answer), so what is
        written parses back. Qwen3-VL's tool writes a terminate that carries an answer as ``answer``."""
        if vocabulary == "qwen3-vl" and isinstance(self, Terminate) and self.answer and self.status == "success":
            return {"action": "answer", "text": self.answer}
        if self.action not in offered_actions(env, vocabulary):
            raise ActionError(f"{self.action!r} is not an action the model is offered in a {env} episode")
        return self.model_dump(mode="json", exclude_none=True, include={"action", *shown_fields(type(self))})


class _PointerAction(_Action):
    # Left out: act where the cursor is. Qwen2.5-VL nearly always gives it.
    coordinate: Point | None = Field(default=None, description=COORDINATE_DOC)
    _point_fields: ClassVar[tuple[str, ...]] = ("coordinate",)


class Key(_Action):
    """Performs key down presses on the arguments passed in order, then performs key releases in reverse order."""

    action: Literal["key"] = "key"
    keys: list[str] = Field(min_length=1, max_length=MAX_KEYS)  # e.g. ["ctrl", "c"], or "ctrl+c"

    @field_validator("keys", mode="before")
    @classmethod
    def _split_string(cls, v: Any) -> Any:
        if isinstance(v, str):
            return split_combo(v)
        return v

    @field_validator("keys")
    @classmethod
    def _known_keys(cls, v: list[str]) -> list[str]:
        return [canonical_key(k) for k in v]


class Type(_Action):
    """Type a string of text on the keyboard."""

    action: Literal["type"] = "type"
    text: str = Field(min_length=1, max_length=MAX_TEXT_CHARS)


class MouseMove(_Action):
    """Move the cursor to a specified (x, y) pixel coordinate on the screen."""

    action: Literal["mouse_move"] = "mouse_move"
    coordinate: Point = Field(description=COORDINATE_DOC)
    _point_fields: ClassVar[tuple[str, ...]] = ("coordinate",)


class LeftClick(_PointerAction):
    """Click the left mouse button."""

    action: Literal["left_click"] = "left_click"


class RightClick(_PointerAction):
    """Click the right mouse button."""

    action: Literal["right_click"] = "right_click"


class MiddleClick(_PointerAction):
    """Click the middle mouse button."""

    action: Literal["middle_click"] = "middle_click"


class DoubleClick(_PointerAction):
    """Double-click the left mouse button."""

    action: Literal["double_click"] = "double_click"


class TripleClick(_PointerAction):
    """Triple-click the left mouse button."""

    action: Literal["triple_click"] = "triple_click"
    model_visible: ClassVar[bool] = False  # not in Qwen2.5-VL's computer_use: scripts and Qwen3-VL
    qwen3_tool: ClassVar[bool] = True


class LeftClickDrag(_Action):
    """Click and drag the cursor to a specified (x, y) pixel coordinate on the screen."""

    action: Literal["left_click_drag"] = "left_click_drag"
    # Scripts may say where the drag starts; the model drags from where the cursor is.
    start_coordinate: Point | None = Field(default=None, json_schema_extra=HIDDEN)
    coordinate: Point = Field(description=COORDINATE_DOC)
    _point_fields: ClassVar[tuple[str, ...]] = ("start_coordinate", "coordinate")


class _Wheel(_Action):
    """A turn of the mouse wheel, at a point or where the cursor is."""

    coordinate: Point | None = Field(default=None, description=COORDINATE_DOC)
    pixels: int = Field(
        ge=-MAX_SCROLL_PIXELS, le=MAX_SCROLL_PIXELS,
        description="The amount of scrolling to perform. Positive values scroll up, negative values scroll down.",
    )
    _point_fields: ClassVar[tuple[str, ...]] = ("coordinate",)

    @field_validator("pixels")
    @classmethod
    def _nonzero(cls, v: int) -> int:
        if v == 0:
            raise ValueError("pixels must not be 0")
        return v


class Scroll(_Wheel):
    """Performs a scroll of the mouse scroll wheel."""

    action: Literal["scroll"] = "scroll"

    @model_validator(mode="before")
    @classmethod
    def _direction_amount(cls, data: Any) -> Any:
        # Scripts may write {direction: down, amount: 600}; store it as signed pixels.
        if isinstance(data, dict) and "direction" in data:
            data = dict(data)
            direction, amount = data.pop("direction"), data.pop("amount", None)
            if direction not in ("up", "down"):
                raise ValueError(f"direction must be 'up' or 'down', got {direction!r}")
            if amount is None:
                raise ValueError("amount is required with direction")
            if isinstance(amount, str) and amount.strip().isdigit() and len(amount) <= 9:
                amount = int(amount)
            if isinstance(amount, float) and amount.is_integer() and abs(amount) <= MAX_SCROLL_PIXELS:
                amount = int(amount)
            if not isinstance(amount, int) or isinstance(amount, bool):
                raise ValueError(f"amount must be a whole number of pixels, got {excerpt(amount)}")
            data["pixels"] = abs(amount) * (1 if direction == "up" else -1)
        return data


class HScroll(_Wheel):
    """Performs a horizontal scroll."""

    # The schema's text for pixels is Qwen3-VL's, shared with scroll; as pyautogui.hscroll, positive scrolls right.
    action: Literal["hscroll"] = "hscroll"
    model_visible: ClassVar[bool] = False
    qwen3_tool: ClassVar[bool] = True


class Wait(_Action):
    """Wait specified seconds for the change to happen."""

    action: Literal["wait"] = "wait"
    time: Annotated[float, PlainSerializer(_compact_number, return_type=float)] = Field(
        ge=0, le=300, allow_inf_nan=False, description="The seconds to wait."
    )


class Terminate(_Action):
    """Terminate the current task and report its completion status."""

    action: Literal["terminate"] = "terminate"
    status: Literal["success", "failure"] = Field(description="The status of the task.")
    answer: str | None = Field(default=None, max_length=MAX_TEXT_CHARS, json_schema_extra=HIDDEN)  # an answer, when the task asks one


class CallUser(_Action):
    """Ask a person for help: the model cannot go on alone (not an env action: the loop answers it)."""

    # UI-TARS's ``call_user()`` (bytedance/UI-TARS-desktop's prompts list it: "Submit the task and call the user
    # when the task is unsolvable, or when you need the user's help"); not part of Qwen's computer_use tool.
    action: Literal["call_user"] = "call_user"
    model_visible: ClassVar[bool] = False
    NOT_AN_ENV_ACTION: ClassVar[str] = ("call_user asks a person for help: the episode's loop answers it, "
                                        "a computer cannot run it")


class Answer(_Action):
    """Answer a question."""

    action: Literal["answer"] = "answer"
    text: str = Field(min_length=1, max_length=MAX_TEXT_CHARS)
    model_visible: ClassVar[bool] = False
    qwen3_tool: ClassVar[bool] = True

    def as_terminate(self) -> Terminate:
        """What the runtime does with it: the task ends, successfully, with this answer."""
        return Terminate(status="success", answer=self.text)


class Navigate(_Action):
    """Browser only: open a URL in the current tab."""

    action: Literal["navigate"] = "navigate"
    url: str = Field(max_length=MAX_URL_CHARS, description="An absolute http(s) URL.")
    model_visible: ClassVar[bool] = False
    browser_tool: ClassVar[bool] = True

    @field_validator("url")
    @classmethod
    def _http_url(cls, v: str) -> str:
        parsed = urlparse(v)
        if parsed.scheme not in ("http", "https") or not parsed.netloc:
            raise ValueError("url must be an absolute http(s) URL")
        return v


class Back(_Action):
    """Browser only: go back one page in the tab's history."""

    action: Literal["back"] = "back"
    model_visible: ClassVar[bool] = False
    browser_tool: ClassVar[bool] = True


Action = Annotated[
    Key | Type | MouseMove | LeftClick | LeftClickDrag | RightClick | MiddleClick | DoubleClick | Scroll | Wait | Terminate | TripleClick | HScroll | Answer | Navigate | Back | CallUser,
    Field(discriminator="action"),
]
"""Any action of the vocabulary."""

ACTION_TYPES: tuple[type[_Action], ...] = Action.__origin__.__args__  # type: ignore[attr-defined]
ACTIONS_BY_NAME: dict[str, type[_Action]] = {t.model_fields["action"].default: t for t in ACTION_TYPES}
_adapter: TypeAdapter[Any] = TypeAdapter(Action)


@functools.cache
def shown_fields(action_type: type[_Action]) -> tuple[str, ...]:
    """The parameters of an action that a model's tool schema shows (``action`` itself left out)."""
    return tuple(
        name for name, field in action_type.model_fields.items()
        if name != "action" and not (isinstance(field.json_schema_extra, dict) and field.json_schema_extra.get("model") is False)
    )


EnvKind = Literal["browser", "desktop"]
Vocabulary = Literal["qwen2.5-vl", "qwen3-vl"]
"""Whose ``computer_use`` tool: Qwen2.5-VL's, or Qwen3-VL's, which adds triple_click, hscroll and answer."""

# Qwen3-VL's enum order (QwenLM/Qwen3-VL cookbooks/utils/agent_function_call.py, ComputerUse.parameters).
QWEN3_ORDER = ("key", "type", "mouse_move", "left_click", "left_click_drag", "right_click", "middle_click",
               "double_click", "triple_click", "scroll", "hscroll", "wait", "terminate", "answer")


@functools.cache
def offered_actions(env: EnvKind, vocabulary: Vocabulary) -> dict[str, type[_Action]]:
    """The actions a model is offered in an episode of this env kind, in enum order: the trained
    vocabulary (Qwen2.5-VL's, or Qwen3-VL's), and in a browser also ``navigate`` and ``back``. The one
    source of what the prompt shows (tools.schema), the constraint allows, the parser takes and the
    exports write."""
    if env not in ("browser", "desktop"):
        raise ValueError(f"unknown env kind {env!r} (expected browser or desktop)")
    if vocabulary not in ("qwen2.5-vl", "qwen3-vl"):
        raise ValueError(f"unknown tool vocabulary {vocabulary!r} (expected qwen2.5-vl or qwen3-vl)")
    offered = {n: t for n, t in ACTIONS_BY_NAME.items()
               if t.model_visible or (vocabulary == "qwen3-vl" and t.qwen3_tool) or (env == "browser" and t.browser_tool)}
    if vocabulary == "qwen3-vl":
        rank = {n: i for i, n in enumerate(QWEN3_ORDER)}
        offered = dict(sorted(offered.items(), key=lambda kv: rank.get(kv[0], len(rank))))
    return offered


MODEL_ACTIONS: dict[str, type[_Action]] = offered_actions("desktop", "qwen2.5-vl")
"""The trained vocabulary (a desktop episode's offer), in the trained enum order."""

_MOST_PROBLEMS = 3


def describe_validation_error(err: ValidationError, prefix: str = "") -> str:
    """One line per problem: ``field: what is wrong (got value)``; the first few problems, each short."""
    lines = []
    errors = err.errors()
    for e in errors[:_MOST_PROBLEMS]:
        loc = ".".join(str(p) for p in e["loc"] if p not in ACTIONS_BY_NAME)
        msg = _cut(e["msg"].removeprefix("Value error, "), 200)
        where = ".".join(x for x in (prefix, loc) if x)
        got = e.get("input")
        detail = f"{where}: {msg}" if where else msg
        if e["type"] not in ("missing",) and not isinstance(got, dict):
            detail += f" (got {excerpt(got)})"
        lines.append(detail)
    if len(errors) > _MOST_PROBLEMS:
        lines.append(f"and {len(errors) - _MOST_PROBLEMS} more problems")
    return "; ".join(lines)


def _cut(text: str, most: int) -> str:
    return text if len(text) <= most else text[: most - 3] + "..."


def _action_name(data: Any, known: dict[str, type[_Action]]) -> str:
    if isinstance(data, _Action):
        return data.action
    if not isinstance(data, dict):
        raise ActionError(f"an action must be an object, got {excerpt(data)}")
    name = data.get("action")
    if name is None:
        raise ActionError("action: missing (expected one of " + ", ".join(known) + ")")
    if not isinstance(name, str):
        raise ActionError(f"action: must be a string naming the action, got {excerpt(name)}")
    if name not in known:
        raise ActionError(f"action: unknown action {excerpt(name)} (expected one of {', '.join(known)})")
    return name


def parse_model_action(data: Any, env: EnvKind, vocabulary: Vocabulary) -> Action:
    """An action as a model wrote it: only the actions and parameters its tool schema offers in an
    episode of this env kind (``offered_actions``, ``shown_fields``; tools.schema shows exactly these).
    Qwen3-VL's ``answer`` becomes the terminate it means (``Answer.as_terminate``). Scripts use
    ``parse_action``, which takes the whole vocabulary."""
    offered = offered_actions(env, vocabulary)
    name = _action_name(data, offered)
    shown = shown_fields(offered[name])
    for key in data:
        if key != "action" and key not in shown:
            takes = f"its parameters: {', '.join(shown)}" if shown else "it takes no parameters"
            raise ActionError(f"{name}.{_cut(str(key), 40)}: not a parameter of {name} ({takes})")
    return parse_action(data)


def parse_action(data: Any) -> Action:
    """Validate a dict into a typed action, or raise ActionError with a readable message."""
    if isinstance(data, _Action):
        return data  # type: ignore[return-value]
    name = _action_name(data, ACTIONS_BY_NAME)
    try:
        action = _adapter.validate_python(data)
    except ValidationError as err:
        raise ActionError(describe_validation_error(err, prefix=str(name))) from None
    return action.as_terminate() if isinstance(action, Answer) else action


def dump_action(action: Action) -> dict[str, Any]:
    """The JSON form of an action, as recorded in trajectories."""
    return action.model_dump(mode="json", exclude_none=True)
