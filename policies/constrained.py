"""Regular expressions, derived from the action models, that force well-formed answers.

Sent as vLLM structured outputs (``extra_body={"structured_outputs": {"regex": ...}}``; vLLM 0.32
ignores the old ``guided_regex``). The server is started with ``disable_any_whitespace``, so the
regex fixes the spacing, which is json.dumps's. Coordinates are bounded to the screen the model sees.
"""

from __future__ import annotations

import re

from guiagent.tools.actions import EnvKind, Vocabulary
from guiagent.tools.keys import MODIFIERS, NAMED_KEYS
from guiagent.tools.parsing import FN_ARGS, FN_NAME, Protocol
from guiagent.tools.schema import TOOL_NAME, model_actions


def int_range(low: int, high: int) -> str:
    """A regex for the decimal integers in [low, high] (0 <= low <= high), no leading zeros."""
    if low > high:
        raise ValueError("empty range")
    parts = []
    for digits in range(len(str(low)), len(str(high)) + 1):
        lo = max(low, 10 ** (digits - 1) if digits > 1 else 0)
        hi = min(high, 10**digits - 1)
        if lo <= hi:
            parts.extend(_same_length(str(lo), str(hi)))
    return "(?:" + "|".join(parts) + ")"


def _same_length(lo: str, hi: str) -> list[str]:
    if lo == hi:
        return [lo]
    if len(lo) == 1:
        return [f"[{lo}-{hi}]"]
    if lo[0] == hi[0]:
        return [lo[0] + p for p in _same_length(lo[1:], hi[1:])]
    out = [lo[0] + p for p in _same_length(lo[1:], "9" * (len(lo) - 1))]
    if int(lo[0]) + 1 <= int(hi[0]) - 1:
        out.append(f"[{int(lo[0]) + 1}-{int(hi[0]) - 1}]" + "[0-9]" * (len(lo) - 1))
    out.extend(hi[0] + p for p in _same_length("0" * (len(hi) - 1), hi[1:]))
    return out


def _field(name: str, width: int, height: int) -> str:
    point = rf"\[{int_range(0, width)}, {int_range(0, height)}\]"
    key = "|".join(re.escape(k) for k in (*MODIFIERS, *NAMED_KEYS)) + "|[a-z0-9]"
    return {
        "coordinate": point,
        "keys": rf'\["(?:{key})"(?:, "(?:{key})"){{0,2}}\]',
        "text": r'"[A-Za-z0-9 ,.]{1,24}"',
        "pixels": r"-?[1-9][0-9]{0,2}",
        "time": r"[0-9](?:\.[0-9])?",
        "status": '"(?:success|failure)"',
        "url": r'"https?://[a-z]{1,12}\.(?:com|org|net)/[a-z]{0,12}"',  # a well-formed URL, host never local
    }[name]


def arguments_regex(width: int, height: int, actions: list[str] | None = None, *, env: EnvKind,
                    vocabulary: Vocabulary) -> str:
    """The arguments object of any allowed action offered in an ``env`` episode, fields in the order the
    models dump them."""
    options = []
    offered = model_actions(env, vocabulary)
    if actions is not None and (unknown := set(actions) - {m.model_fields["action"].default for m in offered}):
        raise ValueError(f"cannot constrain to {', '.join(sorted(unknown))}: not offered in a {env} episode")
    for model in offered:
        name = model.model_fields["action"].default
        if actions is not None and name not in actions:
            continue
        fields = [f for f, info in model.model_fields.items() if f != "action" and info.is_required()]
        if name in ("left_click", "right_click", "middle_click", "double_click", "triple_click"):
            fields = ["coordinate"]  # Qwen2.5-VL always places its clicks
        body = "".join(rf', "{f}": {_field(f, width, height)}' for f in fields)
        options.append(rf'\{{"action": "{name}"{body}\}}')
    if not options:
        raise ValueError("no action left to constrain to")
    return "(?:" + "|".join(options) + ")"


def answer_regex(
    protocol: Protocol, width: int, height: int, actions: list[str] | None = None, thought: bool = True, *,
    env: EnvKind, vocabulary: Vocabulary,
) -> str:
    """A whole answer: an optional one-line thought (unless ``thought`` is False), then one call."""
    args = arguments_regex(width, height, actions, env=env, vocabulary=vocabulary)
    intro = r"(?:[A-Z][A-Za-z ,.]{0,60}\n)?" if thought else ""
    if protocol == "tool-call":
        return intro + rf'<tool_call>\n\{{"name": "{TOOL_NAME}", "arguments": {args}\}}\n</tool_call>'
    return intro + rf"{FN_NAME}: {TOOL_NAME}\n{FN_ARGS}: {args}"
