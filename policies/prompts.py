"""The conversation sent to Qwen2.5-VL, in either of its trained function-call protocols.

Order for vLLM's prefix cache: what does not change between steps comes first (system prompt with
the tool, the task, earlier steps as text); what changes comes last (the clip, the screenshot).
The template texts are Qwen-Agent 0.0.34's (``qwen_agent/llm/fncall_prompts/nous_fncall_prompt.py``
and ``qwen_fncall_prompt.py``); tests compare them with the installed package.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from typing import Any

from guiagent.policies.base import StepSummary
from guiagent.tools.actions import EnvKind, Vocabulary
from guiagent.tools.parsing import FN_ARGS, FN_EXIT, FN_NAME, FN_RESULT, Protocol
from guiagent.tools.schema import TOOL_NAME, computer_use_function, nous_tool_line, qwen_tool_description

SYSTEM_PREAMBLE = "You are a helpful assistant."

NOUS_TEMPLATE = """# Tools

You may call one or more functions to assist with the user query.

You are provided with function signatures within <tools></tools> XML tags:
<tools>
{tool_descs}
</tools>

For each function call, return a json object with function name and arguments within <tool_call></tool_call> XML tags:
<tool_call>
{{"name": <function-name>, "arguments": <args-json-object>}}
</tool_call>"""

QWEN_TEMPLATE_INFO_EN = """# Tools

## You have access to the following tools:

{tool_descs}"""

QWEN_TEMPLATE_FMT_EN = f"""## When you need to call a tool, please insert the following command in your reply, which can be called zero or multiple times according to your needs:

{FN_NAME}: The tool to use, should be one of [{{tool_names}}]
{FN_ARGS}: The input of the tool
{FN_RESULT}: Tool results
{FN_EXIT}: Reply based on tool results. Images need to be rendered as ![](url)"""

QWEN_TEMPLATE_EN = QWEN_TEMPLATE_INFO_EN + "\n\n" + QWEN_TEMPLATE_FMT_EN


def system_prompt(protocol: Protocol, width: int, height: int, env: EnvKind, vocabulary: Vocabulary) -> str:
    """The system message: the preamble, then the tool (as offered in an ``env`` episode, in the
    vocabulary's own words) in the protocol's own template."""
    function = computer_use_function(width, height, env, vocabulary)
    if protocol == "tool-call":
        tools = NOUS_TEMPLATE.format(tool_descs=nous_tool_line(function))
    else:
        tools = QWEN_TEMPLATE_EN.format(tool_descs=qwen_tool_description(function), tool_names=TOOL_NAME)
    return f"{SYSTEM_PREAMBLE}\n\n{tools}"


def clock(t: float) -> str:
    """Absolute time as the prompt states it: ISO 8601, UTC, to the millisecond."""
    return dt.datetime.fromtimestamp(t, dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _result_text(step: StepSummary) -> str:
    if step.error:
        return f"Error: {step.error}"
    return "\n".join(step.results) or "ok"


MAX_ECHOED_ANSWER = 2_000
"""Most characters of an unparsed answer given back to the model in the history (the whole answer
stays in the trajectory): enough to see what was wrong, not a 64 KB answer repeated in every prompt."""


def echoed_answer(step: StepSummary) -> str:
    raw = step.raw or ""
    if len(raw) <= MAX_ECHOED_ANSWER:
        return raw
    return f"{raw[:MAX_ECHOED_ANSWER]}... [{len(raw) - MAX_ECHOED_ANSWER} more characters]"


def assistant_turn(step: StepSummary) -> str:
    if step.error or not step.model_actions:
        return echoed_answer(step)
    calls = "\n".join(format_tool_call_dict(a) for a in step.model_actions)
    return f"{step.thought}\n{calls}" if step.thought else calls


def format_tool_call_dict(arguments: dict[str, Any]) -> str:
    return f"<tool_call>\n{json.dumps({'name': TOOL_NAME, 'arguments': arguments}, ensure_ascii=False)}\n</tool_call>"


def _frr_call(step: StepSummary) -> str:
    if step.error or not step.model_actions:
        return echoed_answer(step).strip()
    calls = "\n".join(
        f"{FN_NAME}: {TOOL_NAME}\n{FN_ARGS}: {json.dumps(a, ensure_ascii=False)}" for a in step.model_actions
    )
    return f"{step.thought}\n{calls}" if step.thought else calls


def build_messages(
    protocol: Protocol,
    system: str,
    task: str,
    history: list[StepSummary],
    media: list[dict[str, Any]],
    assistant_text: Callable[[StepSummary], str] | None = None,
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """The chat messages and the extra request fields the protocol needs.

    ``media`` is the current observation's content parts (clip intro, video, screenshot intro,
    image), placed after everything that stays the same between steps. ``assistant_text`` writes an
    earlier step as the model's family answers (default: Qwen2.5-VL's tool calls).
    """
    _assistant = assistant_text or assistant_turn
    if protocol == "tool-call":
        # The trained turns (Qwen's computer-use cookbook, Qwen-Agent's NousFnCallPrompt): one user turn
        # with the task and the screen; later, the screen inside the last <tool_response>. Each turn
        # keeps its text up to where the media go, so the next step's prompt shares it byte for byte.
        if not history:
            user: list[dict[str, Any]] = [{"type": "text", "text": task}, *media]
            return [{"role": "system", "content": system}, {"role": "user", "content": user}], {}
        messages: list[dict[str, Any]] = [{"role": "system", "content": system}, {"role": "user", "content": task}]
        for step in history[:-1]:
            messages.append({"role": "assistant", "content": _assistant(step)})
            messages.append({"role": "user", "content": f"<tool_response>\n{_result_text(step)}\n</tool_response>"})
        messages.append({"role": "assistant", "content": _assistant(history[-1])})
        response = [{"type": "text", "text": f"<tool_response>\n{_result_text(history[-1])}"}, *media,
                    {"type": "text", "text": "\n</tool_response>"}]
        messages.append({"role": "user", "content": response})
        return messages, {}
    # function-result-return: one assistant turn that grows call by call, each RESULT written back into
    # it; the newest screen is the latest RESULT. The model continues after "✿RETURN✿".
    if not history:
        messages = [{"role": "system", "content": system}, {"role": "user", "content": [{"type": "text", "text": task}, *media]}]
        return messages, {"stop": FN_STOP}
    text = ""
    for i, step in enumerate(history):
        sep = f"\n{FN_EXIT}: " if i else ""
        text += f"{sep}{_frr_call(step)}\n{FN_RESULT}: "
        if i < len(history) - 1:
            text += _result_text(step)
    content = [{"type": "text", "text": text}, *media, {"type": "text", "text": f"{_result_text(history[-1])}\n{FN_EXIT}"}]
    messages = [{"role": "system", "content": system}, {"role": "user", "content": task}, {"role": "assistant", "content": content}]
    return messages, {"stop": FN_STOP, "add_generation_prompt": False, "continue_final_message": True}


FN_STOP = [FN_RESULT, FN_EXIT]
