"""Model family profiles: one module per family, each citing where its facts come from.

``FAMILIES`` maps a name (``--model-family``) to its profile; ``propose_family`` guesses one from a
served model's id and its config (what ``guiagent doctor`` prints).
"""

from __future__ import annotations

import re
from typing import Any

from guiagent.policies.families.base import ModelFamily, VideoMode
from guiagent.policies.families.internvl import InternVL25
from guiagent.policies.families.opencua import OpenCUA
from guiagent.policies.families.pixtral import Pixtral
from guiagent.policies.families.qwen2vl import Qwen2VL
from guiagent.policies.families.qwen3vl import Qwen3VL
from guiagent.policies.families.qwen25vl import Qwen25VL
from guiagent.policies.families.qwenvl import QwenVL
from guiagent.policies.families.uitars import UITARS15

DEFAULT_FAMILY = "qwen2.5-vl"
# Order matters for proposing: fine-tunes (UI-TARS, OpenCUA) before the base they share an architecture with.
FAMILIES: dict[str, ModelFamily] = {f.name: f for f in (
    Qwen25VL(), Qwen2VL(), QwenVL(), InternVL25(), Pixtral(), Qwen3VL(), UITARS15(), OpenCUA(),
)}
_PROPOSE_ORDER = ("ui-tars-1.5", "opencua", "qwen3-vl", "qwen2.5-vl", "qwen2-vl", "qwen-vl", "internvl2.5", "pixtral")


class UnknownFamily(ValueError):
    """A --model-family that is not one of FAMILIES."""


def get_family(name: str) -> ModelFamily:
    try:
        return FAMILIES[name]
    except KeyError:
        raise UnknownFamily(f"unknown model family {name!r} (one of {', '.join(FAMILIES)})") from None


def propose_family(model_id: str, config: dict[str, Any] | None = None) -> ModelFamily | None:
    """The family a served model most likely belongs to: by its id first, then its config's architecture."""
    lowered = model_id.lower()
    for name in _PROPOSE_ORDER:
        if any(re.search(p, lowered) for p in FAMILIES[name].ids):
            return FAMILIES[name]
    config = config or {}
    archs = [*config.get("architectures", []), str(config.get("model_type", ""))]
    for name in _PROPOSE_ORDER:
        if any(re.search(p, a) for p in FAMILIES[name].architectures for a in archs if a):
            return FAMILIES[name]
    return None


__all__ = ["DEFAULT_FAMILY", "FAMILIES", "ModelFamily", "UnknownFamily", "VideoMode", "get_family", "propose_family"]
