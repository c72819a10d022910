"""The action vocabulary, screen geometry and observation types (knows nothing else in the project)."""

from guiagent.tools.actions import (
    ACTIONS_BY_NAME,
    Action,
    ActionError,
    Answer,
    Back,
    CallUser,
    DoubleClick,
    HScroll,
    Key,
    LeftClick,
    LeftClickDrag,
    MiddleClick,
    MouseMove,
    Navigate,
    RightClick,
    Scroll,
    Terminate,
    TripleClick,
    Type,
    Wait,
    dump_action,
    parse_action,
)
from guiagent.tools.checks import Check
from guiagent.tools.geometry import CoordinateOutOfRange, FrameGeometry, ScreenMapping, smart_resize
from guiagent.tools.observation import ActionResult, Observation

__all__ = [
    "ACTIONS_BY_NAME", "Action", "ActionError", "ActionResult", "Answer", "Back", "CallUser", "Check",
    "CoordinateOutOfRange", "DoubleClick", "FrameGeometry", "HScroll", "Key", "LeftClick", "LeftClickDrag", "MiddleClick", "MouseMove",
    "Navigate", "Observation", "RightClick", "ScreenMapping", "Scroll", "Terminate", "TripleClick", "Type",
    "Wait", "dump_action", "parse_action", "smart_resize",
]
